"""REST endpoints of imports (/api/imports) and exports (/api/exports): thin wrappers over
the services and selectors.

Upload: POST /api/imports as multipart/form-data, the file in the field `file`. The
upload is streamed straight into the import directory and stopped as soon as it passes
RAPPORT_IMPORT_MAX_BYTES (413), and the answer (201) comes at once with `status: "reading"`:
the task worker, never the request, reads the file (format, encoding, delimiter, header,
first rows) and guesses the mapping. Poll GET /api/imports/{id} until the status is
`pending` (header and mapping ready) or `failed` (`error` and `error_code` name the
problem: `xlsx_bomb`, `bad_encoding`, `not_tabular` …). Edit the job (PATCH; a new encoding
or delimiter makes it `reading` again), then POST /start; follow `progress` with GET; POST
/cancel stops it between two batches.
"""

import inspect

from django.http import HttpResponse, JsonResponse
from ninja import Query, Router, Status
from ninja.errors import ValidationError as SchemaError
from pydantic import ValidationError as PydanticError

from rapport.api.errors import error_body
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.imports import selectors, services
from rapport.imports.models import ImportObject
from rapport.imports.schemas import (
    AccountExportParams,
    ActivityExportParams,
    ContactExportParams,
    FieldOut,
    ImportCreateForm,
    ImportJobOut,
    ImportJobPage,
    ImportListParams,
    ImportPatchIn,
    ImportStartIn,
    LeadExportParams,
    OpportunityExportParams,
    OrderExportParams,
    RowErrorPage,
    SavedMappingIn,
    SavedMappingOut,
)
from rapport.imports.services.files import max_bytes, receive_upload, too_large_message
from rapport.imports.services.mapping import MATCH_KEYS, targets_for
from rapport.records.api import ERRORS, ErrorOut, page_response
from rapport.records.export import csv_response, export_response

router = Router(tags=["imports"])
exports_router = Router(tags=["exports"])

UPLOAD_ERRORS = {**ERRORS, 413: ErrorOut}

_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "object_type"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "object_type": {"type": "string", "enum": list(ImportObject.values)},
                        "policy": {"type": "string", "enum": ["update", "skip", "create"]},
                        "dry_run": {"type": "boolean"},
                        "encoding": {"type": "string", "maxLength": 40},
                        "mapping": {
                            "type": "string",
                            "description": "JSON object {column header: field key or null}",
                        },
                        "saved_mapping_id": {"type": "integer", "minimum": 1},
                        "start": {"type": "boolean"},
                        "strict": {"type": "boolean"},
                        "create_customers": {"type": "boolean"},
                    },
                }
            }
        },
    }
}


def _too_large() -> JsonResponse:
    return JsonResponse(
        error_body(too_large_message(max_bytes()), "file_too_large", "file"), status=413
    )


def _form(request) -> ImportCreateForm:
    data = {k: v for k, v in request.POST.items()}
    try:
        return ImportCreateForm.model_validate(data)
    except PydanticError as exc:
        raise SchemaError(
            [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        )


@router.post(
    "",
    response={201: ImportJobOut, **UPLOAD_ERRORS},
    operation_id="import_create",
    summary="Upload a CSV or XLSX file to import (multipart/form-data)",
    description=(
        'Stores the file and answers at once with `status: "reading"`: the task worker '
        "reads the header and first rows. Poll `GET /api/imports/{id}` until `status` is "
        "`pending` (headers, mapping and `preview` ready; `start=true` queues the import by "
        "itself) or `failed` (`error`/`error_code` name the problem, e.g. `xlsx_bomb`)."
    ),
    openapi_extra=_UPLOAD_SCHEMA,
)
def import_create(request):
    # Refused before anything is received: a read-only user's file is never stored.
    services.require_import_writer(request.user)
    received = receive_upload(request)
    if received is None:
        return _too_large()
    path, name = received
    try:
        form = _form(request)
        services.require_importer(request.user, form.object_type)
        saved = None
        if form.saved_mapping_id is not None:
            saved = selectors.saved_mapping_get_for_user(
                pk=form.saved_mapping_id, user=request.user
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    job = services.import_job_create(
        actor=request.user,
        object_type=form.object_type,
        path=path,
        original_name=name,
        policy=form.policy,
        dry_run=form.dry_run,
        encoding=form.encoding,
        mapping=form.mapping,
        saved_mapping=saved,
        strict=form.strict,
        create_customers=form.create_customers,
        start=form.start,
    )
    return Status(201, job)


@router.get("", response={200: ImportJobPage, **ERRORS}, operation_id="imports_list")
def imports_list(request, filters: Query[ImportListParams]):
    qs = selectors.job_list(
        user=request.user, object_type=filters.object_type, status=filters.status
    )
    page = keyset_page(
        qs,
        sort=filters.sort,
        allowed=selectors.JOB_SORTS,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get(
    "/fields/{object_type}",
    response={200: list[FieldOut], **ERRORS},
    operation_id="import_fields",
    summary="The fields a column can map to (custom fields included)",
)
def import_fields(request, object_type: ImportObject):
    keys = set(MATCH_KEYS[object_type])
    return [
        {
            "key": t.key,
            "label": t.label,
            "kind": t.kind,
            "required": t.required,
            "choices": list(t.choices),
            "match_key": t.key in keys,
        }
        for t in targets_for(object_type).values()
    ]


@router.get(
    "/mappings",
    response={200: list[SavedMappingOut], **ERRORS},
    operation_id="import_mappings_list",
)
def import_mappings_list(request, object_type: ImportObject | None = None):
    return list(selectors.saved_mappings_of(user=request.user, object_type=object_type))


@router.post(
    "/mappings", response={201: SavedMappingOut, **ERRORS}, operation_id="import_mapping_create"
)
def import_mapping_create(request, payload: SavedMappingIn):
    saved = services.saved_mapping_create(actor=request.user, **payload.dict())
    return Status(201, saved)


@router.delete(
    "/mappings/{int:pk}", response={204: None, **ERRORS}, operation_id="import_mapping_delete"
)
def import_mapping_delete(request, pk: int):
    saved = selectors.saved_mapping_get_for_user(pk=pk, user=request.user)
    services.saved_mapping_delete(saved=saved, actor=request.user)
    return Status(204, None)


@router.get("/{int:pk}", response={200: ImportJobOut, **ERRORS}, operation_id="import_get")
def import_get(request, pk: int):
    return selectors.job_get_for_user(pk=pk, user=request.user)


@router.patch(
    "/{int:pk}",
    response={200: ImportJobOut, **ERRORS},
    operation_id="import_update",
    summary="Change the mapping, options, encoding or delimiter before starting",
)
def import_update(request, pk: int, payload: PatchDict[ImportPatchIn]):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    fields = dict(payload)
    saved_id = fields.pop("saved_mapping_id", None)
    if saved_id is not None:
        fields["saved_mapping"] = selectors.saved_mapping_get_for_user(
            pk=saved_id, user=request.user
        )
    return services.import_job_update(job=job, actor=request.user, fields=fields)


@router.post(
    "/{int:pk}/start",
    response={200: ImportJobOut, **ERRORS},
    operation_id="import_start",
    summary="Queue the import (again after a dry run or a cancel)",
)
def import_start(request, pk: int, payload: ImportStartIn | None = None):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    dry_run = payload.dry_run if payload is not None else None
    services.import_job_start(job=job, actor=request.user, dry_run=dry_run)
    return selectors.job_get_for_user(pk=pk, user=request.user)


@router.post(
    "/{int:pk}/cancel",
    response={200: ImportJobOut, **ERRORS},
    operation_id="import_cancel",
    summary="Stop the import after its current batch (written batches stay)",
)
def import_cancel(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    return services.import_job_cancel(job=job, actor=request.user)


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="import_delete")
def import_delete(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    services.import_job_delete(job=job, actor=request.user)
    return Status(204, None)


@router.get(
    "/{int:pk}/errors",
    response={200: RowErrorPage, **ERRORS},
    operation_id="import_errors",
    summary="The per-row, per-column errors, in file order",
)
def import_errors(
    request, pk: int, cursor: str | None = None, limit: int = Query(50, ge=1, le=200)
):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    page = keyset_page(
        selectors.row_errors_of(job),
        sort="row_number",
        allowed={"row_number"},
        cursor=cursor,
        limit=limit,
    )
    return page_response(page)


@router.get(
    "/{int:pk}/rejected.csv",
    response={200: None, **ERRORS},
    operation_id="import_rejected_csv",
    summary="The rejected rows as CSV: the file's columns, then `row` and `reason`",
    openapi_extra={"responses": {200: {"description": "CSV", "content": {"text/csv": {}}}}},
)
def import_rejected_csv(request, pk: int):
    job = selectors.job_get_for_user(pk=pk, user=request.user)
    filename, header, rows = selectors.rejected_rows_of(job)
    return csv_response(filename, header, rows)


# ----- exports --------------------------------------------------------------------------------

_PAGING = {"cursor", "limit", "sort", "format", "tag", "cf"}


def _selector_kwargs(selector, params) -> dict:
    """The list params the selector takes, as the list endpoint passes them."""
    accepted = {
        name
        for name, p in inspect.signature(selector).parameters.items()
        if p.kind == p.KEYWORD_ONLY and name != "user"
    }
    kwargs = {k: v for k, v in params.dict().items() if k in accepted and k not in _PAGING}
    if hasattr(params, "record_filters"):
        kwargs.update(params.record_filters())
    return kwargs


def _export(request, object_type: str, selector, params, sortable: set[str]) -> HttpResponse:
    return export_response(
        object_type=object_type,
        user=request.user,
        file_format=params.format,
        sort=params.sort,
        sortable=sortable,
        **_selector_kwargs(selector, params),
    )


_FILE_RESPONSES = {
    "responses": {
        200: {
            "description": "The file (CSV streamed, or XLSX)",
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
        }
    }
}


def _route(path: str, name: str):
    return exports_router.get(
        path,
        response={200: None, **ERRORS},
        operation_id=f"export_{name}",
        summary=f"Export the {name} list (same filters as GET /api/{name}) to CSV or XLSX",
        openapi_extra=_FILE_RESPONSES,
    )


@_route("/accounts", "accounts")
def export_accounts(request, params: Query[AccountExportParams]):
    from rapport.accounts.selectors import ACCOUNT_SORTS, account_list

    return _export(request, "accounts", account_list, params, ACCOUNT_SORTS)


@_route("/contacts", "contacts")
def export_contacts(request, params: Query[ContactExportParams]):
    from rapport.accounts.selectors import CONTACT_SORTS, contact_list

    return _export(request, "contacts", contact_list, params, CONTACT_SORTS)


@_route("/leads", "leads")
def export_leads(request, params: Query[LeadExportParams]):
    from rapport.leads.selectors import LEAD_SORTS, lead_list

    return _export(request, "leads", lead_list, params, LEAD_SORTS)


@_route("/opportunities", "opportunities")
def export_opportunities(request, params: Query[OpportunityExportParams]):
    from rapport.sales.selectors import OPPORTUNITY_SORTS, opportunity_list

    return _export(request, "opportunities", opportunity_list, params, OPPORTUNITY_SORTS)


@_route("/orders", "orders")
def export_orders(request, params: Query[OrderExportParams]):
    from rapport.orders.selectors import ORDER_SORTS, order_list

    return _export(request, "orders", order_list, params, ORDER_SORTS)


@_route("/activities", "activities")
def export_activities(request, params: Query[ActivityExportParams]):
    from rapport.activities.selectors import ACTIVITY_SORTS, activity_list

    return _export(request, "activities", activity_list, params, ACTIVITY_SORTS)

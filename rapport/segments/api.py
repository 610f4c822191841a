"""REST endpoints of segments (CRUD, live count, members, static members, export) and the
lifecycle rules. Thin over services and selectors; members are always the visible ones."""

from django.http import HttpResponse
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from rapport.accounts.schemas import ContactPage
from rapport.accounts.selectors import CONTACT_SORTS, contacts_visible_to
from rapport.api.pagination import capped_count, keyset_page
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import ERRORS, ListParams, page_response
from rapport.segments import export, filters, lifecycle, selectors, services
from rapport.segments.schemas import (
    LifecycleChangeOut,
    LifecycleRulesIn,
    LifecycleRulesOut,
    SegmentCountIn,
    SegmentCountOut,
    SegmentFieldOut,
    SegmentIn,
    SegmentMembersIn,
    SegmentMembersOut,
    SegmentOut,
    SegmentPage,
    SegmentPatchIn,
)

router = Router(tags=["segments"])
lifecycle_router = Router(tags=["lifecycle"])

COUNT_CAP = 10_000


@router.get(
    "/fields", response={200: list[SegmentFieldOut], **ERRORS}, operation_id="segment_fields"
)
def segment_fields(request):
    """The fields a filter may use, with their operators and choices."""
    return [
        {
            "key": f.key,
            "label": f.label,
            "group": f.group,
            "type": f.type,
            "operators": filters.TYPE_OPERATORS[f.type],
            "choices": [list(c) for c in f.choices],
        }
        for f in filters.field_catalogue().values()
    ]


@router.get("", response={200: SegmentPage, **ERRORS}, operation_id="segments_list")
def segments_list(request, params: Query[ListParams]):
    qs = selectors.segments_for(request.user)
    sort = params.sort if params.sort.lstrip("-") in {"name", "created_at", "id"} else "name"
    page = keyset_page(
        qs,
        sort=sort,
        allowed={"name", "created_at", "id"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


@router.post("", response={201: SegmentOut, **ERRORS}, operation_id="segment_create")
def segment_create(request, payload: SegmentIn, response: HttpResponse):
    segment = services.segment_create(actor=request.user, **payload.dict())
    set_etag(response, segment.version)
    return Status(201, segment)


@router.post("/count", response={200: SegmentCountOut, **ERRORS}, operation_id="segment_count")
def segment_count(request, payload: SegmentCountIn):
    """Preview: how many contacts you may see match this filter (one query)."""
    tree = filters.validate(payload.filter)
    qs = contacts_visible_to(request.user).filter(filters.compile_filter(tree))
    count = capped_count(qs)
    capped = isinstance(count, str)
    return {"count": COUNT_CAP if capped else count, "capped": capped}


@router.get("/{int:pk}", response={200: SegmentOut, **ERRORS}, operation_id="segment_get")
def segment_get(request, pk: int, response: HttpResponse):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    set_etag(response, segment.version)
    return segment


@router.patch("/{int:pk}", response={200: SegmentOut, **ERRORS}, operation_id="segment_update")
def segment_update(request, pk: int, payload: SegmentPatchIn, response: HttpResponse):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    segment = services.segment_update(
        segment=segment,
        actor=request.user,
        expected_version=expected_version(request),
        **payload.dict(exclude_unset=True),
    )
    set_etag(response, segment.version)
    return segment


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="segment_delete")
def segment_delete(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    services.segment_delete(segment=segment, actor=request.user)
    return Status(204, None)


@router.get(
    "/{int:pk}/members", response={200: ContactPage, **ERRORS}, operation_id="segment_members"
)
def segment_members(request, pk: int, params: Query[ListParams]):
    """The members you may see, cursor-paginated like the contact list."""
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    qs = selectors.segment_members_visible(segment=segment, user=request.user)
    sort = (
        params.sort
        if params.sort.lstrip("-") in CONTACT_SORTS - {"clv", "churn_risk"}
        else "-created_at"
    )
    page = keyset_page(
        qs,
        sort=sort,
        allowed=CONTACT_SORTS - {"clv", "churn_risk"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


def _members_out(segment, changed: int) -> dict:
    segment.refresh_from_db(fields=["member_count"])
    return {"changed": changed, "member_count": segment.member_count}


@router.post(
    "/{int:pk}/members",
    response={200: SegmentMembersOut, **ERRORS},
    operation_id="segment_members_add",
)
def segment_members_add(request, pk: int, payload: SegmentMembersIn):
    """Add contacts to a static segment (contacts you may not see are skipped)."""
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    added = services.segment_members_add(
        segment=segment, contact_ids=payload.contact_ids, actor=request.user, source="api"
    )
    return _members_out(segment, added)


@router.post(
    "/{int:pk}/members/remove",
    response={200: SegmentMembersOut, **ERRORS},
    operation_id="segment_members_remove",
)
def segment_members_remove(request, pk: int, payload: SegmentMembersIn):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    removed = services.segment_members_remove(
        segment=segment, contact_ids=payload.contact_ids, actor=request.user
    )
    return _members_out(segment, removed)


@router.post(
    "/{int:pk}/members/import",
    response={200: dict[str, int], **ERRORS},
    operation_id="segment_members_import",
)
def segment_members_import(request, pk: int, file: File[UploadedFile]):
    """A file of email addresses or contact ids (one per line) into a static segment."""
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    if file.size > 5 * 1024 * 1024:
        from django.core.exceptions import ValidationError

        raise ValidationError({"file": [ValidationError("At most 5 MB", code="too_large")]})
    return services.segment_members_import(segment=segment, content=file.read(), actor=request.user)


@router.get(
    "/{int:pk}/export",
    response={200: None, **ERRORS},
    operation_id="segment_export",
    summary="Direct mail: members' addresses as CSV (format=csv) or A4 labels (format=labels)",
)
def segment_export(request, pk: int, format: str = "csv"):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    members = selectors.segment_members_visible(segment=segment, user=request.user)
    if format == "labels":
        response = HttpResponse(export.labels_pdf(members), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-labels.pdf"'
        return response
    if format != "csv":
        from django.core.exceptions import ValidationError

        raise ValidationError({"format": [ValidationError("csv or labels", code="invalid_choice")]})
    return export.addresses_csv_response(members, f"segment-{segment.pk}-addresses.csv")


@lifecycle_router.get(
    "/rules", response={200: LifecycleRulesOut, **ERRORS}, operation_id="lifecycle_rules_get"
)
def lifecycle_rules_get(request, response: HttpResponse):
    rules = lifecycle.rules_get()
    set_etag(response, rules.version)
    return rules


@lifecycle_router.patch(
    "/rules", response={200: LifecycleRulesOut, **ERRORS}, operation_id="lifecycle_rules_update"
)
def lifecycle_rules_update(request, payload: LifecycleRulesIn, response: HttpResponse):
    """Administrators tune the thresholds; stages follow at the next write or nightly pass."""
    rules = lifecycle.lifecycle_rules_update(
        actor=request.user,
        fields={k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None},
        expected_version=expected_version(request),
    )
    set_etag(response, rules.version)
    return rules


@lifecycle_router.get(
    "/contacts/{int:pk}",
    response={200: list[LifecycleChangeOut], **ERRORS},
    operation_id="lifecycle_history",
)
def lifecycle_history(request, pk: int):
    """A contact's stage changes, newest first (the contact must be visible)."""
    from rapport.accounts.selectors import contact_get_for_user

    contact = contact_get_for_user(pk=pk, user=request.user)
    return list(selectors.lifecycle_history(contact=contact)[:200])

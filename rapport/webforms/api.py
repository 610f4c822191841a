"""REST endpoints of web forms and their submissions (thin over services and selectors;
submissions are those whose contact or lead the caller may see)."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.campaigns.models import Campaign
from rapport.consent.models import ConsentPurpose
from rapport.identity.models import Team, User
from rapport.records.api import ERRORS, ListParams, page_response
from rapport.webforms import selectors, services
from rapport.webforms.schemas import (
    WebFormIn,
    WebFormOut,
    WebFormPage,
    WebFormSubmissionPage,
)
from rapport.webforms.views import public_url

router = Router(tags=["web forms"])


def _out(form) -> dict:
    data = {f: getattr(form, f) for f in WebFormOut.model_fields if hasattr(form, f)}
    data["consent_purpose_ids"] = sorted(form.consent_purposes.values_list("pk", flat=True))
    data["public_url"] = public_url(form)
    return data


def _refs(payload: dict) -> tuple[dict, list | None]:
    """Ids in the payload → objects for the service (unknown ids are field errors)."""
    data = dict(payload)
    for key, model in (
        ("assign_user_id", User),
        ("assign_team_id", Team),
        ("campaign_id", Campaign),
    ):
        if key in data:
            pk = data.pop(key)
            obj = model.objects.filter(pk=pk).first() if pk is not None else None
            if pk is not None and obj is None:
                raise ValidationError({key: ["not found"]})
            data[key.removesuffix("_id")] = obj
    if "fields" in data and data["fields"] is not None:
        data["fields"] = [dict(f) for f in data["fields"]]
    purposes = None
    if "consent_purpose_ids" in data:
        ids = data.pop("consent_purpose_ids") or []
        purposes = list(ConsentPurpose.objects.filter(pk__in=ids))
        if len(purposes) != len(set(ids)):
            raise ValidationError({"consent_purpose_ids": ["unknown consent purpose"]})
    return {
        k: v for k, v in data.items() if v is not None or k.endswith(("team", "campaign"))
    }, purposes


@router.get("", response={200: WebFormPage, **ERRORS}, operation_id="webforms_list")
def webforms_list(request, params: Query[ListParams]):
    qs = selectors.forms_for(request.user)
    sort = params.sort if params.sort.lstrip("-") in {"name", "created_at", "id"} else "name"
    page = keyset_page(
        qs,
        sort=sort,
        allowed={"name", "created_at", "id"},
        cursor=params.cursor,
        limit=params.limit,
    )
    page.items = [_out(f) for f in page.items]
    return page_response(page)


@router.post("", response={201: WebFormOut, **ERRORS}, operation_id="webform_create")
def webform_create(request, payload: WebFormIn, response: HttpResponse):
    data, purposes = _refs(payload.dict())
    if data.get("assign_user") is None:
        data["assign_user"] = request.user
    form = services.form_create(actor=request.user, data=data, purposes=purposes)
    set_etag(response, form.version)
    return Status(201, _out(form))


@router.get("/{int:pk}", response={200: WebFormOut, **ERRORS}, operation_id="webform_get")
def webform_get(request, pk: int, response: HttpResponse):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    set_etag(response, form.version)
    return _out(form)


@router.patch("/{int:pk}", response={200: WebFormOut, **ERRORS}, operation_id="webform_update")
def webform_update(request, pk: int, payload: PatchDict[WebFormIn], response: HttpResponse):
    """Change the given fields: `null` clears a text, the field list (back to the address) or
    the purposes, and answers 422 naming the field where a value is required."""
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    data, purposes = _refs(dict(payload))
    form = services.form_update(
        form=form,
        actor=request.user,
        data=data,
        purposes=purposes,
        expected_version=expected_version(request),
    )
    set_etag(response, form.version)
    return _out(form)


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="webform_delete")
def webform_delete(request, pk: int):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    services.form_delete(form=form, actor=request.user)
    return Status(204, None)


@router.get(
    "/{int:pk}/submissions",
    response={200: WebFormSubmissionPage, **ERRORS},
    operation_id="webform_submissions",
)
def webform_submissions(request, pk: int, params: Query[ListParams]):
    form = selectors.form_get_for_user(pk=pk, user=request.user)
    qs = selectors.submissions_for(form=form, user=request.user)
    page = keyset_page(
        qs,
        sort="-submitted_at",
        allowed={"submitted_at"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)

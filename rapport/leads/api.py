"""REST endpoints for leads: thin wrappers over selectors and services."""

from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.duplicates.selectors import duplicate_warning
from rapport.leads import selectors, services
from rapport.leads.schemas import (
    LeadConvertIn,
    LeadConvertOut,
    LeadIn,
    LeadListParams,
    LeadOut,
    LeadPage,
)
from rapport.records.api import (
    ERRORS,
    active_user,
    add_record_actions,
    created_answer,
    linked_record,
    list_page,
    page_response,
    split_owned,
)
from rapport.records.services import require_editable

router = Router(tags=["leads"])


@router.get("", response={200: LeadPage, **ERRORS}, operation_id="leads_list")
def leads_list(request, filters: Query[LeadListParams]):
    # Named `filters` (not `params`): errors.py strips that holder name from 422 fields.
    qs = selectors.lead_list(
        user=request.user,
        q=filters.q,
        deleted=filters.deleted,
        status=filters.status,
        source=filters.source,
        campaign=filters.campaign,
        **filters.record_filters(),
    )
    return page_response(list_page(qs, filters, selectors.LEAD_SORTS))


@router.post("", response={201: LeadOut, **ERRORS}, operation_id="lead_create")
def lead_create(request, payload: LeadIn, response: HttpResponse, check_duplicates: bool = False):
    """`?check_duplicates=true`: 409 `possible_duplicate` (nothing saved) when the lead
    looks like one you can see; POST /api/duplicates/check lists the matches."""
    data, extras = split_owned(payload.dict())
    if check_duplicates:
        duplicate_warning(user=request.user, object_type="lead", fields=data)
    lead = services.lead_create(actor=request.user, fields=data, **extras)
    lead = created_answer(selectors.lead_get_for_user, lead, request.user)
    set_etag(response, lead.version)
    return Status(201, lead)


@router.get("/{int:pk}", response={200: LeadOut, **ERRORS}, operation_id="lead_get")
def lead_get(request, pk: int, response: HttpResponse):
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    set_etag(response, lead.version)
    return lead


@router.patch("/{int:pk}", response={200: LeadOut, **ERRORS}, operation_id="lead_update")
def lead_update(request, pk: int, payload: PatchDict[LeadIn], response: HttpResponse):
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    data, extras = split_owned(dict(payload))
    services.lead_update(
        lead=lead,
        actor=request.user,
        fields=data,
        expected_version=expected_version(request),
        **extras,
    )
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    set_etag(response, lead.version)
    return lead


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="lead_delete")
def lead_delete(request, pk: int):
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    services.lead_delete(lead=lead, actor=request.user, expected_version=expected_version(request))
    return Status(204, None)


@router.post(
    "/{int:pk}/convert",
    response={200: LeadConvertOut, **ERRORS},
    operation_id="lead_convert",
    summary="Convert a lead into an account, a contact and optionally an opportunity",
)
def lead_convert(request, pk: int, payload: LeadConvertIn, response: HttpResponse):
    user = request.user
    lead = selectors.lead_get_for_user(pk=pk, user=user)
    # A reader learns they may not convert before anything about the records they named.
    require_editable(lead, user)
    opportunity = payload.opportunity.dict() if payload.opportunity is not None else None
    result = services.lead_convert(
        lead=lead,
        actor=user,
        account=linked_record(
            account_get_for_user, user, payload.account_id, "account_id", "account"
        ),
        create_account=payload.create_account,
        contact=linked_record(
            contact_get_for_user, user, payload.contact_id, "contact_id", "contact"
        ),
        create_contact=payload.create_contact,
        create_opportunity=payload.create_opportunity,
        opportunity_fields=opportunity,
        expected_version=expected_version(request),
        owner=active_user(payload.owner_id),
    )
    lead = selectors.lead_get_for_user(pk=pk, user=user)
    set_etag(response, lead.version)
    return {
        "lead": lead,
        "account_id": result["account"].pk if result["account"] else None,
        "contact_id": result["contact"].pk if result["contact"] else None,
        "opportunity_id": result["opportunity"].pk if result["opportunity"] else None,
    }


add_record_actions(router, model=selectors.Lead, out_schema=LeadOut, base_qs=selectors.lead_base)

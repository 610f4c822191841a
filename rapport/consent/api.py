"""REST endpoints of the consent ledger (/api/consent/...): purposes, recording consent,
a person's ledger and current status, the suppression list. Thin: the same selectors and
services as the pages; a person is loaded through the records' visibility (not visible →
404) and recording needs edit rights on them."""

import datetime

from django.core.exceptions import ValidationError
from ninja import Field, Query, Router, Schema, Status

from rapport.accounts.selectors import contact_get_for_user
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.consent import selectors, services
from rapport.consent.models import (
    Channel,
    ConsentAction,
    ConsentSource,
    Suppression,
    SuppressionReason,
)
from rapport.leads.selectors import lead_get_for_user
from rapport.records.api import ERRORS, page_response
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.records.visibility import can_edit

router = Router(tags=["consent"])


class ConsentPurposeOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    policy_text: str
    policy_version: str
    requires_double_opt_in: bool
    active: bool


class ConsentPurposeChange(Schema):
    """What a PATCH may change (the slug stays): through PatchDict, so `null` clears a text
    (a required one answers 422) and is refused for a flag, never reaching a NOT NULL column."""

    name: str = Field(..., max_length=100)
    description: str = Field("", max_length=300)
    policy_text: str = Field(..., max_length=20000)
    policy_version: str = Field("1", max_length=40)
    requires_double_opt_in: bool = True
    active: bool = True


class ConsentPurposeIn(ConsentPurposeChange):
    slug: str = Field(..., max_length=50)


class ConsentRecordIn(Schema):
    contact_id: int | None = Field(None, description="the person: a contact …")
    lead_id: int | None = Field(None, description="… or a lead (exactly one)")
    purpose_id: int
    channel: Channel
    action: ConsentAction = Field(..., description="opt_in or opt_out")
    source: ConsentSource = Field(
        ConsentSource.API, description="api, form, import, portal or agent (email_link is ours)"
    )
    note: str = Field("", max_length=500)
    ip_address: str | None = Field(
        None, max_length=45, description="the person's IP (e.g. the web form's visitor)"
    )
    user_agent: str | None = Field(None, max_length=500)


class ConsentRecordOut(Schema):
    id: int
    contact_id: int | None
    lead_id: int | None
    purpose_id: int
    purpose_slug: str
    channel: str
    action: str
    source: str
    occurred_at: datetime.datetime
    ip_address: str | None
    user_agent: str
    policy_version: str
    token_hash: str
    note: str
    actor_id: int | None

    @staticmethod
    def resolve_purpose_slug(obj) -> str:
        return obj.purpose.slug


class ConsentLedgerPage(Schema):
    items: list[ConsentRecordOut]
    next_cursor: str | None
    count: int | str


class ConsentStatusOut(Schema):
    purpose_id: int
    purpose_slug: str
    channel: str
    status: str = Field(..., description="opted_in, opted_out, pending or empty (never asked)")
    changed_at: datetime.datetime | None


class SuppressionIn(Schema):
    address: str = Field(..., max_length=254)
    reason: SuppressionReason = SuppressionReason.MANUAL
    note: str = Field("", max_length=500)


class SuppressionRemoveIn(Schema):
    note: str = Field(..., max_length=500)


class SuppressionOut(Schema):
    id: int
    address: str
    reason: str
    note: str
    created_at: datetime.datetime
    created_by_id: int | None
    removed_at: datetime.datetime | None
    removed_note: str


class SuppressionPage(Schema):
    items: list[SuppressionOut]
    next_cursor: str | None
    count: int | str


class LedgerParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


def _person(user, *, contact_id: int | None, lead_id: int | None):
    if bool(contact_id) == bool(lead_id):
        raise ValidationError({"contact_id": ["give exactly one of contact_id and lead_id"]})
    if contact_id:
        return contact_get_for_user(pk=contact_id, user=user)
    return lead_get_for_user(pk=lead_id, user=user)


# ----- purposes ---------------------------------------------------------------------------
@router.get(
    "/purposes", response={200: list[ConsentPurposeOut], **ERRORS}, operation_id="consent_purposes"
)
def purposes_list(request, include_retired: bool = False):
    return list(selectors.purposes(active_only=not include_retired))


@router.post(
    "/purposes",
    response={201: ConsentPurposeOut, **ERRORS},
    operation_id="consent_purpose_create",
)
def purpose_create(request, payload: ConsentPurposeIn):
    return Status(201, services.purpose_create(actor=request.user, fields=payload.dict()))


@router.patch(
    "/purposes/{pk}",
    response={200: ConsentPurposeOut, **ERRORS},
    operation_id="consent_purpose_update",
)
def purpose_update(request, pk: int, payload: PatchDict[ConsentPurposeChange]):
    purpose = selectors.purpose_get(pk=pk)
    if purpose is None:
        raise RecordNotFound("purpose not found")
    return services.purpose_update(actor=request.user, purpose=purpose, fields=payload)


# ----- the ledger -------------------------------------------------------------------------
@router.post(
    "/records", response={201: ConsentRecordOut, **ERRORS}, operation_id="consent_record_create"
)
def record_create(request, payload: ConsentRecordIn):
    """Append an opt-in or opt-out. An email opt-in for a double opt-in purpose is pending
    until the person uses the confirmation link mailed to them."""
    person = _person(request.user, contact_id=payload.contact_id, lead_id=payload.lead_id)
    if not can_edit(person, request.user):
        raise PermissionDenied("You may not change this record", code="not_editable")
    if payload.source == ConsentSource.EMAIL_LINK:
        raise ValidationError({"source": ["email_link is recorded by the signed links only"]})
    purpose = selectors.purpose_get(pk=payload.purpose_id)
    if purpose is None:
        raise ValidationError({"purpose_id": ["no such purpose"]}, code="not_found")
    if payload.action == ConsentAction.CONFIRM:
        raise ValidationError({"action": ["must be opt_in or opt_out"]})
    record = services.consent_record(
        person=person,
        channel=payload.channel,
        purpose=purpose,
        action=payload.action,
        source=payload.source,
        actor=request.user,
        ip=payload.ip_address or request.META.get("REMOTE_ADDR"),
        user_agent=payload.user_agent
        if payload.user_agent is not None
        else request.META.get("HTTP_USER_AGENT", ""),
        note=payload.note,
    )
    return Status(201, record)


def _ledger(request, person, params: LedgerParams):
    page = keyset_page(
        selectors.consent_ledger(person),
        sort="-occurred_at",
        allowed={"occurred_at"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


def _status(person) -> list[dict]:
    out = []
    for row in selectors.consent_status_matrix(person):
        for cell in row.cells:
            out.append(
                {
                    "purpose_id": row.purpose.pk,
                    "purpose_slug": row.purpose.slug,
                    "channel": cell.channel,
                    "status": cell.status,
                    "changed_at": cell.changed_at,
                }
            )
    return out


@router.get(
    "/contacts/{pk}/ledger",
    response={200: ConsentLedgerPage, **ERRORS},
    operation_id="consent_contact_ledger",
)
def contact_ledger(request, pk: int, params: Query[LedgerParams]):
    return _ledger(request, contact_get_for_user(pk=pk, user=request.user), params)


@router.get(
    "/leads/{pk}/ledger",
    response={200: ConsentLedgerPage, **ERRORS},
    operation_id="consent_lead_ledger",
)
def lead_ledger(request, pk: int, params: Query[LedgerParams]):
    return _ledger(request, lead_get_for_user(pk=pk, user=request.user), params)


@router.get(
    "/contacts/{pk}/status",
    response={200: list[ConsentStatusOut], **ERRORS},
    operation_id="consent_contact_status",
)
def contact_status(request, pk: int):
    return _status(contact_get_for_user(pk=pk, user=request.user))


@router.get(
    "/leads/{pk}/status",
    response={200: list[ConsentStatusOut], **ERRORS},
    operation_id="consent_lead_status",
)
def lead_status(request, pk: int):
    return _status(lead_get_for_user(pk=pk, user=request.user))


# ----- suppression list -------------------------------------------------------------------
@router.get(
    "/suppressions",
    response={200: SuppressionPage, **ERRORS},
    operation_id="consent_suppressions",
)
def suppressions_list(request, params: Query[LedgerParams], address: str | None = None):
    qs = selectors.active_suppressions()
    if address:
        qs = qs.filter(address=address.strip().lower())
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=params.cursor, limit=params.limit
    )
    return page_response(page)


@router.post(
    "/suppressions",
    response={201: SuppressionOut, **ERRORS},
    operation_id="consent_suppression_add",
)
def suppression_add(request, payload: SuppressionIn):
    return Status(
        201,
        services.suppression_add(
            address=payload.address,
            reason=payload.reason,
            note=payload.note,
            actor=request.user,
        ),
    )


@router.post(
    "/suppressions/{pk}/remove",
    response={200: SuppressionOut, **ERRORS},
    operation_id="consent_suppression_remove",
)
def suppression_remove(request, pk: int, payload: SuppressionRemoveIn):
    suppression = Suppression.objects.filter(pk=pk, removed_at__isnull=True).first()
    if suppression is None:
        raise RecordNotFound("suppression not found")
    return services.suppression_remove(
        suppression=suppression, note=payload.note, actor=request.user
    )

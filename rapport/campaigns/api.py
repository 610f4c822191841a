"""REST endpoints of campaigns (/api/campaigns): CRUD with the send set-up, start, pause,
resume, cancel, the A/B winner, preview, recipients ("who got it", filter by status) and the
report. Thin over services and selectors; schema names carry the Campaign prefix."""

import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.campaigns import selectors, services
from rapport.records.api import ERRORS, page_response
from rapport.records.exceptions import RecordNotFound

router = Router(tags=["campaigns"])


class CampaignVariantIn(Schema):
    label: str = Field(..., max_length=20)
    subject: str = Field("", max_length=998)
    body_text: str = ""
    body_html: str = ""


class CampaignVariantOut(Schema):
    id: int
    label: str
    subject: str
    body_text: str
    body_html: str


class CampaignSendIn(Schema):
    include_segments: list[int] | None = None
    exclude_segments: list[int] | None = None
    template_id: int | None = None
    subject: str | None = Field(None, max_length=998)
    consent_purpose_id: int | None = None
    mailbox_id: int | None = None
    from_name: str | None = Field(None, max_length=100)
    send_at: datetime.datetime | None = None
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    track_opens: bool | None = None
    track_clicks: bool | None = None
    conversion_days: int | None = Field(None, ge=1, le=365)
    ab_enabled: bool | None = None
    ab_sample_percent: int | None = Field(None, ge=2, le=100)
    ab_wait_minutes: int | None = Field(None, ge=0)
    ab_metric: Literal["open_rate", "click_rate"] | None = None
    webhook_event: bool | None = None
    variants: list[CampaignVariantIn] | None = None


class CampaignSendOut(Schema):
    include_segments: list[int]
    exclude_segments: list[int]
    template_id: int | None
    subject: str
    consent_purpose_id: int | None
    mailbox_id: int | None
    from_name: str
    send_at: datetime.datetime | None
    rate_per_minute: int
    track_opens: bool
    track_clicks: bool
    conversion_days: int
    ab_enabled: bool
    ab_sample_percent: int
    ab_wait_minutes: int
    ab_metric: str
    ab_decide_at: datetime.datetime | None
    winner_id: int | None
    winner_chosen_by: str
    webhook_event: bool
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    audience_count: int
    excluded_count: int
    variants: list[CampaignVariantOut]


class CampaignChange(Schema):
    """What a PATCH may change (the kind stays): through PatchDict, so `null` clears the
    description, the utm_campaign or a date, leaves the send settings as they are, and answers
    422 naming the field for the name, the cost and the currency."""

    name: str = Field(..., max_length=200)
    description: str = ""
    utm_campaign: str | None = Field(None, max_length=100)
    cost: Decimal = Field(Decimal(0), ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(..., min_length=3, max_length=3)
    starts_on: datetime.date | None = None
    ends_on: datetime.date | None = None
    send: CampaignSendIn | None = None


class CampaignIn(CampaignChange):
    kind: Literal["email", "direct_mail", "sms", "web", "social", "ads", "event", "other"] = "email"
    cost: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(None, max_length=3)


class CampaignOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    status: str
    utm_campaign: str | None
    cost: Decimal
    currency: str
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    owner_id: int | None
    created_by_id: int | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    send: CampaignSendOut | None = None


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None
    count: int | str


class CampaignRecipientOut(Schema):
    id: int
    contact_id: int | None
    email: str
    phone: str
    state: str
    status: str
    excluded_reason: str
    variant_id: int | None
    message_id: int | None
    queued_at: datetime.datetime | None
    opened_at: datetime.datetime | None
    open_count: int
    clicked_at: datetime.datetime | None
    click_count: int


class CampaignRecipientPage(Schema):
    items: list[CampaignRecipientOut]
    next_cursor: str | None
    count: int | str


class CampaignRecipientParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    status: Literal[
        "",
        "excluded",
        "held",
        "pending",
        "queued",
        "sent",
        "failed",
        "cancelled",
        "exported",
        "opened",
        "clicked",
    ] = ""


class CampaignVariantStatOut(Schema):
    id: int
    label: str
    recipients: int
    opened: int
    clicked: int
    open_rate: float
    click_rate: float


class CampaignDayOut(Schema):
    day: datetime.date
    opened: int
    clicked: int


class CampaignReportOut(Schema):
    audience: int
    excluded: int
    pending: int
    queued: int
    sent: int
    delivered: int
    failed: int
    bounced: int
    exported: int
    opened: int
    clicked: int
    unsubscribed: int
    converted: int
    conversion_days: int
    delivery_rate: float
    open_rate: float
    click_rate: float
    click_to_open_rate: float
    unsubscribe_rate: float
    conversion_rate: float
    daily: list[CampaignDayOut]
    variants: list[CampaignVariantStatOut]
    winner_id: int | None


class CampaignWinnerIn(Schema):
    variant_id: int


class CampaignPreviewOut(Schema):
    subject: str
    text: str
    html: str
    error: str


def _out(campaign) -> dict:
    send = services.send_settings(campaign)
    data = {f: getattr(campaign, f) for f in CampaignOut.model_fields if f != "send"}
    data["send"] = {
        **{
            f: getattr(send, f)
            for f in CampaignSendOut.model_fields
            if f not in ("include_segments", "exclude_segments", "variants")
        },
        "include_segments": list(send.include_segments.values_list("pk", flat=True)),
        "exclude_segments": list(send.exclude_segments.values_list("pk", flat=True)),
        "variants": list(campaign.variants.all()),
    }
    return data


def _split(data: dict) -> tuple[dict, dict]:
    data = dict(data)
    send = data.pop("send", None) or {}
    if data.get("cost") is None:
        data.pop("cost", None)
    if data.get("currency") is None:
        data.pop("currency", None)
    return data, send


def _get(request, pk: int):
    return selectors.campaign_get_for_user(pk=pk, user=request.user)


@router.get("", response={200: CampaignPage, **ERRORS}, operation_id="campaigns_list")
def campaigns_list(request, cursor: str | None = None, limit: int = 50):
    page = keyset_page(
        selectors.campaigns_for(request.user),
        sort="-created_at",
        allowed={"created_at"},
        cursor=cursor,
        limit=limit,
    )
    page.items = [_out(c) for c in page.items]
    return page_response(page)


@router.post("", response={201: CampaignOut, **ERRORS}, operation_id="campaign_create")
def campaign_create(request, payload: CampaignIn, response: HttpResponse):
    fields, send = _split(payload.dict(exclude_unset=True))
    campaign = services.campaign_create(actor=request.user, fields=fields, send=send)
    set_etag(response, campaign.version)
    return Status(201, _out(campaign))


@router.get("/{int:pk}", response={200: CampaignOut, **ERRORS}, operation_id="campaign_get")
def campaign_get(request, pk: int, response: HttpResponse):
    campaign = _get(request, pk)
    set_etag(response, campaign.version)
    return _out(campaign)


@router.patch("/{int:pk}", response={200: CampaignOut, **ERRORS}, operation_id="campaign_update")
def campaign_update(request, pk: int, payload: PatchDict[CampaignChange], response: HttpResponse):
    fields, send = _split(payload)
    campaign = services.campaign_update(
        campaign=_get(request, pk),
        actor=request.user,
        fields=fields,
        send=send,
        expected_version=expected_version(request),
    )
    set_etag(response, campaign.version)
    return _out(campaign)


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="campaign_delete")
def campaign_delete(request, pk: int):
    services.campaign_delete(campaign=_get(request, pk), actor=request.user)
    return Status(204, None)


def _transition(request, pk: int, fn, response: HttpResponse, **kwargs):
    campaign = fn(campaign=_get(request, pk), actor=request.user, **kwargs)
    set_etag(response, campaign.version)
    return _out(campaign)


@router.post(
    "/{int:pk}/start", response={200: CampaignOut, **ERRORS}, operation_id="campaign_start"
)
def campaign_start(request, pk: int, response: HttpResponse):
    """Snapshot the audience (consent-gated) and send from `send_at` (now when empty)."""
    return _transition(request, pk, services.campaign_start, response)


@router.post(
    "/{int:pk}/pause", response={200: CampaignOut, **ERRORS}, operation_id="campaign_pause"
)
def campaign_pause(request, pk: int, response: HttpResponse):
    return _transition(request, pk, services.campaign_pause, response)


@router.post(
    "/{int:pk}/resume", response={200: CampaignOut, **ERRORS}, operation_id="campaign_resume"
)
def campaign_resume(request, pk: int, response: HttpResponse):
    return _transition(request, pk, services.campaign_resume, response)


@router.post(
    "/{int:pk}/cancel", response={200: CampaignOut, **ERRORS}, operation_id="campaign_cancel"
)
def campaign_cancel(request, pk: int, response: HttpResponse):
    return _transition(request, pk, services.campaign_cancel, response)


@router.post(
    "/{int:pk}/winner", response={200: CampaignOut, **ERRORS}, operation_id="campaign_winner"
)
def campaign_winner(request, pk: int, payload: CampaignWinnerIn, response: HttpResponse):
    """A/B manual override: send this variant to the rest now."""
    return _transition(
        request, pk, services.ab_choose_winner, response, variant_id=payload.variant_id
    )


@router.get(
    "/{int:pk}/recipients",
    response={200: CampaignRecipientPage, **ERRORS},
    operation_id="campaign_recipients",
)
def campaign_recipients(request, pk: int, params: Query[CampaignRecipientParams]):
    """Who got it: recipients whose contact you may see, filtered by status."""
    campaign = _get(request, pk)
    qs = selectors.recipients_visible(campaign=campaign, user=request.user, status=params.status)
    page = keyset_page(qs, sort="id", allowed={"id"}, cursor=params.cursor, limit=params.limit)
    return page_response(page)


@router.get(
    "/{int:pk}/report", response={200: CampaignReportOut, **ERRORS}, operation_id="campaign_report"
)
def campaign_report(request, pk: int):
    return selectors.report(_get(request, pk))


@router.get(
    "/{int:pk}/preview",
    response={200: CampaignPreviewOut, **ERRORS},
    operation_id="campaign_preview",
)
def campaign_preview(request, pk: int, contact_id: int, variant_id: int | None = None):
    """The message this contact would get (links shown untracked)."""
    from rapport.accounts.selectors import contact_get_for_user

    campaign = _get(request, pk)
    contact = contact_get_for_user(pk=contact_id, user=request.user)
    variant = None
    if variant_id is not None:
        variant = campaign.variants.filter(pk=variant_id).first()
        if variant is None:
            raise RecordNotFound("variant")
    return services.preview(campaign, contact, variant)

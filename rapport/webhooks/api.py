"""REST endpoints for webhooks (administrators only): outbound subscriptions, their
deliveries (log, resend, test), allow-listed networks, inbound sources and their event log.

Secrets (a subscription's signing secret, an inbound source's URL token and signing secret)
are returned once, by the call that makes them (create, rotate); never by a read.
"""

import datetime

from django.core.exceptions import ValidationError
from ninja import Field, Query, Router, Schema, Status

from rapport.accounts.models import Contact
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.identity.models import User
from rapport.records.api import ERRORS, page_response
from rapport.records.exceptions import RecordNotFound
from rapport.webhooks import inbound, selectors, services
from rapport.webhooks.models import DeliveryState, InboundKind, InboundOutcome

router = Router(tags=["webhooks"])


# ----- schemas ----------------------------------------------------------------------------


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    event_types: list[str]
    is_active: bool
    secret_hint: str = Field(..., description="the start of the secret, to tell them apart")
    consecutive_failures: int
    failing_since: datetime.datetime | None
    last_success_at: datetime.datetime | None
    disabled_at: datetime.datetime | None
    disabled_reason: str
    created_at: datetime.datetime


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(..., description="whsec_… signing secret; shown only once")


class SecretOut(Schema):
    secret: str = Field(..., description="the new signing secret; shown only once")


class SubscriptionIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    url: str = Field(..., min_length=1, max_length=2000)
    event_types: list[str] = Field(
        ..., min_length=1, max_length=100, description='e.g. ["contact.created", "deal.*"]'
    )
    is_active: bool = True


class SubscriptionPatchIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    url: str = Field(..., min_length=1, max_length=2000)
    event_types: list[str] = Field(..., min_length=1, max_length=100)
    is_active: bool = Field(..., description="true re-activates an automatically disabled one")


class AttemptOut(Schema):
    number: int
    started_at: datetime.datetime
    duration_ms: int
    status_code: int | None
    ok: bool
    error: str
    response_excerpt: str


class WebhookDeliveryOut(Schema):
    id: int
    subscription_id: int | None
    url: str = Field(..., description="where it goes")
    event_type: str
    event_id: str
    message_id: str = Field(..., description="the webhook-id header")
    is_test: bool
    state: str
    attempts: int
    next_try_at: datetime.datetime | None
    last_status: int | None
    last_error: str
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None

    @staticmethod
    def resolve_url(obj) -> str:
        return obj.target_url


class DeliveryDetailOut(WebhookDeliveryOut):
    body: str
    log: list[AttemptOut]

    @staticmethod
    def resolve_log(obj) -> list:
        return list(selectors.delivery_log(obj))


class DeliveryPage(Schema):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None
    count: int | str


class DeliveryListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    subscription_id: int | None = None
    state: DeliveryState | None = None
    event_id: str | None = Field(None, max_length=200)


class NetworkIn(Schema):
    network: str = Field(..., min_length=1, max_length=50, description="CIDR or address")
    note: str = Field("", max_length=200)


class NetworkOut(Schema):
    id: int
    network: str
    note: str
    created_at: datetime.datetime


class SourceOut(Schema):
    id: int
    name: str
    kind: InboundKind
    user_id: int
    external_id_field: str
    is_active: bool
    verify_signature: bool
    token_prefix: str = Field(..., description="the start of the URL token")
    created_at: datetime.datetime

    @staticmethod
    def resolve_verify_signature(obj) -> bool:
        return bool(obj.signing_secret)


class SourceSecretsOut(Schema):
    url: str = Field(..., description="POST events here; shown only once")
    token: str
    signing_secret: str = Field("", description="whsec_… when signatures are checked")


class SourceCreatedOut(SourceOut):
    secrets: SourceSecretsOut


class SourceIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    kind: InboundKind
    user_id: int = Field(..., description="the user the activities and orders are written as")
    external_id_field: str = Field("", max_length=60, description="a contact custom field key")
    verify_signature: bool = Field(False, description="also check Standard Webhooks signatures")


class SourcePatchIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    user_id: int
    external_id_field: str = Field(..., max_length=60)
    is_active: bool
    verify_signature: bool


class EventOut(Schema):
    id: int
    source_id: int
    event_id: str
    received_at: datetime.datetime
    attempts: int
    outcome: InboundOutcome
    detail: str
    matched_by: str
    contact_id: int | None
    activity_id: int | None
    order_id: int | None
    payload: dict


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None
    count: int | str


class EventListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    source_id: int | None = None
    outcome: InboundOutcome | None = None


class AssignIn(Schema):
    contact_id: int


# ----- subscriptions ----------------------------------------------------------------------


@router.get("/subscriptions", response=list[SubscriptionOut], operation_id="webhook_subs_list")
def subscriptions_list(request):
    return list(selectors.subscriptions_for(request.user))


@router.post(
    "/subscriptions",
    response={201: SubscriptionCreatedOut, **ERRORS},
    operation_id="webhook_sub_create",
    summary="Subscribe a URL to event types; the secret is in this answer only",
)
def subscription_create(request, payload: SubscriptionIn):
    selectors.require_webhook_admin(request.user)
    sub, secret = services.subscription_create(actor=request.user, **payload.dict())
    return Status(201, {**SubscriptionOut.from_orm(sub).dict(), "secret": secret})


@router.get(
    "/subscriptions/{int:pk}",
    response={200: SubscriptionOut, **ERRORS},
    operation_id="webhook_sub_get",
)
def subscription_get(request, pk: int):
    return selectors.subscription_get(user=request.user, pk=pk)


@router.patch(
    "/subscriptions/{int:pk}",
    response={200: SubscriptionOut, **ERRORS},
    operation_id="webhook_sub_update",
)
def subscription_update(request, pk: int, payload: PatchDict[SubscriptionPatchIn]):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    return services.subscription_update(actor=request.user, subscription=sub, fields=dict(payload))


@router.delete(
    "/subscriptions/{int:pk}", response={204: None, **ERRORS}, operation_id="webhook_sub_delete"
)
def subscription_delete(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    services.subscription_delete(actor=request.user, subscription=sub)
    return Status(204, None)


@router.post(
    "/subscriptions/{int:pk}/rotate-secret",
    response={200: SecretOut, **ERRORS},
    operation_id="webhook_sub_rotate",
    summary="A new secret (the old one also signs for 24 hours)",
)
def subscription_rotate(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    return {"secret": services.subscription_rotate_secret(actor=request.user, subscription=sub)}


@router.post(
    "/subscriptions/{int:pk}/test",
    response={202: WebhookDeliveryOut, **ERRORS},
    operation_id="webhook_sub_test",
    summary="Queue a webhook.test delivery (also to a disabled subscription)",
)
def subscription_test(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    return Status(202, services.subscription_send_test(actor=request.user, subscription=sub))


# ----- deliveries -------------------------------------------------------------------------


@router.get("/deliveries", response={200: DeliveryPage, **ERRORS}, operation_id="webhook_dels")
def deliveries_list(request, filters: Query[DeliveryListParams]):
    qs = selectors.deliveries_for(request.user)
    if filters.subscription_id is not None:
        qs = qs.filter(subscription_id=filters.subscription_id)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.event_id:
        qs = qs.filter(event_id=filters.event_id)
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=filters.cursor, limit=filters.limit
    )
    return page_response(page)


@router.get(
    "/deliveries/{int:pk}",
    response={200: DeliveryDetailOut, **ERRORS},
    operation_id="webhook_del_get",
    summary="A delivery with its body and every try (status, time, response excerpt)",
)
def delivery_get(request, pk: int):
    return selectors.delivery_get(user=request.user, pk=pk)


@router.post(
    "/deliveries/{int:pk}/resend",
    response={202: WebhookDeliveryOut, **ERRORS},
    operation_id="webhook_del_resend",
    summary="Send again now, with the same webhook-id and body",
)
def delivery_resend(request, pk: int):
    delivery = selectors.delivery_get(user=request.user, pk=pk)
    return Status(202, services.delivery_resend(actor=request.user, delivery=delivery))


# ----- allow-listed networks ----------------------------------------------------------------


@router.get("/allowed-networks", response=list[NetworkOut], operation_id="webhook_nets_list")
def networks_list(request):
    return list(selectors.allowed_networks_for(request.user))


@router.post(
    "/allowed-networks", response={201: NetworkOut, **ERRORS}, operation_id="webhook_net_add"
)
def network_add(request, payload: NetworkIn):
    selectors.require_webhook_admin(request.user)
    return Status(
        201,
        services.allowed_network_add(
            actor=request.user, network=payload.network, note=payload.note
        ),
    )


@router.delete(
    "/allowed-networks/{int:pk}", response={204: None, **ERRORS}, operation_id="webhook_net_del"
)
def network_remove(request, pk: int):
    network = selectors.allowed_networks_for(request.user).filter(pk=pk).first()
    if network is None:
        raise RecordNotFound("allowed network")
    services.allowed_network_remove(actor=request.user, network=network)
    return Status(204, None)


# ----- inbound ----------------------------------------------------------------------------


def _user(pk: int) -> User:
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationError(
            {"user_id": [ValidationError("No active user with this id", code="invalid_user")]}
        )
    return user


def _secrets_out(request, source, shown: inbound.SourceSecrets) -> dict:
    from django.urls import reverse

    url = request.build_absolute_uri(reverse("inbound_hook", args=[shown.token]))
    return {"url": url, "token": shown.token, "signing_secret": shown.signing_secret}


@router.get("/inbound/sources", response=list[SourceOut], operation_id="inbound_sources_list")
def sources_list(request):
    return list(selectors.inbound_sources_for(request.user))


@router.post(
    "/inbound/sources",
    response={201: SourceCreatedOut, **ERRORS},
    operation_id="inbound_source_create",
    summary="A source with its secret URL (and signing secret); shown in this answer only",
)
def source_create(request, payload: SourceIn):
    selectors.require_webhook_admin(request.user)
    source, shown = inbound.inbound_source_create(
        actor=request.user,
        name=payload.name,
        kind=payload.kind,
        user=_user(payload.user_id),
        external_id_field=payload.external_id_field,
        verify_signature=payload.verify_signature,
    )
    source.secrets = _secrets_out(request, source, shown)
    return Status(201, source)


@router.get(
    "/inbound/sources/{int:pk}", response={200: SourceOut, **ERRORS}, operation_id="inbound_src"
)
def source_get(request, pk: int):
    return selectors.inbound_source_get(user=request.user, pk=pk)


@router.patch(
    "/inbound/sources/{int:pk}",
    response={200: SourceOut, **ERRORS},
    operation_id="inbound_source_update",
    summary="Change a source (turning verify_signature on makes a secret: see rotate)",
)
def source_update(request, pk: int, payload: PatchDict[SourcePatchIn]):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    fields = dict(payload)
    if "user_id" in fields:
        fields["user"] = _user(fields.pop("user_id"))
    source, _ = inbound.inbound_source_update(actor=request.user, source=source, fields=fields)
    return source


@router.post(
    "/inbound/sources/{int:pk}/rotate",
    response={200: SourceSecretsOut, **ERRORS},
    operation_id="inbound_source_rotate",
    summary="A new secret URL (the old one stops at once) and signing secret",
)
def source_rotate(request, pk: int):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    shown = inbound.inbound_source_rotate(actor=request.user, source=source)
    return _secrets_out(request, source, shown)


@router.delete(
    "/inbound/sources/{int:pk}", response={204: None, **ERRORS}, operation_id="inbound_src_del"
)
def source_delete(request, pk: int):
    source = selectors.inbound_source_get(user=request.user, pk=pk)
    inbound.inbound_source_delete(actor=request.user, source=source)
    return Status(204, None)


@router.get("/inbound/events", response={200: EventPage, **ERRORS}, operation_id="inbound_events")
def events_list(request, filters: Query[EventListParams]):
    qs = selectors.inbound_events_for(request.user)
    if filters.source_id is not None:
        qs = qs.filter(source_id=filters.source_id)
    if filters.outcome:
        qs = qs.filter(outcome=filters.outcome)
    page = keyset_page(
        qs, sort="-received_at", allowed={"received_at"}, cursor=filters.cursor, limit=filters.limit
    )
    return page_response(page)


@router.post(
    "/inbound/events/{int:pk}/assign",
    response={200: EventOut, **ERRORS},
    operation_id="inbound_event_assign",
    summary="Record an unmatched event on the contact you choose",
)
def event_assign(request, pk: int, payload: AssignIn):
    event = selectors.inbound_events_for(request.user).filter(pk=pk).first()
    if event is None:
        raise RecordNotFound("inbound event")
    contact = Contact.objects.filter(pk=payload.contact_id).first()
    if contact is None:
        raise ValidationError(
            {"contact_id": [ValidationError("No such contact", code="invalid_contact")]}
        )
    return inbound.inbound_event_assign(actor=request.user, event=event, contact=contact)

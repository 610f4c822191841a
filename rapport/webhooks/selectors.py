"""Reads for webhooks: configuration for administrators (and managers, read-only)."""

from django.db.models import QuerySet

from rapport.identity.models import User
from rapport.identity.services import can_view_settings
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.webhooks.models import (
    AllowedNetwork,
    DeliveryAttempt,
    InboundEvent,
    InboundSource,
    WebhookDelivery,
    WebhookSubscription,
)


def require_webhook_admin(user: User) -> None:
    """Webhooks carry secrets and reach other systems: administrators only."""
    if not user.is_admin:
        raise PermissionDenied("Only administrators may see and change webhooks", code="admin_only")


def subscriptions_for(user: User) -> QuerySet[WebhookSubscription]:
    require_webhook_admin(user)
    return WebhookSubscription.objects.all()


def subscription_get(*, user: User, pk: int) -> WebhookSubscription:
    found = subscriptions_for(user).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound("webhook subscription")
    return found


def deliveries_for(user: User, *, subscription: WebhookSubscription | None = None):
    require_webhook_admin(user)
    qs = WebhookDelivery.objects.select_related("subscription")
    return qs.filter(subscription=subscription) if subscription is not None else qs


def delivery_get(*, user: User, pk: int) -> WebhookDelivery:
    found = deliveries_for(user).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound("webhook delivery")
    return found


def delivery_log(delivery: WebhookDelivery) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(delivery=delivery)


def allowed_networks_for(user: User) -> QuerySet[AllowedNetwork]:
    require_webhook_admin(user)
    return AllowedNetwork.objects.all()


def inbound_sources_for(user: User) -> QuerySet[InboundSource]:
    require_webhook_admin(user)
    return InboundSource.objects.select_related("user")


def inbound_source_get(*, user: User, pk: int) -> InboundSource:
    found = inbound_sources_for(user).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound("inbound source")
    return found


def inbound_events_for(user: User, *, source: InboundSource | None = None):
    require_webhook_admin(user)
    qs = InboundEvent.objects.select_related("source", "contact")
    return qs.filter(source=source) if source is not None else qs


def can_manage_webhooks(user: User) -> bool:
    return user.is_admin and can_view_settings(user)

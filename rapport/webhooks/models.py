"""Outbound webhook subscriptions and their delivery outbox; inbound webhook sources and the
log of what they sent; networks an administrator allowed the outbound client to reach."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AllowedNetwork(models.Model):
    """A network the outbound client may reach although it is not public (an intranet
    receiver). Cloud metadata addresses stay refused."""

    network = models.CharField(max_length=50, unique=True, help_text="CIDR, e.g. 10.20.0.0/16")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network"]

    def __str__(self) -> str:
        return self.network


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=120)
    url = models.CharField(max_length=2000)
    # Event types ("contact.created"), "contact.*" for a family, "*" for everything.
    event_types = models.JSONField(default=list)
    secret = models.CharField(max_length=100)  # whsec_<base64>, shown once
    # After a rotation the old secret also signs for a while, so receivers can switch over.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…" if self.secret else ""


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One message to one receiver: the outbox row. Written in the business transaction,
    claimed and sent by the worker; `message_id` (the webhook-id header) never changes, so a
    re-send after a crash or a manual resend is recognisable by the receiver."""

    subscription = models.ForeignKey(
        WebhookSubscription,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # For calls without a subscription (the automation engine's action): where and how.
    url = models.CharField(max_length=2000, blank=True)
    secret = models.CharField(max_length=100, blank=True)
    event_type = models.CharField(max_length=100)
    event_id = models.CharField(max_length=200)
    # "sub:<id>:<event_id>", "call:<idempotency_key>" or "test:<uuid>": one row per key.
    dedupe_key = models.CharField(max_length=300, unique=True)
    message_id = models.CharField(max_length=64, unique=True)
    body = models.TextField()  # the exact bytes sent (UTF-8), fixed at creation
    is_test = models.BooleanField(default=False)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_try_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["subscription", "-created_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.target_url}"

    @property
    def target_url(self) -> str:
        return self.subscription.url if self.subscription_id else self.url


class DeliveryAttempt(models.Model):
    """The delivery log: one row per try, with what the receiver answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    address = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["delivery", "-started_at"])]


class InboundKind(models.TextChoices):
    TELEPHONY_CALL = "telephony_call", "Telephony: call event"
    CHAT_TRANSCRIPT = "chat_transcript", "Chat transcript"
    POS_SALE = "pos_sale", "Point of sale: sale"


class InboundSource(models.Model):
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=InboundKind.choices)
    # The secret URL token: only its SHA-256 is stored (shown once, rotatable).
    token_digest = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    # Optional Standard Webhooks signature check (whsec_…), on top of the URL token.
    signing_secret = models.CharField(max_length=100, blank=True)
    # Interactions are written as this user; it must be allowed to change the contacts.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # A contact custom field holding the other system's customer id (for external_id matching).
    external_id_field = models.CharField(max_length=60, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def source_key(self) -> str:
        """The `source` of the activities and orders it writes (their external ids are
        unique per source)."""
        return f"inbound:{self.pk}"


class InboundOutcome(models.TextChoices):
    CREATED = "created", "Recorded"
    UNMATCHED = "unmatched", "Unmatched (for review)"
    INVALID = "invalid", "Invalid payload"
    FAILED = "failed", "Could not be recorded"


class InboundEvent(models.Model):
    source = models.ForeignKey(InboundSource, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    outcome = models.CharField(max_length=10, choices=InboundOutcome.choices)
    detail = models.TextField(blank=True)
    matched_by = models.CharField(max_length=20, blank=True)
    payload = models.JSONField()
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inbound_event_once"),
        ]
        indexes = [models.Index(fields=["source", "-received_at", "-id"])]

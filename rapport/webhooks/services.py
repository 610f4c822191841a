"""Writes for outbound webhooks: subscriptions, the delivery outbox and its worker pass,
allow-listed networks.

Entry points for other apps (the automation engine):
- `publish(event_type, payload, event_id=, occurred_at=)`: one delivery per active
  subscription of that event type, in the caller's transaction, idempotent per
  (subscription, event_id);
- `call_webhook(url, payload, idempotency_key=, secret=)`: one delivery to a URL, idempotent
  per key.
The worker (`deliver_due`) claims due rows, signs and sends them through `http.post`, and logs
every try.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import random
import re
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from rapport.identity.models import User
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import Conflict
from rapport.webhooks import http
from rapport.webhooks.models import (
    AllowedNetwork,
    DeliveryAttempt,
    DeliveryState,
    WebhookDelivery,
    WebhookSubscription,
)

# After the first try fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 10 h (about 37.6 h in
# all, 9 tries), each ±10 % so receivers that came back are not hit by every sender at once.
RETRY_DELAYS = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]
JITTER = 0.1
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
EXCERPT_CHARS = 2000
SECRET_GRACE = datetime.timedelta(hours=24)
TEST_EVENT = "webhook.test"
DELIVERY_RETENTION_DAYS = 30
_EVENT_TYPE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$")


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_url(url: str, field: str = "url") -> str:
    url = (url or "").strip()
    try:
        http.check_url(url)
    except http.RefusedURL as exc:
        raise _field_error(field, str(exc), exc.code)
    return url


def _check_event_types(event_types: list[str]) -> list[str]:
    clean = []
    for i, event_type in enumerate(event_types or []):
        event_type = str(event_type).strip()
        if not _EVENT_TYPE.match(event_type) or len(event_type) > 100:
            raise _field_error(
                f"event_types[{i}]",
                "An event type looks like contact.created, contact.* or *",
                "invalid_event_type",
            )
        if event_type not in clean:
            clean.append(event_type)
    if not clean:
        raise _field_error("event_types", "Choose at least one event type", "required")
    return clean


def _matches(patterns: list[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


# ----- subscriptions ----------------------------------------------------------------------


def subscription_create(
    *, actor: User, name: str, url: str, event_types: list[str], is_active: bool = True
) -> tuple[WebhookSubscription, str]:
    """A subscription and its secret (returned here only; shown to the user once)."""
    require_settings_admin(actor)
    name = (name or "").strip()
    if not name:
        raise _field_error("name", "Give the subscription a name", "required")
    subscription = WebhookSubscription(
        name=name[:120],
        url=_check_url(url),
        event_types=_check_event_types(event_types),
        secret=new_secret(),
        is_active=is_active,
        created_by=actor,
    )
    subscription.save()
    return subscription, subscription.secret


def subscription_update(
    *, actor: User, subscription: WebhookSubscription, fields: dict[str, Any]
) -> WebhookSubscription:
    """Change name, URL, event types or the active flag. Re-activating clears the automatic
    disabling and its failure count."""
    require_settings_admin(actor)
    changed = []
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            raise _field_error("name", "Give the subscription a name", "required")
        subscription.name = name[:120]
        changed.append("name")
    if "url" in fields:
        subscription.url = _check_url(fields["url"])
        changed.append("url")
    if "event_types" in fields:
        subscription.event_types = _check_event_types(fields["event_types"])
        changed.append("event_types")
    if "is_active" in fields and fields["is_active"] is not None:
        active = bool(fields["is_active"])
        if active and not subscription.is_active:
            subscription.consecutive_failures = 0
            subscription.failing_since = None
            subscription.disabled_at = None
            subscription.disabled_reason = ""
            changed += ["consecutive_failures", "failing_since", "disabled_at", "disabled_reason"]
        subscription.is_active = active
        changed.append("is_active")
    if changed:
        subscription.save(update_fields=[*changed, "updated_at"])
    return subscription


def subscription_rotate_secret(*, actor: User, subscription: WebhookSubscription) -> str:
    """A new secret; the old one keeps signing (as a second signature) for 24 hours."""
    require_settings_admin(actor)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = timezone.now() + SECRET_GRACE
    subscription.secret = new_secret()
    subscription.save(
        update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"]
    )
    return subscription.secret


def subscription_delete(*, actor: User, subscription: WebhookSubscription) -> None:
    """Delete it with its deliveries and their log."""
    require_settings_admin(actor)
    subscription.delete()


# ----- creating deliveries ----------------------------------------------------------------


def _body(event_type: str, payload: dict, occurred_at: datetime.datetime) -> str:
    # The Standard Webhooks payload shape: type, timestamp, data.
    return json.dumps(
        {"type": event_type, "timestamp": occurred_at.isoformat(), "data": payload},
        default=str,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def _send_soon() -> None:
    from rapport.webhooks.tasks import deliver_due_task

    deliver_due_task.enqueue()


def _kick() -> None:
    """Send new deliveries soon after their commit (the scheduler's pass is the safety net):
    one worker task per transaction, however many events it published (an import of 50,000
    contacts must not enqueue 50,000 tasks)."""
    pending = transaction.get_connection().run_on_commit
    if not any(entry[1] is _send_soon for entry in pending):
        transaction.on_commit(_send_soon)


def _insert_once(delivery: WebhookDelivery) -> tuple[WebhookDelivery, bool]:
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:
        existing = WebhookDelivery.objects.filter(dedupe_key=delivery.dedupe_key).first()
        if existing is None:
            raise
        return existing, False
    return delivery, True


def publish(
    event_type: str,
    payload: dict,
    *,
    event_id: str,
    occurred_at: datetime.datetime,
) -> list[WebhookDelivery]:
    """Queue `payload` for every active subscription of `event_type`, in the caller's
    transaction (nothing is sent if it rolls back). Idempotent per (subscription, event_id):
    publishing the same event again creates nothing and returns the existing rows."""
    if not event_id:
        raise ValueError("publish needs an event_id")
    subscriptions = [
        s
        for s in WebhookSubscription.objects.filter(is_active=True)
        if _matches(s.event_types, event_type)
    ]
    if not subscriptions:
        return []
    body = _body(event_type, payload, occurred_at)
    now = timezone.now()
    out = []
    for subscription in subscriptions:
        delivery, _ = _insert_once(
            WebhookDelivery(
                subscription=subscription,
                event_type=event_type,
                event_id=str(event_id)[:200],
                dedupe_key=f"sub:{subscription.pk}:{event_id}"[:300],
                message_id=_message_id(),
                body=body,
                next_try_at=now,
            )
        )
        out.append(delivery)
    _kick()
    return out


def call_webhook(
    url: str,
    payload: dict,
    *,
    idempotency_key: str,
    secret: str | None = None,
    event_type: str = "automation.webhook",
) -> WebhookDelivery:
    """Queue one signed POST of `payload` (as JSON, sent as given) to `url`, in the caller's
    transaction; the same `idempotency_key` gives back the same delivery. The URL is checked
    again (resolved, addresses refused) when it is sent; here only its form is checked, so a
    DNS lookup never runs inside the caller's transaction."""
    if not idempotency_key:
        raise ValueError("call_webhook needs an idempotency_key")
    url = (url or "").strip()
    if not re.match(r"^https?://[^/\s]+", url, re.IGNORECASE) or len(url) > 2000:
        raise _field_error("url", "Give an http:// or https:// URL", "invalid_url")
    if secret:
        try:
            Webhook(secret)  # refuse a malformed secret now rather than at every try
        except (ValueError, TypeError, RuntimeError, EmptyWebhookSecretError) as exc:
            raise _field_error("secret", f"Not a whsec_ secret: {exc}", "invalid_secret")
    delivery, _ = _insert_once(
        WebhookDelivery(
            url=url,
            secret=secret or "",
            event_type=event_type,
            event_id=str(idempotency_key)[:200],
            dedupe_key=f"call:{idempotency_key}"[:300],
            message_id=_message_id(),
            body=json.dumps(payload, default=str, separators=(",", ":"), ensure_ascii=False),
            next_try_at=timezone.now(),
        )
    )
    _kick()
    return delivery


def subscription_send_test(*, actor: User, subscription: WebhookSubscription) -> WebhookDelivery:
    """A `webhook.test` delivery to this subscription (also when it is disabled), sent by the
    worker like any other and shown in its log."""
    require_settings_admin(actor)
    now = timezone.now()
    token = uuid.uuid4().hex
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type=TEST_EVENT,
        event_id=f"test_{token}",
        dedupe_key=f"test:{token}",
        message_id=_message_id(),
        body=_body(TEST_EVENT, {"message": "A test from Rapport", "sent_by": actor.username}, now),
        is_test=True,
        next_try_at=now,
    )
    _kick()
    return delivery


def delivery_resend(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same webhook-id, same body): after it failed, or to replay
    one the receiver lost. Its tries start over."""
    require_settings_admin(actor)
    updated = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(state=DeliveryState.SENDING)
        .update(
            state=DeliveryState.PENDING,
            attempts=0,
            next_try_at=timezone.now(),
            lease_until=None,
        )
    )
    if not updated:
        raise Conflict("This delivery is being sent right now", code="delivery_sending")
    delivery.refresh_from_db()
    _kick()
    return delivery


# ----- the worker -------------------------------------------------------------------------


def _lease() -> datetime.timedelta:
    return datetime.timedelta(
        seconds=settings.RAPPORT_WEBHOOK_CONNECT_TIMEOUT
        + 2 * settings.RAPPORT_WEBHOOK_READ_TIMEOUT
        + 60
    )


def _due(now: datetime.datetime) -> Q:
    sendable = Q(subscription__isnull=True) | Q(subscription__is_active=True) | Q(is_test=True)
    waiting = Q(state=DeliveryState.PENDING, next_try_at__lte=now)
    # A row whose worker died between sending and marking: sent again, same webhook-id.
    abandoned = Q(state=DeliveryState.SENDING, lease_until__lte=now)
    return (waiting | abandoned) & sendable


def deliveries_claim(*, limit: int = 20, now: datetime.datetime | None = None) -> list[int]:
    """Claim up to `limit` due deliveries for this worker (state sending, a lease, one more
    attempt). PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so workers never wait on or take
    each other's rows; SQLite (one writer at a time): an atomic UPDATE per row that only
    succeeds while the row is still due."""
    now = now or timezone.now()
    lease_until = now + _lease()
    claimed: list[int] = []
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(
                WebhookDelivery.objects.filter(_due(now))
                .order_by("next_try_at", "id")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", flat=True)[:limit]
            )
            if ids:
                WebhookDelivery.objects.filter(pk__in=ids).update(
                    state=DeliveryState.SENDING, lease_until=lease_until, attempts=F("attempts") + 1
                )
            claimed = ids
        else:
            candidates = list(
                WebhookDelivery.objects.filter(_due(now))
                .order_by("next_try_at", "id")
                .values_list("pk", flat=True)[:limit]
            )
            for pk in candidates:
                if (
                    WebhookDelivery.objects.filter(_due(now), pk=pk).update(
                        state=DeliveryState.SENDING,
                        lease_until=lease_until,
                        attempts=F("attempts") + 1,
                    )
                    == 1
                ):
                    claimed.append(pk)
    return claimed


def retry_delay(attempts: int) -> datetime.timedelta | None:
    """How long to wait after the `attempts`-th failed try (None: give up), with jitter."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts - 1]
    return datetime.timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def _signing_secrets(delivery: WebhookDelivery, now: datetime.datetime) -> list[str]:
    if delivery.subscription_id:
        sub = delivery.subscription
        out = [sub.secret]
        if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
            out.append(sub.previous_secret)
        return out
    return [delivery.secret] if delivery.secret else []


def signed_headers(
    *, message_id: str, body: bytes, secrets_: list[str], at: datetime.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers (one v1 signature per secret, space-separated)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Rapport-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
    }
    if secrets_:
        headers["webhook-signature"] = " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in secrets_
        )
    return headers


def _excerpt(body: bytes) -> str:
    return body[:EXCERPT_CHARS].decode("utf-8", errors="replace").replace("\x00", "")


def delivery_send(delivery_id: int) -> WebhookDelivery | None:
    """Send one claimed delivery and record the outcome (the row must be in `sending`)."""
    delivery = (
        WebhookDelivery.objects.select_related("subscription")
        .filter(pk=delivery_id, state=DeliveryState.SENDING)
        .first()
    )
    if delivery is None:
        return None
    attempt_no = delivery.attempts
    started_at = timezone.now()
    body = delivery.body.encode()
    headers = signed_headers(
        message_id=delivery.message_id,
        body=body,
        secrets_=_signing_secrets(delivery, started_at),
        at=started_at,
    )
    status, excerpt, address, duration = None, "", "", 0
    try:
        result = http.post(delivery.target_url, body, headers=headers)
    except http.RefusedURL as exc:
        ok, error = False, str(exc)
    else:
        duration, address = result.elapsed_ms, result.address
        if isinstance(result, http.Failure):
            ok, error, status = False, result.error, result.status
        else:
            status, excerpt = result.status, _excerpt(result.body)
            ok = result.ok
            if 300 <= result.status < 400:
                error = (
                    f"Redirect to {result.location or '(no Location)'} not followed: "
                    "give the final URL"
                )
            else:
                error = ""  # the status (and the response excerpt in the log) say it
    return _record(delivery, attempt_no, started_at, ok, status, error, excerpt, address, duration)


def _record(delivery, attempt_no, started_at, ok, status, error, excerpt, address, duration):
    now = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=attempt_no,
            started_at=started_at,
            duration_ms=min(duration, 2**31 - 1),
            status_code=status,
            ok=ok,
            error=error[:2000],
            response_excerpt=excerpt,
            address=address[:64],
        )
        values: dict[str, Any] = {"last_status": status, "last_error": error[:2000]}
        if ok:
            values.update(state=DeliveryState.DELIVERED, delivered_at=now, next_try_at=None)
        else:
            delay = retry_delay(attempt_no)
            if delay is None or delivery.is_test:
                values.update(state=DeliveryState.FAILED, next_try_at=None)
            else:
                values.update(state=DeliveryState.PENDING, next_try_at=now + delay)
        # Only while this worker still holds the row (its attempt number); a row reclaimed
        # after a lost lease is marked by the worker that holds it now.
        WebhookDelivery.objects.filter(
            pk=delivery.pk, state=DeliveryState.SENDING, attempts=attempt_no
        ).update(lease_until=None, **values)
        if delivery.subscription_id and not delivery.is_test:
            _subscription_health(delivery.subscription_id, ok, now)
    delivery.refresh_from_db()
    return delivery


def _subscription_health(subscription_id: int, ok: bool, now: datetime.datetime) -> None:
    if ok:
        WebhookSubscription.objects.filter(pk=subscription_id).update(
            consecutive_failures=0, failing_since=None, last_success_at=now
        )
        return
    sub = WebhookSubscription.objects.select_for_update().get(pk=subscription_id)
    sub.consecutive_failures += 1
    sub.failing_since = sub.failing_since or now
    fields = ["consecutive_failures", "failing_since"]
    window = datetime.timedelta(hours=settings.RAPPORT_WEBHOOK_DISABLE_AFTER_HOURS)
    if (
        sub.is_active
        and sub.consecutive_failures >= settings.RAPPORT_WEBHOOK_DISABLE_MIN_FAILURES
        and now - sub.failing_since >= window
    ):
        sub.is_active = False
        sub.disabled_at = now
        sub.disabled_reason = (
            f"Disabled automatically: the last {sub.consecutive_failures} tries failed and "
            f"nothing was delivered since {sub.failing_since:%Y-%m-%d %H:%M} UTC. Fix the "
            "receiver, send a test, then activate the subscription again."
        )
        fields += ["is_active", "disabled_at", "disabled_reason"]
    sub.save(update_fields=fields)
    if "disabled_at" in fields:
        _notify_admins_disabled(sub)


def _notify_admins_disabled(sub: WebhookSubscription) -> None:
    """Every administrator hears of an automatic disabling (once per disabling)."""
    from django.db.models import Q
    from django.urls import reverse

    from rapport.identity.models import Role
    from rapport.notifications.services import notify

    admins = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
    for admin in admins:
        notify(
            admin,
            "webhook_disabled",
            title=f"Webhook “{sub.name}” was disabled after repeated failures",
            body=sub.disabled_reason,
            link=reverse("settings:webhook", args=[sub.pk]),
            dedupe_key=f"webhook-disabled:{sub.pk}:{sub.disabled_at.isoformat()}",
        )


def deliver_due(*, limit: int = 50) -> dict[str, int]:
    """One worker pass: claim due deliveries and send them, until none is due or `limit`
    were sent. Returns the counts."""
    sent = delivered = 0
    while sent < limit:
        ids = deliveries_claim(limit=min(10, limit - sent))
        if not ids:
            break
        for pk in ids:
            delivery = delivery_send(pk)
            sent += 1
            if delivery is not None and delivery.state == DeliveryState.DELIVERED:
                delivered += 1
    return {"sent": sent, "delivered": delivered}


def webhook_logs_purge(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Forget finished deliveries (with their log) after 30 days and inbound events after 90;
    waiting and unmatched ones stay until they are dealt with."""
    from rapport.webhooks.models import InboundEvent, InboundOutcome

    now = now or timezone.now()
    deliveries, _ = WebhookDelivery.objects.filter(
        state__in=[DeliveryState.DELIVERED, DeliveryState.FAILED],
        created_at__lt=now - datetime.timedelta(days=DELIVERY_RETENTION_DAYS),
    ).delete()
    events, _ = (
        InboundEvent.objects.filter(received_at__lt=now - datetime.timedelta(days=90))
        .exclude(outcome=InboundOutcome.UNMATCHED)
        .delete()
    )
    return {"deliveries": deliveries, "inbound_events": events}


# ----- allow-listed networks --------------------------------------------------------------


def allowed_network_add(*, actor: User, network: str, note: str = "") -> AllowedNetwork:
    """Let the outbound client reach a non-public network (metadata addresses stay refused)."""
    require_settings_admin(actor)
    try:
        net = ipaddress.ip_network((network or "").strip(), strict=False)
    except ValueError:
        raise _field_error(
            "network", "Give a network like 10.20.0.0/16 or an address", "invalid_network"
        )
    if net.prefixlen == 0:
        raise _field_error("network", "Allowing every address is not possible", "too_wide")
    try:
        with transaction.atomic():
            return AllowedNetwork.objects.create(
                network=str(net), note=(note or "").strip()[:200], created_by=actor
            )
    except IntegrityError:
        raise _field_error("network", "This network is already allowed", "duplicate")


def allowed_network_remove(*, actor: User, network: AllowedNetwork) -> None:
    require_settings_admin(actor)
    network.delete()

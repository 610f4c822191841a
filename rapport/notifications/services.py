"""Writes for notifications: `notify` (the one way to tell a user something), marking read,
preferences, and the email copy that waits for the recipient's working hours.

Other modules call::

    from rapport.notifications.services import notify
    notify(user, "webhook_disabled", title="…", link="/settings/webhooks/3/",
           actor=None, dedupe_key="webhook-disabled:3:<version>")

inside their own transaction: the notification (and its email copy, an outbox row) commit
or roll back with the change that caused it.
"""

import datetime
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from rapport.notifications.models import (
    EmailDelivery,
    Notification,
    NotificationKind,
    NotificationPreference,
    default_email_kinds,
    default_work_days,
)

# Valid IANA zone names (the picker's list and the API's check).
TIME_ZONES = sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")
_TIME_ZONE_SET = frozenset(TIME_ZONES)
MAX_REMINDER_MINUTES = 60 * 24 * 28


def preferences_for(user) -> NotificationPreference:
    """The user's stored preferences, or the defaults (unsaved) when they never chose."""
    found = NotificationPreference.objects.filter(user=user).first()
    if found is not None:
        return found
    return NotificationPreference(
        user=user, work_days=default_work_days(), email_kinds=default_email_kinds()
    )


def user_zone(preference: NotificationPreference) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(preference.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def email_send_at(
    preference: NotificationPreference, now: datetime.datetime
) -> datetime.datetime | None:
    """None when `now` falls in the user's working hours (send now); else the start of the
    next working window, in UTC. Days are the user's local days."""
    days = set(preference.work_days or [])
    if not days:
        return None
    zone = user_zone(preference)
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + datetime.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        start = datetime.datetime.combine(day, preference.work_start, tzinfo=zone)
        end = datetime.datetime.combine(day, preference.work_end, tzinfo=zone)
        if offset == 0 and start <= local < end:
            return None
        if local < start:
            return start.astimezone(datetime.UTC)
    return None


def _absolute(link: str) -> str:
    base = getattr(settings, "RAPPORT_BASE_URL", "").rstrip("/")
    return f"{base}{link}" if link.startswith("/") else link


def _email_copy(notification: Notification, preference: NotificationPreference, now) -> None:
    from rapport.mail.services import queue_email

    recipient = notification.recipient
    lines = [notification.title]
    if notification.body:
        lines += ["", notification.body]
    if notification.link:
        lines += ["", _absolute(notification.link)]
    lines += ["", "You get this email because of your notification settings in Rapport."]
    try:
        message = queue_email(
            to=[recipient.email],
            subject=notification.title,
            text="\n".join(lines),
            purpose="transactional",
            send_at=email_send_at(preference, now),
            from_name="Rapport",
        )
    except ValidationError:
        # A user's unusable address must not lose the in-app notification.
        return
    notification.email = message
    notification.save(update_fields=["email"])


def notify(
    recipient,
    kind: str,
    *,
    title: str,
    link: str = "",
    subject: Model | None = None,
    body: str = "",
    actor=None,
    dedupe_key: str = "",
) -> Notification | None:
    """Tell `recipient` something: an in-app notification now and, when their preferences
    ask for this kind, an email (outbox row) in their working hours. Idempotent by
    `dedupe_key` (per recipient): the same key gives back the first notification and sends
    nothing again. `subject` (a record) sets `link` to its page. Nobody is notified of
    their own action, and inactive users are not notified (both return None)."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient is None or not recipient.is_active:
        return None
    if actor is not None and getattr(actor, "pk", None) == recipient.pk:
        return None
    if subject is not None and not link:
        from rapport.web.links import record_url

        link = record_url(subject)
    dedupe_key = dedupe_key[:200]
    if dedupe_key:
        existing = Notification.objects.filter(recipient=recipient, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    now = timezone.now()
    notification = Notification(
        recipient=recipient,
        kind=kind,
        title=" ".join(title.split())[:300],
        body=body[:2000],
        link=link[:500],
        actor=actor if actor is not None and actor.is_authenticated else None,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                notification.save()
        except IntegrityError:
            # A concurrent retry wrote the same key first: theirs is the one.
            if not dedupe_key:
                raise
            return Notification.objects.get(recipient=recipient, dedupe_key=dedupe_key)
        preference = preferences_for(recipient)
        if (
            recipient.email
            and kind in (preference.email_kinds or [])
            and preference.email_delivery == EmailDelivery.IMMEDIATELY
        ):
            _email_copy(notification, preference, now)
        # hourly/daily: the digest (rapport.notifications.digest) lists it later; off: none.
    return notification


def notification_mark_read(*, notification: Notification, user) -> bool:
    """Mark one of the user's notifications read; returns whether it changed."""
    if notification.recipient_id != user.pk:
        raise ValueError("not the recipient")
    return bool(
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    )


def notifications_mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def preferences_update(*, user, changes: dict[str, Any]) -> NotificationPreference:
    """Validate and store the user's notification preferences (a partial update)."""
    allowed = {
        "time_zone",
        "work_start",
        "work_end",
        "work_days",
        "email_kinds",
        "default_reminder_minutes",
        "email_delivery",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not preference fields: {', '.join(sorted(unknown))}")
    preference = preferences_for(user)
    for name, value in changes.items():
        setattr(preference, name, value)
    if preference.time_zone and preference.time_zone not in _TIME_ZONE_SET:
        raise _field_error("time_zone", "Not a known time zone", "invalid_time_zone")
    days = preference.work_days
    if (
        not isinstance(days, list)
        or not days
        or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days)
    ):
        raise _field_error(
            "work_days", "Choose at least one working day (0 = Monday … 6 = Sunday)", "invalid"
        )
    preference.work_days = sorted(set(days))
    if preference.work_end <= preference.work_start:
        raise _field_error("work_end", "The working day must end after it starts", "invalid_range")
    kinds = preference.email_kinds
    if not isinstance(kinds, list) or any(k not in NotificationKind.values for k in kinds):
        raise _field_error("email_kinds", "Unknown notification kind", "invalid_choice")
    preference.email_kinds = sorted(set(kinds))
    if preference.email_delivery not in EmailDelivery.values:
        raise _field_error(
            "email_delivery",
            f"One of {', '.join(EmailDelivery.values)}",
            "invalid_choice",
        )
    minutes = preference.default_reminder_minutes
    if minutes is not None and not 0 <= minutes <= MAX_REMINDER_MINUTES:
        raise _field_error(
            "default_reminder_minutes",
            f"Between 0 and {MAX_REMINDER_MINUTES} minutes",
            "out_of_range",
        )
    preference.save()
    return preference


def assignment_notify(*, record: Model, new_owner, actor) -> Notification | None:
    """Tell `new_owner` that `actor` gave them `record` (nothing when they took it
    themselves). The dedupe key carries the record's version after the change, so each
    hand-over notifies once."""
    who = actor.get_full_name() or actor.username
    noun = record._meta.verbose_name
    label = str(record)
    if getattr(record, "kind", None) and hasattr(record, "get_kind_display"):
        noun = record.get_kind_display().lower()
        label = getattr(record, "subject", "") or label
    return notify(
        new_owner,
        NotificationKind.ASSIGNED_TO_YOU,
        title=f"{who} assigned {noun} {label} to you",
        subject=record,
        actor=actor,
        dedupe_key=f"assigned:{record._meta.label_lower}:{record.pk}:{getattr(record, 'version', '')}",
    )


def bulk_assignment_notify(*, records: list, new_owner, actor, link: str) -> Notification | None:
    """One notification for records a bulk action gave `new_owner` (a page of a list);
    keyed on the records and their versions after the change, so a retried request that
    changed nothing more does not repeat it."""
    import hashlib

    if not records:
        return None
    if len(records) == 1:
        return assignment_notify(record=records[0], new_owner=new_owner, actor=actor)
    who = actor.get_full_name() or actor.username
    noun = records[0]._meta.verbose_name_plural
    digest = hashlib.sha256(
        ",".join(f"{r.pk}:{getattr(r, 'version', '')}" for r in records).encode()
    ).hexdigest()[:32]
    return notify(
        new_owner,
        NotificationKind.ASSIGNED_TO_YOU,
        title=f"{who} assigned {len(records):,} {noun} to you",
        link=link,
        actor=actor,
        dedupe_key=f"assigned-bulk:{records[0]._meta.label_lower}:{digest}",
    )


def notify_many(items: list[dict[str, Any]]) -> list[Notification]:
    """`notify` for a batch (a scheduler pass): each item has the keyword arguments of
    `notify` plus `recipient`. Same rules (inactive users skipped, idempotent by dedupe key
    per recipient), in a constant number of queries plus one outbox row per email copy.
    Returns the notifications written now (not the ones a dedupe key already had)."""
    rows: list[Notification] = []
    now = timezone.now()
    seen: set[tuple[int, str]] = set()
    keys = {item.get("dedupe_key", "")[:200] for item in items} - {""}
    existing = (
        set(
            Notification.objects.filter(dedupe_key__in=keys).values_list(
                "recipient_id", "dedupe_key"
            )
        )
        if keys
        else set()
    )
    for item in items:
        recipient = item["recipient"]
        kind = item["kind"]
        if kind not in NotificationKind.values:
            raise ValueError(f"unknown notification kind {kind!r}")
        if recipient is None or not recipient.is_active:
            continue
        actor = item.get("actor")
        if actor is not None and getattr(actor, "pk", None) == recipient.pk:
            continue
        key = item.get("dedupe_key", "")[:200]
        if key and ((recipient.pk, key) in existing or (recipient.pk, key) in seen):
            continue
        seen.add((recipient.pk, key))
        rows.append(
            Notification(
                recipient=recipient,
                kind=kind,
                title=" ".join(item["title"].split())[:300],
                body=item.get("body", "")[:2000],
                link=item.get("link", "")[:500],
                actor=actor if actor is not None and actor.is_authenticated else None,
                dedupe_key=key,
                created_at=now,
            )
        )
    if not rows:
        return []
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(rows)
    except IntegrityError:
        # A concurrent writer took some keys first: one by one, theirs win.
        return [
            n
            for n in (
                notify(
                    r.recipient,
                    r.kind,
                    title=r.title,
                    body=r.body,
                    link=r.link,
                    actor=r.actor,
                    dedupe_key=r.dedupe_key,
                )
                for r in rows
            )
            if n is not None
        ]
    preferences = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(user_id__in={r.recipient_id for r in rows})
    }
    for row in rows:
        preference = preferences.get(row.recipient_id) or NotificationPreference(
            user=row.recipient, work_days=default_work_days(), email_kinds=default_email_kinds()
        )
        if row.recipient.email and row.kind in (preference.email_kinds or []):
            _email_copy(row, preference, now)
    return rows

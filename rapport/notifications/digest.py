"""Notification digests: one email listing a user's unread notifications, for users whose
`email_delivery` is `hourly` or `daily` (the scheduler's `notification-digests` entry runs
`digests_send_due` every few minutes).

Rules:
- only inside the user's working hours, in their time zone (`services.email_send_at` is None);
- hourly: at most one digest an hour; daily: at most one per local day (the first run of the
  working day that finds something);
- lists the notifications of the kinds in `email_kinds` that are unread and were never
  emailed (`Notification.email` is NULL), oldest first, at most DIGEST_LIMIT (the rest wait
  for the next digest); nothing to list, no email;
- never twice: the run claims the user with a conditional UPDATE of `last_digest_at` (only
  if it still holds the value the run read: a second worker's claim updates nothing), and
  in the same transaction queues the email through the mail outbox
  (`mail.services.queue_email`) and sets `email` on every listed notification (only where it
  is still NULL). A crash rolls all three back together.
"""

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.notifications.models import EmailDelivery, Notification, NotificationPreference
from rapport.notifications.services import _absolute, email_send_at, user_zone

log = logging.getLogger(__name__)

DIGEST_LIMIT = 100
_EVERY = {EmailDelivery.HOURLY: datetime.timedelta(hours=1)}


def digest_due(preference: NotificationPreference, now: datetime.datetime) -> bool:
    """Whether a digest may go out to this user now (working hours, interval)."""
    if preference.email_delivery not in (EmailDelivery.HOURLY, EmailDelivery.DAILY):
        return False
    if email_send_at(preference, now) is not None:
        return False  # outside the working hours
    last = preference.last_digest_at
    if last is None:
        return True
    if preference.email_delivery == EmailDelivery.HOURLY:
        return now - last >= _EVERY[EmailDelivery.HOURLY]
    zone = user_zone(preference)
    return last.astimezone(zone).date() < now.astimezone(zone).date()


def pending_for_digest(preference: NotificationPreference):
    """The notifications a digest of this user would list (oldest first)."""
    return Notification.objects.filter(
        recipient_id=preference.user_id,
        read_at__isnull=True,
        email__isnull=True,
        kind__in=list(preference.email_kinds or []),
    ).order_by("created_at", "id")


def _digest_text(preference, notifications: list[Notification], more: int) -> tuple[str, str]:
    zone = user_zone(preference)
    count = len(notifications) + more
    noun = "notification" if count == 1 else "notifications"
    subject = f"Rapport: {count} unread {noun}"
    lines = [f"You have {count} unread {noun} in Rapport:", ""]
    for item in notifications:
        when = item.created_at.astimezone(zone).strftime("%a %d %b %H:%M")
        lines.append(f"- {when}  {item.title}")
        if item.link:
            lines.append(f"  {_absolute(item.link)}")
    if more:
        lines += ["", f"… and {more} more: {_absolute('/notifications/')}"]
    label = EmailDelivery(preference.email_delivery).label.lower()
    lines += [
        "",
        f"You get this {label} because of your notification settings in Rapport "
        f"({_absolute('/notifications/settings')}).",
    ]
    return subject, "\n".join(lines)


def digest_send(preference: NotificationPreference, now: datetime.datetime) -> int:
    """Queue this user's digest if one is due and something is unread; returns how many
    notifications it lists (0: no email)."""
    from rapport.mail.services import queue_email

    user = preference.user
    if not user.is_active or not user.email or not digest_due(preference, now):
        return 0
    if not pending_for_digest(preference).exists():
        return 0
    with transaction.atomic():
        claimed = NotificationPreference.objects.filter(
            pk=preference.pk, last_digest_at=preference.last_digest_at
        ).update(last_digest_at=now)
        if not claimed:
            return 0  # another worker sent it (or the preference changed): nothing twice
        rows = list(pending_for_digest(preference)[: DIGEST_LIMIT + 1])
        more = 0
        if len(rows) > DIGEST_LIMIT:
            more = pending_for_digest(preference).count() - DIGEST_LIMIT
            rows = rows[:DIGEST_LIMIT]
        if not rows:
            transaction.set_rollback(True)
            return 0
        subject, text = _digest_text(preference, rows, more)
        try:
            message = queue_email(
                to=[user.email],
                subject=subject,
                text=text,
                purpose="transactional",
                from_name="Rapport",
            )
        except ValidationError:
            log.warning("No digest for user %s: unusable address", user.pk)
            transaction.set_rollback(True)
            return 0
        listed = Notification.objects.filter(
            pk__in=[n.pk for n in rows], email__isnull=True
        ).update(email=message)
    preference.last_digest_at = now
    return listed


def digests_send_due(now: datetime.datetime | None = None) -> int:
    """Queue every due digest; returns how many notifications were listed in all."""
    now = now or timezone.now()
    total = 0
    preferences = NotificationPreference.objects.filter(
        email_delivery__in=(EmailDelivery.HOURLY, EmailDelivery.DAILY), user__is_active=True
    ).select_related("user")
    for preference in preferences.iterator(chunk_size=200):
        try:
            total += digest_send(preference, now)
        except Exception:  # noqa: BLE001 - one user's problem never stops the others'
            log.exception("Digest of user %s failed", preference.user_id)
    return total

"""Reminders of tasks and meetings, and the overdue notice of tasks.

Each activity carries two indexed columns, `remind_at` and `overdue_at`: the moment its
pending reminder (or overdue notice) is due, NULL once sent or when there is none. The
scheduler's pass reads only rows whose moment has passed, through partial indexes that hold
only pending rows, so its cost follows the number due, not the number of activities. The
notification and the column's reset are one transaction, and the notification's dedupe key
names the moment, so a pass that dies half way or runs twice never notifies twice.
"""

import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from rapport.activities.models import Activity, ActivityKind
from rapport.notifications.models import NotificationKind
from rapport.notifications.services import notify, preferences_for, user_zone

BATCH = 500
MAX_BATCHES = 40  # per pass; the next pass (a minute later) takes the rest


def reminder_columns(
    *, kind: str, state: dict[str, Any], now: datetime.datetime | None = None
) -> dict[str, datetime.datetime | None]:
    """`remind_at` and `overdue_at` for an activity in `state` (its field values)."""
    if kind == ActivityKind.TASK:
        anchor = state.get("due_at")
    elif kind == ActivityKind.MEETING:
        anchor = state.get("starts_at")
    else:
        return {"remind_at": None, "overdue_at": None}
    now = now or timezone.now()
    minutes = state.get("reminder_minutes")
    pending = anchor is not None and not state.get("done") and anchor > now
    remind_at = (
        anchor - datetime.timedelta(minutes=minutes) if pending and minutes is not None else None
    )
    overdue_at = anchor if pending and kind == ActivityKind.TASK else None
    return {"remind_at": remind_at, "overdue_at": overdue_at}


def _label(activity: Activity) -> str:
    return activity.subject or " ".join(activity.body.split())[:80] or activity.get_kind_display()


def _fire(pk: int, column: str, now: datetime.datetime) -> bool:
    with transaction.atomic():
        rows = Activity.objects.filter(pk=pk, **{f"{column}__lte": now})
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        activity = rows.select_related("owner").first()
        if activity is None:  # another pass holds it, or it changed meanwhile
            return False
        moment = getattr(activity, column)
        if not activity.done:
            zone = user_zone(preferences_for(activity.owner))
            local = (activity.due_at or activity.starts_at).astimezone(zone)
            if column == "overdue_at":
                kind = NotificationKind.TASK_OVERDUE
                title = f"Overdue: {_label(activity)}"
            elif activity.kind == ActivityKind.MEETING:
                kind = NotificationKind.MEETING_REMINDER
                title = f"Meeting {local:%a %d %b %H:%M}: {_label(activity)}"
            else:
                kind = NotificationKind.TASK_DUE
                title = f"Due {local:%a %d %b %H:%M}: {_label(activity)}"
            notify(
                activity.owner,
                kind,
                title=title,
                subject=activity,
                dedupe_key=f"{column}:{activity.pk}:{moment.isoformat()}",
            )
        Activity.objects.filter(pk=pk).update(**{column: None})
    return True


def reminders_send_due(*, now: datetime.datetime | None = None) -> int:
    """Notify the owners of every reminder and overdue notice due by `now`; returns how
    many were handled."""
    now = now or timezone.now()
    handled = 0
    for column in ("remind_at", "overdue_at"):
        for _ in range(MAX_BATCHES):
            ids = list(
                Activity.objects.filter(**{f"{column}__lte": now})
                .order_by(column)
                .values_list("pk", flat=True)[:BATCH]
            )
            fired = sum(_fire(pk, column, now) for pk in ids)
            handled += fired
            if len(ids) < BATCH or not fired:
                break
    return handled

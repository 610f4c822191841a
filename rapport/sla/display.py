"""How SLA times read: "due in 2 h 13 min (business time)", "breached 40 min ago".

Used by the case panel and by the `sla_due` template filter case lists use
(`{% load sla %}{{ case|sla_due }}`)."""

import datetime
from functools import lru_cache

from rapport.calendars.clock import CalendarSpec, business_minutes_between, spec_of


def format_minutes(minutes: float) -> str:
    minutes = int(round(minutes))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@lru_cache(maxsize=32)
def _spec(calendar_id: int, version: datetime.datetime) -> CalendarSpec:
    # Keyed by the calendar's updated_at: an edited calendar is loaded again.
    from rapport.calendars.models import BusinessCalendar

    return spec_of(
        BusinessCalendar.objects.prefetch_related("periods", "holidays").get(pk=calendar_id)
    )


def spec_for_calendar(calendar) -> CalendarSpec | None:
    if calendar is None:
        return None
    return _spec(calendar.pk, calendar.updated_at)


def due_phrase(due_at: datetime.datetime, now: datetime.datetime, spec: CalendarSpec | None) -> str:
    """'due in 2 h 13 min (business time)' / 'breached 40 min ago' (24×7: plain time)."""
    suffix = " (business time)" if spec is not None else ""
    if due_at > now:
        minutes = (
            business_minutes_between(spec, now, due_at)
            if spec is not None
            else (due_at - now).total_seconds() / 60
        )
        return f"due in {format_minutes(minutes)}{suffix}"
    minutes = (
        business_minutes_between(spec, due_at, now)
        if spec is not None
        else (now - due_at).total_seconds() / 60
    )
    return f"breached {format_minutes(minutes)} ago{suffix}"

"""`{% load sla %}{{ case|sla_due }}`: a case's earliest SLA target as "due in 2 h 13 min
(business time)", "breached 40 min ago", "paused" or "" (no SLA).

Lists should load the clock with the cases to avoid a query per row:
`cases.select_related("sla_clock__policy__calendar")`."""

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from rapport.sla.display import due_phrase, spec_for_calendar

register = template.Library()


@register.filter
def sla_due(case, form: str = "") -> str:
    """`{{ case|sla_due:"short" }}` leaves out " (business time)" (for a column whose
    header says it)."""
    try:
        clock = case.sla_clock
    except ObjectDoesNotExist:
        return ""
    policy = clock.policy
    if policy is None:
        return ""
    if case.due_at is None:
        return "paused" if case.status in (policy.pause_statuses or []) else ""
    phrase = due_phrase(case.due_at, timezone.now(), spec_for_calendar(policy.calendar))
    return phrase.removesuffix(" (business time)") if form == "short" else phrase

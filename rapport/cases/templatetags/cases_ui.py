"""Template filters of the service desk pages."""

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def due_class(value) -> str:
    if not value:
        return ""
    left = (value - timezone.now()).total_seconds()
    if left < 0:
        return "status-danger"
    if left < 4 * 3600:
        return "status-warning"
    return "status-info"


_STATUS = {
    "new": "status-info",
    "open": "status-info",
    "pending_customer": "status-warning",
    "on_hold": "status-warning",
    "resolved": "status-success",
    "closed": "",
}


@register.filter
def case_status_class(value) -> str:
    return _STATUS.get(value, "")

from django import template
from django.core.exceptions import ObjectDoesNotExist

from rapport.segments.models import LifecycleStage

register = template.Library()
LABELS = dict(LifecycleStage.choices)


@register.filter
def lifecycle_stage(contact) -> tuple[str, str]:
    """(value, label) of a contact's stage (prospect when none is stored yet)."""
    try:
        value = contact.lifecycle.stage
    except (ObjectDoesNotExist, AttributeError):
        value = LifecycleStage.PROSPECT
    return value, LABELS.get(value, value)


@register.simple_tag
def contact_marketing(contact, user) -> dict:
    """The contact's last stage changes and its segments (two queries, for its page)."""
    from rapport.segments.selectors import contact_segments, lifecycle_history

    return {
        "history": list(lifecycle_history(contact=contact)[:5]),
        "segments": list(contact_segments(contact=contact, user=user)[:20]),
    }

"""Reading a record's timeline (the single customer view's backbone)."""

from django.db.models import Model, QuerySet

from rapport.timeline.models import TimelineEvent

_FIELD = {"Account": "account", "Contact": "contact", "Lead": "lead", "Opportunity": "opportunity"}


def timeline_of(record: Model) -> QuerySet[TimelineEvent]:
    """Events of a record the caller has already checked as visible, newest first.

    An account's timeline includes its contacts' and opportunities' events.
    """
    field = _FIELD[type(record).__name__]
    return TimelineEvent.objects.filter(**{f"{field}_id": record.pk}).select_related(
        "actor", "activity"
    )

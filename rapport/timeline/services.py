"""Writing timeline events: services call `timeline_record` inside their transaction."""

from typing import Any

from django.db.models import Model
from django.utils import timezone

from rapport.timeline.hooks import as_columns, events_written
from rapport.timeline.models import TimelineEvent

# Which FK of TimelineEvent a subject lands on, and which of its parents also see it.
_SUBJECT_FIELDS = {
    "Account": ("account", ()),
    "Contact": ("contact", ("account",)),
    "Lead": ("lead", ()),
    "Opportunity": ("opportunity", ("account",)),
}


def _links_for(subject: Model) -> dict[str, Any]:
    own, parents = _SUBJECT_FIELDS[type(subject).__name__]
    links: dict[str, Any] = {f"{own}_id": subject.pk}
    for parent in parents:
        parent_id = getattr(subject, f"{parent}_id", None)
        if parent_id:
            links[f"{parent}_id"] = parent_id
    return links


def timeline_record(
    *,
    subject: Model | None = None,
    kind: str,
    actor=None,
    summary: str = "",
    payload: dict | None = None,
    occurred_at=None,
    **links: Any,
) -> TimelineEvent:
    """Write one event on the subject's timeline (and its account's); `links` adds more FKs
    (account_id=, contact_id=, lead_id=, opportunity_id=, activity_id=, order_id=)."""
    fields = _links_for(subject) if subject is not None else {}
    fields.update({k: v for k, v in links.items() if v is not None})
    event = TimelineEvent.objects.create(
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        occurred_at=occurred_at or timezone.now(),
        summary=summary[:300],
        payload=payload or {},
        **fields,
    )
    events_written([as_columns(event)])
    return event


def timeline_record_many(events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Write unsaved events in one INSERT and tell the listeners once, with all of them (the
    bulk path of a service that writes many events in one transaction, e.g. the mail sync:
    listeners such as the lifecycle recompute then run once per batch, not per event)."""
    if not events:
        return []
    for event in events:
        event.summary = (event.summary or "")[:300]
        event.occurred_at = event.occurred_at or timezone.now()
    written = TimelineEvent.objects.bulk_create(events)
    events_written([as_columns(event) for event in written])
    return written

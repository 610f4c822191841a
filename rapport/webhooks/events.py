"""Outbound webhook events from the timeline: every write path writes a timeline event in its
transaction (rapport.timeline.hooks), so subscribing here covers UI, API, imports, email sync
and rules alike. One delivery row per matching subscription is written in that same
transaction (the outbox); nothing is written while no subscription is active."""

import datetime
import uuid
from typing import Any

from django.utils import timezone

# Timeline kind → the verb of "<object>.<verb>" event types (object: the most specific record).
_VERBS = {
    "created": "created",
    "updated": "updated",
    "owner_changed": "updated",
    "deleted": "deleted",
    "restored": "restored",
    "stage_changed": "stage_changed",
    "lead_converted": "converted",
    "order_placed": "placed",
    "activity_logged": "logged",
    "activity_updated": "updated",
    "activity_done": "completed",
    "email_received": "received",
    "email_sent": "sent",
    "file_added": "file_added",
}
# Most specific first: an activity's event also carries its contact and account.
_OBJECTS = ("order", "activity", "opportunity", "lead", "contact", "account")
EVENT_TYPES = sorted(
    {f"{o}.{v}" for o in ("account", "contact", "lead", "opportunity") for v in _VERBS.values()}
    | {"activity.logged", "activity.updated", "activity.completed", "order.placed"}
    | {"campaign.recipients"}  # direct-mail and SMS campaigns hand their lists over (campaigns)
)


def _object_of(event: dict[str, Any]) -> tuple[str, int] | None:
    if event.get("kind") in ("email_received", "email_sent"):
        message_id = (event.get("payload") or {}).get("message_id")
        return ("email", message_id) if message_id else None
    for name in _OBJECTS:
        if event.get(f"{name}_id"):
            return name, event[f"{name}_id"]
    return None


def on_timeline_events(events: list[dict[str, Any]]) -> None:
    from rapport.webhooks.models import WebhookSubscription
    from rapport.webhooks.services import publish

    if not WebhookSubscription.objects.filter(is_active=True).exists():
        return
    now = timezone.now()
    for event in events:
        verb = _VERBS.get(event.get("kind"))
        found = _object_of(event) if verb else None
        if found is None:
            continue
        object_type, object_id = found
        event_id = f"tl-{event['id']}" if event.get("id") else f"tl-{uuid.uuid4().hex}"
        publish(
            f"{object_type}.{verb}",
            {
                "object": object_type,
                "id": object_id,
                "actor_id": event.get("actor_id"),
                "links": {
                    f"{name}_id": event.get(f"{name}_id")
                    for name in _OBJECTS
                    if event.get(f"{name}_id")
                },
                "details": event.get("payload") or {},
            },
            event_id=event_id,
            occurred_at=now
            if not isinstance(event.get("occurred_at"), datetime.datetime)
            else event["occurred_at"],
        )

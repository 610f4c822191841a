"""Trigger events: written in the business transaction (the outbox), dispatched after commit.

Two ways in:
- `on_timeline_events`, registered with `rapport.timeline.hooks`: every service writes a
  timeline event beside its change, on every write path (UI, API, imports, rules), so record
  created / updated, stage moved, lead converted, order placed and activity logged need no
  call of their own.
- `emit(event_type, ...)` for the other apps' events (email received, webhook received,
  form submitted, segment entered / left, case SLA warning / breach).

Only events some active rule listens to are written (one indexed query per write), so a
database without rules pays almost nothing. A rule activated later acts on later events.
"""

import contextvars
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from rapport.automation.models import EVENT_TRIGGERS, Rule, TriggerEvent

log = logging.getLogger(__name__)

# The run whose actions are executing in this context: events they cause carry its depth + 1.
_current_run: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "automation_current_run", default=None
)

_KIND_TRIGGERS = {
    "created": "record.created",
    "updated": "record.updated",
    "owner_changed": "record.updated",
    "activity_updated": "record.updated",
    "activity_done": "record.updated",
    "stage_changed": "stage.moved",
    "lead_converted": "lead.converted",
    "order_placed": "order.placed",
    "activity_logged": "activity.logged",
    "email_received": "email.received",
    # The service desk's events carry their case: they are about the case.
    "case_opened": "record.created",
    "case_status": "record.updated",
}

_SUBJECT_MODELS = {
    "Account": "account",
    "Contact": "contact",
    "Lead": "lead",
    "Opportunity": "opportunity",
    "Activity": "activity",
    "Order": "order",
    "Case": "case",
}


def running_as(run_id: int, depth: int):
    """Context manager: actions executing inside carry (run, depth) into the events they cause."""
    token = _current_run.set((run_id, depth))

    class _Reset:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            _current_run.reset(token)
            return False

    return _Reset()


def _cause() -> tuple[int | None, int]:
    current = _current_run.get()
    if current is None:
        return None, 0
    return current[0], current[1] + 1


_EMPTY: dict = {}  # an event without a payload (never changed: _payload copies)

# The subject's link columns, most specific first (built once, not per event).
_SUBJECT_LINKS = tuple(
    (field, f"{field}_id")
    for field in ("order", "activity", "opportunity", "contact", "lead", "account")
)


def _subject_of(kind: str, event: dict[str, Any]) -> tuple[str, int | None]:
    """The record an event is about: the most specific FK it carries."""
    if kind == "lead_converted":
        return "lead", event.get("lead_id")
    if kind.startswith("case_"):
        return "case", event.get("case_id")
    for field, column in _SUBJECT_LINKS:
        if event.get(column):
            return field, event[column]
    return "", None


def _payload(kind: str, payload: dict) -> dict:
    payload = dict(payload or {})
    if kind == "owner_changed" and "owner" in payload:
        payload["changes"] = {"owner_id": payload.pop("owner")}
    if kind == "stage_changed":
        old, new = payload.get("from") or {}, payload.get("to") or {}
        payload["changes"] = {
            "stage": {"old": old.get("name"), "new": new.get("name")},
            "stage_id": {"old": old.get("id"), "new": new.get("id")},
            "stage.kind": {"old": old.get("kind"), "new": new.get("kind")},
        }
    if kind == "case_status" and "changes" not in payload:
        old, new = payload.get("from"), payload.get("to")
        old = old.get("status") if isinstance(old, dict) else old
        new = new.get("status") if isinstance(new, dict) else new
        payload["changes"] = {"status": {"old": old, "new": new}}
    if kind == "activity_done":
        payload.setdefault("changes", {"done": {"old": False, "new": True}})
    return payload


def _listening(triggers: set[str]) -> set[tuple[str, str]]:
    """(trigger type, object type) of the active rules on these triggers ("" = any object):
    one indexed query."""
    if not triggers:
        return set()
    return set(
        Rule.objects.filter(is_active=True, trigger_type__in=triggers).values_list(
            "trigger_type", "object_type"
        )
    )


def listened(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (event type, object type) pairs some active rule listens to ("" = any object)."""
    pairs = set(pairs)
    rules = _listening({t for t, _ in pairs})
    return {(t, o) for t, o in pairs if _hears(rules, t, o)}


def _hears(rules: set[tuple[str, str]], trigger: str, object_type: str) -> bool:
    """Whether a rule of `rules` (_listening) hears `trigger` on `object_type`."""
    return (trigger, object_type) in rules or (trigger, "") in rules


def on_timeline_events(events: list[dict[str, Any]]) -> None:
    """Timeline listener: one outbox row per event some active rule listens to.

    Per batch (an import's thousands of created events): one query for the listening rules
    (none: nothing else is done), each distinct payload built once, and the rows written in
    one statement (`BulkInsert`: an executemany on SQLite, a COPY on PostgreSQL) in the
    caller's transaction. `bulk_create` compiled every value of every row through the ORM:
    nine tenths of the outbox's cost in an import."""
    from rapport.imports.services.bulk_sql import BulkInsert

    triggers = {_KIND_TRIGGERS.get(kind) for kind in {e.get("kind") for e in events}}
    triggers.discard(None)
    rules = _listening(triggers)
    if not rules:
        return
    run_id, depth = _cause()
    now = timezone.now()
    # (kind, id of the event's payload) → (that payload, the outbox's): events of a batch
    # share one payload object, so the outbox rows share one too and BulkInsert encodes it
    # once. The source is kept referenced, so its id cannot be reused within the call.
    payloads: dict[tuple[str, int], tuple[dict, dict]] = {}
    rows = []
    for event in events:
        kind = event.get("kind")
        trigger = _KIND_TRIGGERS.get(kind)
        if trigger is None:
            continue
        object_type, object_id = _subject_of(kind, event)
        if object_id is None or not _hears(rules, trigger, object_type):
            continue
        source = event.get("payload") or _EMPTY
        key = (kind, id(source))
        made = payloads.get(key)
        if made is None:
            made = payloads[key] = (source, _payload(kind, source))
        rows.append(
            {
                "event_type": trigger,
                "object_type": object_type,
                "object_id": object_id,
                "payload": made[1],
                "actor_id": event.get("actor_id"),
                "depth": depth,
                "caused_by_run_id": run_id,
                "created_at": now,
            }
        )
    if rows:
        BulkInsert(TriggerEvent).insert(rows)
        _dispatch_after_commit()


def emit(
    event_type: str,
    *,
    subject: Model | None = None,
    payload: dict | None = None,
    actor=None,
    object_type: str = "",
    object_id: int | None = None,
) -> TriggerEvent | None:
    """Record a trigger event in the caller's transaction (call it beside the change).

    `subject` is the record concerned (contact, account, lead, opportunity, activity, order,
    case), or give `object_type` / `object_id` (e.g. `object_type="case", object_id=case.pk`). Returns None when no active rule listens.
    """
    if event_type not in EVENT_TRIGGERS:
        raise ValueError(f"Unknown trigger event type {event_type!r}")
    if subject is not None:
        object_type = _SUBJECT_MODELS.get(type(subject).__name__, object_type)
        object_id = subject.pk
    if not listened([(event_type, object_type)]):
        return None
    run_id, depth = _cause()
    event = TriggerEvent.objects.create(
        event_type=event_type,
        object_type=object_type,
        object_id=object_id,
        payload=payload or {},
        actor=actor if actor is not None and actor.is_authenticated else None,
        depth=depth,
        caused_by_run_id=run_id,
        created_at=timezone.now(),
    )
    _dispatch_after_commit()
    return event


def _enqueue_dispatch() -> None:
    from rapport.automation.tasks import automation_dispatch_task

    try:
        automation_dispatch_task.enqueue()
    except Exception:  # the scheduler's sweep picks the events up anyway
        log.exception("could not enqueue the automation dispatch")


def _dispatch_after_commit() -> None:
    """One dispatch task per transaction, however many writes it made (a rolled-back
    transaction drops its callbacks, so nothing is enqueued for it)."""
    connection = transaction.get_connection()
    if any(entry[1] is _enqueue_dispatch for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_dispatch)


def emit_many(events: list[dict[str, Any]]) -> list[TriggerEvent]:
    """`emit` for a batch (the SLA scheduler's pass): each item has `event_type`,
    `object_type`, `object_id` and `payload`. One query for who listens, one INSERT."""
    for item in events:
        if item["event_type"] not in EVENT_TRIGGERS:
            raise ValueError(f"Unknown trigger event type {item['event_type']!r}")
    heard = listened({(e["event_type"], e["object_type"]) for e in events})
    run_id, depth = _cause()
    now = timezone.now()
    rows = [
        TriggerEvent(
            event_type=e["event_type"],
            object_type=e["object_type"],
            object_id=e["object_id"],
            payload=e.get("payload") or {},
            depth=depth,
            caused_by_run_id=run_id,
            created_at=now,
        )
        for e in events
        if (e["event_type"], e["object_type"]) in heard
    ]
    if rows:
        TriggerEvent.objects.bulk_create(rows, batch_size=1000)
        _dispatch_after_commit()
    return rows

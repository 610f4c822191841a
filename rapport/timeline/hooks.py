"""Listeners told about every timeline event written, inside the writing transaction.

Every service writes its timeline event through `timeline_record` (or, on bulk paths, one
`bulk_create` / bulk INSERT of events), so this is the one place where "something happened to a
customer record" passes for every write path: UI, API, imports, other rules. An upper layer
(automation) registers a listener at start-up; the timeline imports nothing of it.

A listener receives the events as column dicts (kind, actor_id, payload, account_id, contact_id,
lead_id, opportunity_id, activity_id, order_id, and id when known). It runs inside the
business transaction: it must be cheap and must never raise (a listener's failure would undo
the user's write), so each call is guarded.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "kind",
    "actor_id",
    "payload",
    "account_id",
    "contact_id",
    "lead_id",
    "opportunity_id",
    "activity_id",
    "order_id",
    "case_id",
)

_listeners: list[Callable[[list[dict[str, Any]]], None]] = []


def timeline_listener(fn: Callable[[list[dict[str, Any]]], None]):
    """Register `fn(events)`; called once per write with the events it wrote."""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def as_columns(event) -> dict[str, Any]:
    """A TimelineEvent instance (saved or not) as the dict listeners receive."""
    values = {name: getattr(event, name, None) for name in EVENT_COLUMNS}
    values["id"] = event.pk
    return values


def events_written(events: Iterable[dict[str, Any]]) -> None:
    """Tell the listeners about events just written in the current transaction."""
    if not _listeners:
        return
    batch = list(events)
    if not batch:
        return
    for listener in _listeners:
        try:
            # A savepoint: on PostgreSQL a failed statement would otherwise abort the
            # business transaction itself.
            with transaction.atomic():
                listener(batch)
        except Exception:
            log.exception("timeline listener %r failed; the write goes on", listener)

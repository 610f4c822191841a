"""Keeping SegmentMember current: incrementally on every write, fully every night.

The timeline hook (`on_timeline_events`) sees every write of every path (UI, API, imports,
email sync, rules) inside its transaction, works out which contacts and which topics
(contact fields, account fields, orders, activities, lifecycle) it touched, and
re-evaluates those contacts against the dynamic segments whose filter reads one of those
topics: one query per such segment, over the touched contacts only. Entering and leaving
emit the automation triggers `segment.entered` / `segment.left`.

Filters with relative dates ("an order in the last 30 days") and analytics scores (the
warehouse refresh writes no timeline events) drift without writes; `segments_refresh_all`
(the nightly task) repairs that and reports how many rows it fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.segments import filters
from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember

log = logging.getLogger(__name__)

CHUNK = 2000
ALL_TOPICS = {
    filters.CONTACT,
    filters.ACCOUNT,
    filters.ORDERS,
    filters.ACTIVITIES,
    filters.SCORES,
    filters.LIFECYCLE,
}


def depends_on_text(topics: Iterable[str]) -> str:
    topics = sorted(set(topics))
    return "," + ",".join(topics) + "," if topics else ""


def segment_query(segment: Segment, *, now=None):
    """Every contact (not deleted) the segment's filter matches — one SQL statement."""
    from rapport.accounts.models import Contact

    return Contact.objects.filter(filters.compile_filter(segment.filter, now=now))


def _emit(segment: Segment, entered: Iterable[int], left: Iterable[int]) -> None:
    from rapport.automation.outbox import emit, listened

    entered, left = list(entered), list(left)
    wanted = listened(
        [("segment.entered", "contact")] * bool(entered)
        + [("segment.left", "contact")] * bool(left)
    )
    for event_type, ids in (("segment.entered", entered), ("segment.left", left)):
        if (event_type, "contact") not in wanted:
            continue
        for contact_id in ids:
            emit(
                event_type,
                object_type="contact",
                object_id=contact_id,
                payload={"segment_id": segment.pk, "segment": segment.name},
            )


def apply_diff(
    segment: Segment,
    *,
    add: Iterable[int],
    remove: Iterable[int],
    source: str = MemberSource.FILTER,
    now=None,
) -> tuple[int, int]:
    """Insert / delete member rows, keep the count, emit the triggers; (added, removed)."""
    add, remove = sorted(set(add)), sorted(set(remove))
    if not add and not remove:
        return 0, 0
    now = now or timezone.now()
    with transaction.atomic():
        added = 0
        for i in range(0, len(add), CHUNK):
            rows = [
                SegmentMember(segment=segment, contact_id=pk, source=source, added_at=now)
                for pk in add[i : i + CHUNK]
            ]
            added += len(SegmentMember.objects.bulk_create(rows, ignore_conflicts=True))
        removed = 0
        for i in range(0, len(remove), CHUNK):
            removed += SegmentMember.objects.filter(
                segment=segment, contact_id__in=remove[i : i + CHUNK]
            ).delete()[0]
        Segment.objects.filter(pk=segment.pk).update(
            member_count=F("member_count") + added - removed
        )
        _emit(segment, add, remove)
    return added, removed


def reevaluate(contact_topics: dict[str, set[int]], *, now=None) -> int:
    """Re-evaluate touched contacts (by topic) against the dynamic segments reading a touched
    topic; returns how many memberships changed."""
    from rapport.accounts.models import Contact

    contact_topics = {t: ids for t, ids in contact_topics.items() if ids}
    if not contact_topics:
        return 0
    touched = Q()
    for topic in contact_topics:
        touched |= Q(depends_on__contains=f",{topic},")
    changed = 0
    for segment in Segment.objects.filter(touched, kind=SegmentKind.DYNAMIC):
        ids: set[int] = set()
        for topic, topic_ids in contact_topics.items():
            if f",{topic}," in segment.depends_on:
                ids |= topic_ids
        ids_list = sorted(ids)
        for i in range(0, len(ids_list), CHUNK):
            part = ids_list[i : i + CHUNK]
            matching = set(
                Contact.objects.filter(pk__in=part)
                .filter(filters.compile_filter(segment.filter, now=now))
                .values_list("pk", flat=True)
            )
            current = set(
                SegmentMember.objects.filter(segment=segment, contact_id__in=part).values_list(
                    "contact_id", flat=True
                )
            )
            a, r = apply_diff(segment, add=matching - current, remove=current - matching, now=now)
            changed += a + r
    return changed


def segment_refresh(segment: Segment, *, now=None) -> tuple[int, int]:
    """Bring a dynamic segment's members to exactly its filter's result (set-based)."""
    from django.db.models import Exists, OuterRef

    now = now or timezone.now()
    if segment.kind != SegmentKind.DYNAMIC:
        return 0, 0
    matching = segment_query(segment, now=now)
    missing = (
        matching.filter(
            ~Exists(SegmentMember.objects.filter(segment=segment, contact=OuterRef("pk")))
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    stale = (
        SegmentMember.objects.filter(segment=segment)
        .exclude(contact_id__in=matching.order_by().values("pk"))
        .values_list("contact_id", flat=True)
    )
    add = list(missing.iterator(chunk_size=CHUNK))
    remove = list(stale.iterator(chunk_size=CHUNK))
    added, removed = apply_diff(segment, add=add, remove=remove, now=now)
    count = SegmentMember.objects.filter(segment=segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=count, refreshed_at=now)
    segment.member_count, segment.refreshed_at = count, now
    return added, removed


def segments_refresh_all(*, now=None) -> dict[str, Any]:
    """The nightly pass: lifecycle stages, then every dynamic segment; reports the rows fixed."""
    from rapport.segments.lifecycle import lifecycle_recompute

    now = now or timezone.now()
    stages = lifecycle_recompute(now=now, reason="nightly")
    added = removed = 0
    segments = 0
    for segment in Segment.objects.filter(kind=SegmentKind.DYNAMIC).order_by("pk"):
        a, r = segment_refresh(segment, now=now)
        added, removed, segments = added + a, removed + r, segments + 1
    report = {
        "segments": segments,
        "added": added,
        "removed": removed,
        "fixed": added + removed,
        "lifecycle_changed": stages,
    }
    log.info("segments nightly refresh: %s", report)
    return report


# ----- the timeline hook -----------------------------------------------------------------

_ACTIVITY_KINDS = {
    "activity_logged",
    "activity_updated",
    "activity_done",
}
# Mail on the timeline: no segment filter and no lifecycle rule reads mail (the activity
# filters read Activity rows; a logged "email" activity comes with its activity_id), so a
# received or sent email re-evaluates nothing: the mail sync writes thousands of these.
# A filter on mail would add its topic here.
_MAIL_KINDS = {"email_received", "email_sent"}


def touched_by(events: list[dict[str, Any]]) -> tuple[dict[str, set[int]], set[int]]:
    """(topic → contact ids to re-evaluate, contact ids whose lifecycle to recompute)."""
    from rapport.accounts.models import Contact

    topics: dict[str, set[int]] = {t: set() for t in ALL_TOPICS}
    lifecycle: set[int] = set()
    by_account: dict[str, set[int]] = {}
    for event in events:
        kind = event.get("kind")
        contact_id, account_id = event.get("contact_id"), event.get("account_id")
        payload = event.get("payload") or {}
        if kind in _MAIL_KINDS and not event.get("activity_id"):
            continue
        if event.get("order_id") or kind == "order_placed":
            if contact_id:
                topics[filters.ORDERS].add(contact_id)
                lifecycle.add(contact_id)
            elif account_id:
                by_account.setdefault(filters.ORDERS, set()).add(account_id)
            continue
        if event.get("activity_id") or kind in _ACTIVITY_KINDS:
            if contact_id:
                topics[filters.ACTIVITIES].add(contact_id)
                lifecycle.add(contact_id)
            continue
        if event.get("lead_id") or event.get("opportunity_id"):
            continue
        if contact_id:
            changes = payload.get("changes") or {}
            if payload.get("action") == "lifecycle":
                topics[filters.LIFECYCLE].add(contact_id)
            elif (
                kind in ("created", "restored", "deleted")
                or "account_id" in changes
                or ("account" in changes)
            ):
                for topic in ALL_TOPICS:  # a new or moved contact can match anything
                    topics[topic].add(contact_id)
                lifecycle.add(contact_id)
            else:
                topics[filters.CONTACT].add(contact_id)
        elif account_id:
            by_account.setdefault(filters.ACCOUNT, set()).add(account_id)
    for topic, account_ids in by_account.items():
        ids = set(Contact.objects.filter(account_id__in=account_ids).values_list("pk", flat=True))
        topics[topic] |= ids
        if topic == filters.ORDERS:
            lifecycle |= ids
    return topics, lifecycle


def on_timeline_events(events: list[dict[str, Any]]) -> None:
    """Timeline listener: lifecycle first (its own events come back here), then segments."""
    from rapport.segments.lifecycle import lifecycle_recompute

    topics, lifecycle = touched_by(events)
    if lifecycle:
        lifecycle_recompute(contact_ids=lifecycle, reason="write")
    if any(topics.values()) and Segment.objects.filter(kind=SegmentKind.DYNAMIC).exists():
        reevaluate(topics)

"""Writes of segments: create, change, delete, static members (by hand, import, selection)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.identity.models import User
from rapport.records.exceptions import PermissionDenied, StaleVersion
from rapport.records.services import require_writer
from rapport.segments import filters, membership
from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember

NAME_MAX = 120
IMPORT_MAX = 50_000
ADD_MAX = 10_000


def _field_error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def require_segment_editable(segment: Segment, actor: User) -> None:
    """Its creator or an administrator changes a segment; read-only users nothing."""
    require_writer(actor)
    if not (actor.is_admin or segment.created_by_id == actor.pk):
        raise PermissionDenied("Only its creator or an administrator may change this segment")


def _clean(name: str, kind: str, filter_tree) -> tuple[str, str, dict]:
    name = (name or "").strip()
    if not name:
        raise _field_error("name", "Give the segment a name", "required")
    if len(name) > NAME_MAX:
        raise _field_error("name", f"At most {NAME_MAX} characters")
    if kind not in SegmentKind.values:
        raise _field_error("kind", "dynamic or static")
    tree = filters.validate(filter_tree) if kind == SegmentKind.DYNAMIC else {}
    return name, kind, tree


def segment_create(
    *,
    name: str,
    actor: User,
    kind: str = SegmentKind.DYNAMIC,
    filter: dict | None = None,
    description: str = "",
) -> Segment:
    """A new segment; a dynamic one is filled from its filter at once."""
    require_writer(actor)
    name, kind, tree = _clean(name, kind, filter)
    with transaction.atomic():
        segment = Segment.objects.create(
            name=name,
            kind=kind,
            filter=tree,
            description=(description or "")[:500],
            depends_on=membership.depends_on_text(filters.topics(tree)),
            created_by=actor,
        )
        membership.segment_refresh(segment)
    return segment


def segment_update(
    *,
    segment: Segment,
    actor: User,
    name: str | None = None,
    filter: dict | None = None,
    description: str | None = None,
    expected_version: int | None = None,
) -> Segment:
    """Rename or change the filter (re-filled at once; entering/leaving contacts emit)."""
    require_segment_editable(segment, actor)
    new_name, _, tree = _clean(
        segment.name if name is None else name,
        segment.kind,
        segment.filter if filter is None else filter,
    )
    with transaction.atomic():
        current = Segment.objects.select_for_update().get(pk=segment.pk)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(current.version)
        changes = {
            "name": new_name,
            "filter": tree,
            "depends_on": membership.depends_on_text(filters.topics(tree)),
            "version": current.version + 1,
        }
        if description is not None:
            changes["description"] = description[:500]
        Segment.objects.filter(pk=segment.pk).update(**changes, updated_at=timezone.now())
        segment.refresh_from_db()
        if filter is not None:
            membership.segment_refresh(segment)
    return segment


def segment_delete(*, segment: Segment, actor: User) -> None:
    require_segment_editable(segment, actor)
    segment.delete()


def _static(segment: Segment) -> None:
    if segment.kind != SegmentKind.STATIC:
        raise _field_error(
            "segment_id", "Only a static segment takes members by hand", "not_static"
        )


def segment_members_add(
    *,
    segment: Segment,
    contact_ids: Iterable[int],
    actor: User,
    source: str = MemberSource.MANUAL,
) -> int:
    """Add contacts the actor may see to a static segment; returns how many were new.
    Contacts the actor may not see are left out silently (no existence leak)."""
    from rapport.accounts.selectors import contacts_visible_to

    require_segment_editable(segment, actor)
    _static(segment)
    ids = sorted({int(i) for i in contact_ids})
    if len(ids) > ADD_MAX:
        raise _field_error("contact_ids", f"At most {ADD_MAX:,} contacts at a time")
    visible = set()
    for i in range(0, len(ids), 2000):
        visible |= set(
            contacts_visible_to(actor).filter(pk__in=ids[i : i + 2000]).values_list("pk", flat=True)
        )
    added, _ = membership.apply_diff(segment, add=visible, remove=(), source=source)
    return added


def segment_members_remove(*, segment: Segment, contact_ids: Iterable[int], actor: User) -> int:
    require_segment_editable(segment, actor)
    _static(segment)
    _, removed = membership.apply_diff(segment, add=(), remove=contact_ids)
    return removed


EMAIL_RE = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")


def segment_members_import(
    *, segment: Segment, content: bytes | str, actor: User
) -> dict[str, int]:
    """Add the contacts named in a file (one email address or contact id per line; a CSV
    takes its first column) to a static segment. Returns added / matched / unknown."""
    from rapport.accounts.models import ContactEmail
    from rapport.accounts.selectors import contacts_visible_to

    require_segment_editable(segment, actor)
    _static(segment)
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _field_error("file", "The file must be UTF-8 text")
    emails: set[str] = set()
    ids: set[int] = set()
    rows = 0
    for row in csv.reader(io.StringIO(content)):
        if not row or not row[0].strip():
            continue
        rows += 1
        if rows > IMPORT_MAX:
            raise _field_error("file", f"At most {IMPORT_MAX:,} lines")
        value = row[0].strip()
        if value.isdigit():
            ids.add(int(value))
        elif EMAIL_RE.fullmatch(value):
            emails.add(value.lower())
    visible = contacts_visible_to(actor)
    found: set[int] = set()
    email_list = sorted(emails)
    for i in range(0, len(email_list), 1000):
        part = email_list[i : i + 1000]
        owners = ContactEmail.objects.filter(email__in=part).values_list("contact_id", flat=True)
        found |= set(visible.filter(pk__in=list(owners)).values_list("pk", flat=True)) | set(
            visible.filter(email__in=part).values_list("pk", flat=True)
        )
    id_list = sorted(ids)
    for i in range(0, len(id_list), 2000):
        found |= set(visible.filter(pk__in=id_list[i : i + 2000]).values_list("pk", flat=True))
    added, _ = membership.apply_diff(segment, add=found, remove=(), source=MemberSource.IMPORT)
    return {"lines": rows, "matched": len(found), "added": added, "unknown": rows - len(found)}


def segment_member_count_fix(segment: Segment) -> None:
    Segment.objects.filter(pk=segment.pk).update(
        member_count=SegmentMember.objects.filter(segment=segment).count()
    )
    segment.refresh_from_db(fields=["member_count"])

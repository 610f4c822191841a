"""Reads of segments. Segment definitions are visible to every signed-in user; their
members are always intersected with the contacts the user may see."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.segments.models import (
    LifecycleChange,
    Segment,
    SegmentKind,
    SegmentMember,
)


def segments_for(user: User) -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "id")


def segment_get_for_user(*, pk: int, user: User) -> Segment:
    segment = segments_for(user).filter(pk=pk).first()
    if segment is None:
        raise RecordNotFound("segment")
    return segment


def static_segments_for(user: User) -> QuerySet[Segment]:
    qs = segments_for(user).filter(kind=SegmentKind.STATIC)
    return qs if user.is_admin else qs.filter(created_by=user)


def segment_members_visible(*, segment: Segment, user: User) -> QuerySet:
    """The segment's members the user may see (contacts, with the list's related data)."""
    from rapport.accounts.selectors import contacts_visible_to

    return contacts_visible_to(user).filter(
        Exists(SegmentMember.objects.filter(segment=segment, contact=OuterRef("pk")))
    )


def contact_segments(*, contact, user: User) -> QuerySet[Segment]:
    """The segments a contact (visible to the user already) belongs to."""
    return segments_for(user).filter(members__contact=contact)


def lifecycle_history(*, contact) -> QuerySet[LifecycleChange]:
    return LifecycleChange.objects.filter(contact=contact).order_by("-changed_at", "-id")

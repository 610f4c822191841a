"""The automation engine's `add_to_segment` / `remove_from_segment` actions (static lists)."""

from __future__ import annotations

from rapport.automation.actions import ActionContext, ActionFailed, ActionSpec, Param
from rapport.segments.models import MemberSource, Segment, SegmentKind


def _segment(params: dict) -> Segment:
    try:
        segment_id = int(params.get("segment_id"))
    except (TypeError, ValueError):
        raise ActionFailed("Name the static segment (segment_id)")
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise ActionFailed(f"Segment {segment_id} does not exist")
    if segment.kind != SegmentKind.STATIC:
        raise ActionFailed(f"“{segment.name}” is dynamic: its filter decides its members")
    return segment


def _contact_id(ctx: ActionContext) -> int:
    subject = ctx.subject
    if subject is None or type(subject).__name__ != "Contact":
        raise ActionFailed("This action needs a contact")
    return subject.pk


def add_to_segment(ctx: ActionContext, params: dict) -> dict:
    from rapport.segments.membership import apply_diff

    segment = _segment(params)
    added, _ = apply_diff(
        segment, add=[_contact_id(ctx)], remove=(), source=MemberSource.AUTOMATION
    )
    return {"segment_id": segment.pk, "added": added}


def remove_from_segment(ctx: ActionContext, params: dict) -> dict:
    from rapport.segments.membership import apply_diff

    segment = _segment(params)
    _, removed = apply_diff(segment, add=(), remove=[_contact_id(ctx)])
    return {"segment_id": segment.pk, "removed": removed}


def segment_actions() -> list[ActionSpec]:
    param = [Param("segment_id", "Static segment", "int", required=True)]
    return [
        ActionSpec(
            "add_to_segment",
            "Add to a static segment",
            add_to_segment,
            param,
            subject_types=("contact",),
            provided_by="marketing",
        ),
        ActionSpec(
            "remove_from_segment",
            "Remove from a static segment",
            remove_from_segment,
            param,
            subject_types=("contact",),
            provided_by="marketing",
        ),
    ]

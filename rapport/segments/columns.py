"""The lifecycle column of the contact list (the list selector selects the stage row, so
the column costs no query)."""

from rapport.segments.templatetags.segments_ui import lifecycle_stage
from rapport.web.listing import BulkAction, Column


def lifecycle_column(*, default: bool = True) -> Column:
    return Column("lifecycle", "Lifecycle", lambda c: lifecycle_stage(c)[1], default=default)


def add_to_segment_bulk() -> BulkAction:
    """The contact list's "Add to segment" bulk action (static segments the user may fill)."""

    def run(*, record, actor, data):
        from rapport.segments.models import MemberSource
        from rapport.segments.selectors import segment_get_for_user
        from rapport.segments.services import segment_members_add

        segment = segment_get_for_user(pk=data["segment_id"], user=actor)
        segment_members_add(
            segment=segment, contact_ids=[record.pk], actor=actor, source=MemberSource.SELECTION
        )

    def choices(user):
        from rapport.segments.selectors import static_segments_for

        return static_segments_for(user).values_list("pk", "name")[:200]

    return BulkAction(
        "Add to segment", "added to the segment", run, needs="segment_id", choices=choices
    )

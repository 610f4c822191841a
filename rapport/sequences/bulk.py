"""The contact and lead lists' "Enrol in a sequence" bulk action."""

from rapport.web.listing import BulkAction


def enrol_in_sequence_bulk() -> BulkAction:
    def run(*, record, actor, data):
        from rapport.sequences.selectors import sequence_get
        from rapport.sequences.services import enrolment_create

        sequence = sequence_get(pk=data["sequence_id"], user=actor)
        enrolment_create(sequence=sequence, actor=actor, record=record)

    def choices(user):
        from rapport.sequences.selectors import sequences_visible_to

        return sequences_visible_to(user).filter(is_active=True).values_list("pk", "name")[:200]

    return BulkAction(
        "Enrol in a sequence", "enrolled in the sequence", run, needs="sequence_id", choices=choices
    )

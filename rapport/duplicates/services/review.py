"""Reviewing candidate pairs: dismissing one ("not the same customer") and reopening it."""

from django.db import transaction
from django.utils import timezone

from rapport.duplicates.models import CandidateStatus, DuplicateCandidate
from rapport.duplicates.record_types import model_for
from rapport.identity.models import User
from rapport.records.exceptions import Conflict
from rapport.records.services import require_editable


def _require_editable_pair(candidate: DuplicateCandidate, actor: User) -> None:
    model = model_for(candidate.object_type)
    for pk in (candidate.record_a_id, candidate.record_b_id):
        require_editable(model(pk=pk), actor)


def candidate_dismiss(*, candidate: DuplicateCandidate, actor: User) -> DuplicateCandidate:
    """Mark an open pair as not duplicates: later detection runs leave it dismissed.
    Needs edit rights on both records."""
    _require_editable_pair(candidate, actor)
    with transaction.atomic():
        updated = DuplicateCandidate.objects.filter(
            pk=candidate.pk, status=CandidateStatus.OPEN
        ).update(status=CandidateStatus.DISMISSED, resolved_at=timezone.now(), resolved_by=actor)
        if not updated:
            candidate.refresh_from_db()
            if candidate.status != CandidateStatus.DISMISSED:
                raise Conflict(
                    f"The pair is {candidate.status}", code=f"candidate_{candidate.status}"
                )
    candidate.refresh_from_db()
    return candidate


def candidate_reopen(*, candidate: DuplicateCandidate, actor: User) -> DuplicateCandidate:
    """Put a dismissed pair back in the queue. Needs edit rights on both records."""
    _require_editable_pair(candidate, actor)
    with transaction.atomic():
        updated = DuplicateCandidate.objects.filter(
            pk=candidate.pk, status=CandidateStatus.DISMISSED
        ).update(status=CandidateStatus.OPEN, resolved_at=None, resolved_by=None)
        if not updated:
            candidate.refresh_from_db()
            if candidate.status != CandidateStatus.OPEN:
                raise Conflict(
                    f"The pair is {candidate.status}", code=f"candidate_{candidate.status}"
                )
    candidate.refresh_from_db()
    return candidate

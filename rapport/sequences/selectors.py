"""Reads of guided sequences. Sequences are shared playbooks (every staff user sees them);
enrolments follow their person's visibility (rapport.records.visibility)."""

from django.db.models import Count, Q, QuerySet

from rapport.accounts.models import Contact
from rapport.leads.models import Lead
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import visible_through_parents
from rapport.sequences.models import (
    Enrolment,
    EnrolmentState,
    EnrolmentStep,
    Sequence,
    StopReason,
)


def sequences_visible_to(user) -> QuerySet[Sequence]:
    if user is None or not user.is_authenticated or not user.is_active:
        return Sequence.objects.none()
    return Sequence.objects.select_related("created_by", "calendar")


def sequence_list(*, user, active_only: bool = False) -> QuerySet[Sequence]:
    qs = sequences_visible_to(user).annotate(
        enrolled=Count("enrolments"),
        active=Count("enrolments", filter=Q(enrolments__state=EnrolmentState.ACTIVE)),
        step_count=Count("steps", distinct=True),
    )
    return qs.filter(is_active=True) if active_only else qs


def sequence_get(*, pk: int, user) -> Sequence:
    sequence = sequences_visible_to(user).filter(pk=pk).first()
    if sequence is None:
        raise RecordNotFound("sequence")
    return sequence


def enrolments_visible_to(user) -> QuerySet[Enrolment]:
    return visible_through_parents(
        Enrolment.objects.select_related("sequence", "contact", "lead", "rep", "run"),
        user,
        {"contact": Contact, "lead": Lead},
    )


def enrolment_get(*, pk: int, user) -> Enrolment:
    enrolment = enrolments_visible_to(user).filter(pk=pk).first()
    if enrolment is None:
        raise RecordNotFound("enrolment")
    return enrolment


def enrolments_of_person(*, user, record) -> QuerySet[Enrolment]:
    field = "contact" if record._meta.model_name == "contact" else "lead"
    return enrolments_visible_to(user).filter(**{field: record})


def step_stats(sequence: Sequence) -> list[dict]:
    """Per step: how many got it, emails sent, skipped, replies counted on it, tasks made and
    done. Aggregates over every enrolment (counts name no one)."""
    rows = {
        row.pop("step"): row
        for row in EnrolmentStep.objects.filter(enrolment__sequence=sequence)
        .values("step")
        .annotate(
            reached=Count("id"),
            sent=Count("id", filter=Q(message__isnull=False)),
            skipped=Count("id", filter=~Q(skipped="")),
            tasks=Count("id", filter=Q(activity__isnull=False)),
            tasks_done=Count("id", filter=Q(activity__done=True)),
        )
    }
    replied = dict(
        sequence.enrolments.filter(stop_reason=StopReason.REPLIED, replied_step__isnull=False)
        .values("replied_step")
        .annotate(n=Count("id"))
        .values_list("replied_step", "n")
    )
    empty = {"reached": 0, "sent": 0, "skipped": 0, "tasks": 0, "tasks_done": 0}
    return [
        {"step": step, **{**empty, **rows.get(step.pk, {})}, "replied": replied.get(step.pk, 0)}
        for step in sequence.steps.select_related("template").order_by("position")
    ]


def sequence_totals(sequence: Sequence) -> dict:
    counts = dict(
        sequence.enrolments.values("state").annotate(n=Count("id")).values_list("state", "n")
    )
    reasons = dict(
        sequence.enrolments.filter(state=EnrolmentState.STOPPED)
        .values("stop_reason")
        .annotate(n=Count("id"))
        .values_list("stop_reason", "n")
    )
    return {
        "enrolled": sum(counts.values()),
        **{state: counts.get(state, 0) for state in EnrolmentState.values},
        "stopped_by": {reason: reasons.get(reason, 0) for reason in StopReason.values if reason},
    }


def with_steps_done(qs: QuerySet[Enrolment]) -> QuerySet[Enrolment]:
    return qs.annotate(steps_done=Count("done_steps"))

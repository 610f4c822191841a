"""Writes of guided sequences: sequences and their steps (kept in step with the automation rule
that runs them), enrolments (one automation run each), pause / resume / stop."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.automation.engine import start_run
from rapport.automation.models import Run, RunState, TriggerType
from rapport.automation.services import rule_save_for_module
from rapport.identity.models import Role, User
from rapport.leads.models import Lead
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.services import require_writer
from rapport.records.visibility import visible
from rapport.sequences.models import (
    Enrolment,
    EnrolmentState,
    Sequence,
    SequenceStep,
    StepKind,
    StopReason,
)
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

MAX_STEPS = 30
MAX_WAIT_DAYS = 90
MAX_BULK = 1000
PEOPLE = {"contact": Contact, "lead": Lead}


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def can_change(sequence: Sequence, user: User) -> bool:
    """Its author, managers and admins change a sequence; everyone may use an active one."""
    if not user.is_active or user.is_read_only:
        return False
    return sequence.created_by_id == user.pk or user.is_admin or user.role == Role.MANAGER


def _clean_steps(steps: Iterable[dict]) -> list[dict]:
    from rapport.mail.models import EmailTemplate

    steps = list(steps or [])
    if not steps:
        raise _error("steps", "Add at least one step", "required")
    if len(steps) > MAX_STEPS:
        raise _error("steps", f"At most {MAX_STEPS} steps", "too_many")
    clean = []
    for i, raw in enumerate(steps):
        where = f"steps[{i + 1}]"
        kind = str(raw.get("kind") or "")
        if kind not in StepKind.values:
            raise _error(f"{where}.kind", f"Choose one of {', '.join(StepKind.values)}")
        step = {"kind": kind, "template": None, "subject": "", "notes": "", "wait_days": 0}
        step["due_in_days"] = _days(raw.get("due_in_days"), f"{where}.due_in_days", low=0)
        if kind == StepKind.EMAIL:
            template_id = raw.get("template_id") or raw.get("template")
            template = (
                EmailTemplate.objects.filter(pk=template_id, active=True).first()
                if str(template_id or "").isdigit()
                else None
            )
            if template is None:
                raise _error(f"{where}.template_id", "Choose an active email template", "required")
            step["template"] = template
        elif kind == StepKind.WAIT:
            step["wait_days"] = _days(raw.get("wait_days"), f"{where}.wait_days", low=1)
        else:
            subject = str(raw.get("subject") or "").strip()
            if not subject:
                raise _error(f"{where}.subject", "Say what the rep should do", "required")
            step["subject"] = subject[:200]
            step["notes"] = str(raw.get("notes") or "")[:4000]
        clean.append(step)
    if clean[-1]["kind"] == StepKind.WAIT:
        raise _error("steps", "A sequence does not end with a wait", "trailing_wait")
    return clean


def _days(value, field: str, *, low: int) -> int:
    try:
        days = int(value if value not in (None, "") else 0)
    except (TypeError, ValueError):
        raise _error(field, "A whole number of days")
    if not low <= days <= MAX_WAIT_DAYS:
        raise _error(field, f"Between {low} and {MAX_WAIT_DAYS} days")
    return days


def _rule_actions(sequence: Sequence) -> list[dict]:
    actions = []
    for step in sequence.steps.order_by("position"):
        if step.kind == StepKind.WAIT:
            params = {"business_days": step.wait_days}
            if sequence.calendar_id:
                params["calendar_id"] = sequence.calendar_id
            actions.append({"type": "wait", "params": params})
        else:
            actions.append({"type": "sequence_step", "params": {"step_id": step.pk}})
    actions.append({"type": "sequence_finish", "params": {}})
    return actions


def _sync_rule(sequence: Sequence) -> None:
    rule = rule_save_for_module(
        rule=sequence.rule,
        data={
            "name": f"Sequence: {sequence.name}"[:120],
            "description": "Runs the steps of a guided sequence; change it on the sequence's page.",
            # Never offered for manual runs or matched to events: only enrolments start it.
            "is_active": False,
            "trigger_type": TriggerType.MANUAL,
            "object_type": "",
            "actions": _rule_actions(sequence),
            "max_attempts": 5,
        },
        run_as=sequence.created_by,
    )
    if sequence.rule_id != rule.pk:
        sequence.rule = rule
        sequence.save(update_fields=["rule"])


def _clean_fields(fields: dict) -> dict:
    from rapport.calendars.models import BusinessCalendar

    clean = {}
    if "name" in fields:
        name = str(fields.get("name") or "").strip()
        if not name:
            raise _error("name", "Give the sequence a name", "required")
        clean["name"] = name[:120]
    if "description" in fields:
        clean["description"] = str(fields.get("description") or "")[:4000]
    if "is_active" in fields:
        clean["is_active"] = bool(fields["is_active"])
    if "calendar_id" in fields:
        calendar_id = fields.get("calendar_id")
        calendar = None
        if calendar_id not in (None, ""):
            calendar = BusinessCalendar.objects.filter(pk=calendar_id).first()
            if calendar is None:
                raise _error("calendar_id", "No such business calendar")
        clean["calendar"] = calendar
    return clean


def _write_steps(sequence: Sequence, steps: list[dict]) -> None:
    SequenceStep.objects.bulk_create(
        SequenceStep(sequence=sequence, position=i, **step) for i, step in enumerate(steps)
    )


def sequence_create(*, actor: User, fields: dict, steps: list[dict]) -> Sequence:
    """A sequence with its steps and the automation rule that runs them."""
    require_writer(actor)
    clean = _clean_fields({"description": "", **fields})
    if "name" not in clean:
        raise _error("name", "Give the sequence a name", "required")
    clean_steps = _clean_steps(steps)
    with transaction.atomic():
        sequence = Sequence.objects.create(created_by=actor, **clean)
        _write_steps(sequence, clean_steps)
        _sync_rule(sequence)
    return sequence


def sequence_update(
    *,
    sequence: Sequence,
    actor: User,
    fields: dict,
    steps: list[dict] | None = None,
    expected_version: int | None = None,
) -> Sequence:
    """Change the fields and, while nobody was ever enrolled, the steps (a run in progress
    walks its rule's steps by position, so they are fixed once people are in it)."""
    if not can_change(sequence, actor):
        raise PermissionDenied(
            "Only the sequence's author, managers and admins change it", code="not_author"
        )
    clean = _clean_fields(fields)
    clean_steps = _clean_steps(steps) if steps is not None else None
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        if expected_version is not None and locked.version != expected_version:
            raise StaleVersion(locked.version)
        if clean_steps is not None:
            if locked.enrolments.exists():
                raise Conflict(
                    "People are enrolled in this sequence: its steps are fixed. "
                    "Copy it to change the steps."
                )
            locked.steps.all().delete()
            _write_steps(locked, clean_steps)
        for key, value in clean.items():
            setattr(locked, key, value)
        locked.version += 1
        locked.save()
        _sync_rule(locked)
    return locked


# ----- enrolments --------------------------------------------------------------------------


def _person_visible(actor: User, object_type: str, pk: int):
    model = PEOPLE.get(object_type)
    if model is None:
        raise _error("object_type", "Enrol contacts or leads", "invalid_choice")
    return visible(model.objects.filter(pk=pk), actor).first()


def enrolment_create(
    *, sequence: Sequence, actor: User, record, rep: User | None = None
) -> Enrolment:
    """Enrol one contact or lead the actor can see; the run starts at once. Raises
    ValidationError (inactive sequence, already in it) or PermissionDenied."""
    require_writer(actor)
    object_type = record._meta.model_name
    # Visibility is checked here too, so every path (UI, API, a rule's action) is held to it.
    if object_type not in PEOPLE or _person_visible(actor, object_type, record.pk) is None:
        raise _error("record", "No such contact or lead", "not_found")
    if not sequence.is_active:
        raise _error("sequence", "This sequence is inactive", "inactive")
    rep = rep or getattr(record, "owner", None) or actor
    if not rep.is_active:
        rep = actor
    now = timezone.now()
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                sequence=sequence,
                rep=rep,
                enrolled_by=actor,
                enrolled_at=now,
                **{object_type: record},
            )
            run = start_run(
                rule=sequence.rule,
                object_type=object_type,
                object_id=record.pk,
                input={"enrolment_id": enrolment.pk},
                started_by=actor,
                dedupe_key=f"enrolment-{enrolment.pk}",
            )
            enrolment.run = run
            enrolment.save(update_fields=["run"])
            timeline_record(
                subject=record,
                kind=EventKind.SEQUENCE_STEP,
                actor=actor,
                summary=f"Enrolled in sequence {sequence.name}",
                payload={"sequence_id": sequence.pk, "enrolment_id": enrolment.pk},
            )
    except IntegrityError:
        raise _error("record", f"{record} is already in this sequence", "already_enrolled")
    return enrolment


def enrolment_create_many(
    *, sequence: Sequence, actor: User, object_type: str, ids: list[int]
) -> dict:
    """Enrol a selection; returns {"enrolled": [ids], "skipped": {id: reason}}. Records the
    actor cannot see are skipped as "not found" (no existence leak)."""
    if object_type not in PEOPLE:
        raise _error("object_type", "Enrol contacts or leads", "invalid_choice")
    ids = list(dict.fromkeys(int(i) for i in ids))
    if not ids:
        raise _error("ids", "Select at least one record", "required")
    if len(ids) > MAX_BULK:
        raise _error("ids", f"At most {MAX_BULK} records at once", "too_many")
    found = {r.pk: r for r in visible(PEOPLE[object_type].objects.filter(pk__in=ids), actor)}
    enrolled, skipped = [], {}
    for pk in ids:
        record = found.get(pk)
        if record is None:
            skipped[pk] = "not found"
            continue
        try:
            enrolment_create(sequence=sequence, actor=actor, record=record)
        except ValidationError as exc:
            skipped[pk] = " ".join(exc.messages)
            continue
        enrolled.append(pk)
    return {"enrolled": enrolled, "skipped": skipped}


def _require_control(enrolment: Enrolment, actor: User) -> None:
    require_writer(actor)
    if _person_visible(actor, enrolment.object_type, enrolment.person.pk) is None:
        raise RecordNotFound("enrolment")


def _wake(enrolment: Enrolment) -> None:
    """Pull the run forward: a wait step re-parks it until its own end."""
    if enrolment.run_id:
        Run.objects.filter(
            pk=enrolment.run_id, state__in=[RunState.WAITING, RunState.PENDING]
        ).update(next_run_at=timezone.now())
        from rapport.automation.engine import enqueue_execution

        transaction.on_commit(enqueue_execution)


def enrolment_pause(*, enrolment: Enrolment, actor: User) -> Enrolment:
    """No step runs while paused (a step due meanwhile waits for the resume)."""
    _require_control(enrolment, actor)
    with transaction.atomic():
        locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if locked.state != EnrolmentState.ACTIVE:
            raise Conflict("Only an active enrolment can be paused")
        locked.state, locked.paused_at = EnrolmentState.PAUSED, timezone.now()
        locked.save(update_fields=["state", "paused_at"])
        _event(locked, actor, f"Sequence {locked.sequence.name} paused")
    return locked


def enrolment_resume(*, enrolment: Enrolment, actor: User) -> Enrolment:
    _require_control(enrolment, actor)
    with transaction.atomic():
        locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if locked.state != EnrolmentState.PAUSED:
            raise Conflict("Only a paused enrolment can be resumed")
        locked.state, locked.paused_at = EnrolmentState.ACTIVE, None
        locked.save(update_fields=["state", "paused_at"])
        _event(locked, actor, f"Sequence {locked.sequence.name} resumed")
        _wake(locked)
    return locked


def enrolment_stop(
    *, enrolment: Enrolment, actor: User | None, reason: str = StopReason.MANUAL, step=None
) -> Enrolment:
    """End an open enrolment for `reason` (a person, a reply, a meeting, an unsubscribe, a
    bounce); its run is cancelled, or ends at its next step if a worker holds it right now."""
    if actor is not None:
        _require_control(enrolment, actor)
    with transaction.atomic():
        locked = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
        if not locked.is_open:
            return locked
        locked.state, locked.stop_reason = EnrolmentState.STOPPED, reason
        locked.ended_at = timezone.now()
        if reason == StopReason.REPLIED and step is not None:
            locked.replied_step = step
        locked.save(update_fields=["state", "stop_reason", "ended_at", "replied_step"])
        if locked.run_id:
            Run.objects.filter(
                pk=locked.run_id, state__in=[RunState.WAITING, RunState.PENDING]
            ).update(
                state=RunState.CANCELLED,
                finished_at=timezone.now(),
                error=f"Enrolment stopped: {StopReason(reason).label}",
            )
        _event(
            locked,
            actor,
            f"Sequence {locked.sequence.name} stopped: {StopReason(reason).label}",
        )
    return locked


def _event(enrolment: Enrolment, actor, summary: str, **payload) -> None:
    timeline_record(
        subject=enrolment.person,
        kind=EventKind.SEQUENCE_STEP,
        actor=actor,
        summary=summary,
        payload={
            "sequence_id": enrolment.sequence_id,
            "enrolment_id": enrolment.pk,
            "state": enrolment.state,
            **payload,
        },
    )


def until_resumed() -> datetime.datetime:
    """Where a paused enrolment's run parks (the resume pulls it forward)."""
    return timezone.now() + datetime.timedelta(days=365)

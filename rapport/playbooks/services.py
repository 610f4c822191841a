"""Playbook writes: admins and managers edit a stage's steps; whoever may edit an opportunity
checks its steps (each check on the timeline)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from rapport.identity.models import Role, User
from rapport.playbooks.models import PlaybookStep, StepCheck
from rapport.records.services import require_editable
from rapport.sales.models import Opportunity, Stage
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record


def _require_editor(actor: User) -> None:
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied("Only admins and managers edit playbooks")


def step_add(*, actor: User, stage: Stage, text: str, hint: str = "") -> PlaybookStep:
    _require_editor(actor)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Say what the step is"]}, code="required")
    if len(text) > 200:
        raise ValidationError({"text": ["At most 200 characters"]}, code="max_length")
    last = PlaybookStep.objects.filter(stage=stage).aggregate(m=Max("position"))["m"]
    return PlaybookStep.objects.create(
        stage=stage, text=text, hint=(hint or "").strip()[:500], position=(last or 0) + 1
    )


def step_delete(*, actor: User, step: PlaybookStep) -> None:
    _require_editor(actor)
    step.delete()


def step_check(*, actor: User, opportunity: Opportunity, step: PlaybookStep, done: bool) -> bool:
    """Check or uncheck a step of the opportunity's current stage; True when it changed."""
    require_editable(opportunity, actor)
    if step.stage_id != opportunity.stage_id:
        raise ValidationError(
            {"step_id": ["This step belongs to another stage than the opportunity's"]},
            code="wrong_stage",
        )
    with transaction.atomic():
        if done:
            try:
                with transaction.atomic():
                    StepCheck.objects.create(
                        opportunity=opportunity,
                        step=step,
                        checked_by=actor,
                        checked_at=timezone.now(),
                    )
            except IntegrityError:
                return False
        elif not StepCheck.objects.filter(opportunity=opportunity, step=step).delete()[0]:
            return False
        timeline_record(
            subject=opportunity,
            kind=EventKind.UPDATED,
            actor=actor,
            summary=f"{'Done' if done else 'Not done'}: {step.text}",
            payload={"playbook_step": step.pk, "text": step.text, "done": done},
        )
    return True

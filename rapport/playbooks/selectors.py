from dataclasses import dataclass

from rapport.playbooks.models import PlaybookStep, StepCheck
from rapport.sales.models import Opportunity


@dataclass
class PlaybookRow:
    step: PlaybookStep
    done: bool
    checked_by: object | None
    checked_at: object | None


def playbook_for(opportunity: Opportunity) -> list[PlaybookRow]:
    """The steps of the opportunity's current stage, with what is done."""
    steps = list(PlaybookStep.objects.filter(stage_id=opportunity.stage_id))
    checks = {
        c.step_id: c
        for c in StepCheck.objects.filter(opportunity=opportunity, step__in=steps).select_related(
            "checked_by"
        )
    }
    return [
        PlaybookRow(
            step=s,
            done=s.pk in checks,
            checked_by=checks[s.pk].checked_by if s.pk in checks else None,
            checked_at=checks[s.pk].checked_at if s.pk in checks else None,
        )
        for s in steps
    ]

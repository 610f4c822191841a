"""Stage playbooks over REST (/api/playbooks): a stage's steps (admins and managers write
them) and an opportunity's checklist."""

import datetime

from ninja import Field, Router, Schema, Status

from rapport.playbooks import selectors, services
from rapport.playbooks.models import PlaybookStep
from rapport.records.api import ERRORS
from rapport.records.exceptions import RecordNotFound
from rapport.sales.models import Stage
from rapport.sales.selectors import opportunity_get_for_user

router = Router(tags=["playbooks"])


class PlaybookStepOut(Schema):
    id: int
    stage_id: int
    text: str
    hint: str
    position: int


class PlaybookStepIn(Schema):
    text: str = Field(..., min_length=1, max_length=200)
    hint: str = Field("", max_length=500)


class PlaybookItemOut(Schema):
    step: PlaybookStepOut
    done: bool
    checked_by_id: int | None
    checked_at: datetime.datetime | None

    @staticmethod
    def resolve_checked_by_id(obj) -> int | None:
        return obj.checked_by.pk if obj.checked_by else None


class PlaybookCheckIn(Schema):
    done: bool


def _stage(stage_id: int) -> Stage:
    stage = Stage.objects.filter(pk=stage_id).first()
    if stage is None:
        raise RecordNotFound("stage")
    return stage


@router.get(
    "/stages/{int:stage_id}/steps",
    response={200: list[PlaybookStepOut], **ERRORS},
    operation_id="playbook_steps_list",
)
def steps_list(request, stage_id: int):
    return list(_stage(stage_id).playbook.all())


@router.post(
    "/stages/{int:stage_id}/steps",
    response={201: PlaybookStepOut, **ERRORS},
    operation_id="playbook_step_create",
)
def step_create(request, stage_id: int, payload: PlaybookStepIn):
    step = services.step_add(
        actor=request.user, stage=_stage(stage_id), text=payload.text, hint=payload.hint
    )
    return Status(201, step)


@router.delete(
    "/steps/{int:step_id}", response={204: None, **ERRORS}, operation_id="playbook_step_delete"
)
def step_delete(request, step_id: int):
    step = PlaybookStep.objects.filter(pk=step_id).first()
    if step is None:
        raise RecordNotFound("step")
    services.step_delete(actor=request.user, step=step)
    return Status(204, None)


@router.get(
    "/opportunities/{int:pk}",
    response={200: list[PlaybookItemOut], **ERRORS},
    operation_id="playbook_opportunity_get",
)
def opportunity_playbook(request, pk: int):
    """The opportunity's current stage's steps and which are done."""
    return selectors.playbook_for(opportunity_get_for_user(pk=pk, user=request.user))


@router.put(
    "/opportunities/{int:pk}/steps/{int:step_id}",
    response={200: list[PlaybookItemOut], **ERRORS},
    operation_id="playbook_step_check",
)
def opportunity_step_check(request, pk: int, step_id: int, payload: PlaybookCheckIn):
    opportunity = opportunity_get_for_user(pk=pk, user=request.user)
    step = PlaybookStep.objects.filter(pk=step_id).first()
    if step is None:
        raise RecordNotFound("step")
    services.step_check(actor=request.user, opportunity=opportunity, step=step, done=payload.done)
    return selectors.playbook_for(opportunity)

"""Guided sequences over REST (/api/sequences): sequences with their steps and per-step
statistics, enrolments (one or a selection of contacts or leads), pause / resume / stop.
Thin: selectors decide what the caller sees, services what they may change."""

import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import ERRORS, Id
from rapport.sequences import selectors, services

router = Router(tags=["sequences"])

StepKindName = Literal["email", "call", "task", "linkedin", "wait"]
PersonType = Literal["contact", "lead"]
EnrolmentStateName = Literal["active", "paused", "finished", "stopped"]


class SequenceStepIn(Schema):
    kind: StepKindName
    template_id: Id | None = Field(None, description="email steps: an active email template")
    subject: str = Field("", max_length=200, description="call / task / LinkedIn steps")
    notes: str = Field("", max_length=4000)
    wait_days: int = Field(0, ge=0, le=90, description="wait steps: business days")
    due_in_days: int = Field(0, ge=0, le=90, description="tasks: due after business days")


class SequenceStepOut(Schema):
    id: int
    position: int
    kind: str
    template_id: int | None
    subject: str
    notes: str
    wait_days: int
    due_in_days: int


class SequenceStepStatsOut(Schema):
    step_id: int
    position: int
    reached: int
    sent: int
    skipped: int
    replied: int
    tasks: int
    tasks_done: int


class SequenceIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    is_active: bool = True
    calendar_id: Id | None = Field(None, description="business calendar of the waits")
    steps: list[SequenceStepIn] = Field(
        ...,
        min_length=1,
        max_length=30,
        description="changed by a PATCH only while nobody was ever enrolled (else 409)",
    )


class SequenceSummaryOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    calendar_id: int | None
    created_by_id: int
    version: int
    created_at: datetime.datetime


class SequenceTotalsOut(Schema):
    enrolled: int
    active: int
    paused: int
    finished: int
    stopped: int
    stopped_by: dict[str, int]


class SequenceOut(SequenceSummaryOut):
    steps: list[SequenceStepOut]
    stats: list[SequenceStepStatsOut]
    totals: SequenceTotalsOut


class SequencePage(Schema):
    items: list[SequenceSummaryOut]
    next_cursor: str | None
    count: int | str


class SequenceListParams(Schema):
    active: bool | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class EnrolIn(Schema):
    object_type: PersonType
    ids: list[Id] = Field(..., min_length=1, max_length=1000)


class EnrolResultOut(Schema):
    enrolled: list[int]
    skipped: dict[str, str] = Field(..., description="id → why it was not enrolled")


class EnrolmentOut(Schema):
    id: int
    sequence_id: int
    contact_id: int | None
    lead_id: int | None
    rep_id: int
    state: str
    stop_reason: str
    enrolled_at: datetime.datetime
    ended_at: datetime.datetime | None
    next_step_at: datetime.datetime | None
    steps_done: int

    @staticmethod
    def resolve_next_step_at(obj) -> datetime.datetime | None:
        if obj.state != "active" or obj.run is None or obj.run.state not in ("pending", "waiting"):
            return None
        return obj.run.next_run_at

    @staticmethod
    def resolve_steps_done(obj) -> int:
        return getattr(obj, "steps_done", None) or obj.done_steps.count()


class EnrolmentPage(Schema):
    items: list[EnrolmentOut]
    next_cursor: str | None
    count: int | str


class EnrolmentListParams(Schema):
    sequence_id: Id | None = None
    contact_id: Id | None = None
    lead_id: Id | None = None
    state: EnrolmentStateName | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


def _detail(sequence) -> dict:
    stats = selectors.step_stats(sequence)
    return {
        **{f: getattr(sequence, f) for f in SequenceSummaryOut.model_fields},
        "steps": [row["step"] for row in stats],
        "stats": [
            {
                "step_id": row["step"].pk,
                "position": row["step"].position,
                **{k: row[k] for k in ("reached", "sent", "skipped", "replied", "tasks")},
                "tasks_done": row["tasks_done"],
            }
            for row in stats
        ],
        "totals": selectors.sequence_totals(sequence),
    }


@router.get("", response={200: SequencePage, **ERRORS}, operation_id="sequences_list")
def sequences_list(request, params: Query[SequenceListParams]):
    qs = selectors.sequences_visible_to(request.user)
    if params.active is not None:
        qs = qs.filter(is_active=params.active)
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=params.cursor, limit=params.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor, "count": page.count}


@router.post("", response={201: SequenceOut, **ERRORS}, operation_id="sequence_create")
def sequence_create(request, payload: SequenceIn, response: HttpResponse):
    data = payload.dict()
    steps = data.pop("steps")
    sequence = services.sequence_create(actor=request.user, fields=data, steps=steps)
    set_etag(response, sequence.version)
    return Status(201, _detail(sequence))


@router.get(
    "/enrolments", response={200: EnrolmentPage, **ERRORS}, operation_id="sequence_enrolments_list"
)
def enrolments_list(request, params: Query[EnrolmentListParams]):
    qs = selectors.enrolments_visible_to(request.user)
    for name in ("sequence_id", "contact_id", "lead_id", "state"):
        value = getattr(params, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    page = keyset_page(
        selectors.with_steps_done(qs),
        sort="-enrolled_at",
        allowed={"enrolled_at"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor, "count": page.count}


@router.get(
    "/enrolments/{int:pk}",
    response={200: EnrolmentOut, **ERRORS},
    operation_id="sequence_enrolment_get",
)
def enrolment_get(request, pk: int):
    return selectors.enrolment_get(pk=pk, user=request.user)


@router.post(
    "/enrolments/{int:pk}/{action}",
    response={200: EnrolmentOut, **ERRORS},
    operation_id="sequence_enrolment_action",
)
def enrolment_action(request, pk: int, action: Literal["pause", "resume", "stop"]):
    enrolment = selectors.enrolment_get(pk=pk, user=request.user)
    change = {
        "pause": services.enrolment_pause,
        "resume": services.enrolment_resume,
        "stop": services.enrolment_stop,
    }[action]
    change(enrolment=enrolment, actor=request.user)
    return selectors.enrolment_get(pk=pk, user=request.user)


@router.get("/{int:pk}", response={200: SequenceOut, **ERRORS}, operation_id="sequence_get")
def sequence_get(request, pk: int, response: HttpResponse):
    sequence = selectors.sequence_get(pk=pk, user=request.user)
    set_etag(response, sequence.version)
    return _detail(sequence)


@router.patch("/{int:pk}", response={200: SequenceOut, **ERRORS}, operation_id="sequence_update")
def sequence_update(request, pk: int, payload: PatchDict[SequenceIn], response: HttpResponse):
    """Change the given fields: `null` clears the description or the calendar and answers
    422 naming the field for the others (a null `is_active` was stored as False)."""
    sequence = selectors.sequence_get(pk=pk, user=request.user)
    data = dict(payload)
    steps = data.pop("steps", None)
    sequence = services.sequence_update(
        sequence=sequence,
        actor=request.user,
        fields=data,
        steps=steps,
        expected_version=expected_version(request),
    )
    set_etag(response, sequence.version)
    return _detail(sequence)


@router.post(
    "/{int:pk}/enrolments", response={200: EnrolResultOut, **ERRORS}, operation_id="sequence_enrol"
)
def sequence_enrol(request, pk: int, payload: EnrolIn):
    """Enrol contacts or leads; records the caller cannot see come back as skipped "not found"."""
    sequence = selectors.sequence_get(pk=pk, user=request.user)
    result = services.enrolment_create_many(
        sequence=sequence, actor=request.user, object_type=payload.object_type, ids=payload.ids
    )
    return {
        "enrolled": result["enrolled"],
        "skipped": {str(k): v for k, v in result["skipped"].items()},
    }

"""REST endpoints of the SLA app: policies (administrators change them, managers read
them), a case's clock and its events, and recomputation."""

import datetime

from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema, Status

from rapport.calendars.models import BusinessCalendar
from rapport.cases.models import CaseCategory, Queue
from rapport.identity.models import User
from rapport.identity.services import require_settings_admin
from rapport.records.api import ERRORS
from rapport.sla import selectors
from rapport.sla.models import SlaMetric
from rapport.sla.policies import sla_policy_delete, sla_policy_save
from rapport.sla.services import sla_recompute

router = Router(tags=["sla"])


class SlaEscalationSchema(Schema):
    notify_owner: bool = False
    notify_queue: bool = False
    notify_user_id: int | None = None
    reassign_user_id: int | None = None
    reassign_queue_id: int | None = None
    raise_priority: bool = False


class SlaEscalationsSchema(Schema):
    warning: SlaEscalationSchema | None = None
    breach: SlaEscalationSchema | None = None
    second: SlaEscalationSchema | None = None


class SlaPolicyIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    position: int = Field(0, ge=0)
    is_active: bool = True
    priorities: list[str] = Field([], description="empty: any priority")
    tiers: list[str] = Field([], description="empty: any tier")
    channels: list[str] = Field([], description="empty: any channel")
    category_ids: list[int] = Field([], description="empty: any category")
    first_response_minutes: int | None = Field(None, description="business minutes")
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    calendar_id: int | None = Field(None, description="null: the clock runs 24×7")
    pause_statuses: list[str] = ["pending_customer", "on_hold"]
    warn_minutes_before: int | None = None
    warn_percent_before: int | None = None
    second_level_after_minutes: int | None = None
    escalate_in_business_hours_only: bool = False
    escalation_calendar_id: int | None = None
    escalations: SlaEscalationsSchema = Field(
        SlaEscalationsSchema(), description="warning / breach / second → actions (null: none)"
    )


class SlaPolicyOut(Schema):
    id: int
    name: str
    position: int
    is_active: bool
    priorities: list[str]
    tiers: list[str]
    channels: list[str]
    category_ids: list[int]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    calendar_id: int | None
    pause_statuses: list[str]
    warn_minutes_before: int | None
    warn_percent_before: int | None
    second_level_after_minutes: int | None
    escalate_in_business_hours_only: bool
    escalation_calendar_id: int | None
    escalations: SlaEscalationsSchema
    updated_at: datetime.datetime

    @staticmethod
    def resolve_category_ids(obj) -> list[int]:
        return [c.pk for c in obj.categories.all()]

    @staticmethod
    def resolve_escalations(obj) -> dict:
        return {
            e.level: {
                "notify_owner": e.notify_owner,
                "notify_queue": e.notify_queue,
                "notify_user_id": e.notify_user_id,
                "reassign_user_id": e.reassign_user_id,
                "reassign_queue_id": e.reassign_queue_id,
                "raise_priority": e.raise_priority,
            }
            for e in obj.escalations.all()
        }


class SlaMetricOut(Schema):
    metric: SlaMetric
    cycle: int
    state: str = Field(..., description="running / paused / stopped / met")
    target_minutes: int
    elapsed_business_minutes: float
    started_at: datetime.datetime | None
    warn_at: datetime.datetime | None
    due_at: datetime.datetime | None = Field(..., description="the breach instant (UTC)")
    met_at: datetime.datetime | None
    breached: bool


class SlaEventOut(Schema):
    id: int
    kind: str
    metric: str
    cycle: int
    at: datetime.datetime
    business_minutes_elapsed: float | None
    status: str
    policy_id: int | None
    payload: dict


class SlaCaseOut(Schema):
    case_id: int
    policy_id: int | None
    policy_name: str | None
    paused: bool
    due_at: datetime.datetime | None
    metrics: list[SlaMetricOut]
    events: list[SlaEventOut]


class SlaRecomputeIn(Schema):
    case_ids: list[int] = Field([], max_length=1000, description="empty: every open case")


class SlaRecomputeOut(Schema):
    recomputed: int | None = Field(..., description="how many cases (null when queued)")
    queued: bool = Field(..., description="every open case: recomputed in the background")


def _by_id(model, pk, field, **filters):
    if pk is None:
        return None
    found = model.objects.filter(pk=pk, **filters).first()
    if found is None:
        raise ValidationError({field: [ValidationError("Unknown id", code="not_found")]})
    return found


def _save(request, payload: SlaPolicyIn, policy=None):
    data = payload.dict()
    categories = list(CaseCategory.objects.filter(pk__in=data.pop("category_ids")))
    if len(categories) != len(set(payload.category_ids)):
        raise ValidationError({"category_ids": [ValidationError("Unknown id", code="not_found")]})
    data["calendar"] = _by_id(BusinessCalendar, data.pop("calendar_id"), "calendar_id")
    data["escalation_calendar"] = _by_id(
        BusinessCalendar, data.pop("escalation_calendar_id"), "escalation_calendar_id"
    )
    escalations = {}
    for level, actions in (data.pop("escalations") or {}).items():
        if actions is None:
            continue
        where = f"escalations.{level}"
        escalations[str(level)] = {
            "notify_owner": actions["notify_owner"],
            "notify_queue": actions["notify_queue"],
            "raise_priority": actions["raise_priority"],
            "notify_user": _by_id(
                User, actions["notify_user_id"], f"{where}.notify_user_id", is_active=True
            ),
            "reassign_user": _by_id(
                User, actions["reassign_user_id"], f"{where}.reassign_user_id", is_active=True
            ),
            "reassign_queue": _by_id(
                Queue, actions["reassign_queue_id"], f"{where}.reassign_queue_id"
            ),
        }
    return sla_policy_save(
        actor=request.user,
        data=data,
        categories=categories,
        escalations=escalations,
        policy=policy,
    )


@router.get(
    "/policies", response={200: list[SlaPolicyOut], **ERRORS}, operation_id="sla_policies_list"
)
def policies_list(request):
    return list(selectors.policies_for(request.user))


@router.post("/policies", response={201: SlaPolicyOut, **ERRORS}, operation_id="sla_policy_create")
def policy_create(request, payload: SlaPolicyIn):
    policy = _save(request, payload)
    return Status(201, selectors.policy_get(user=request.user, pk=policy.pk))


@router.get(
    "/policies/{int:pk}", response={200: SlaPolicyOut, **ERRORS}, operation_id="sla_policy_get"
)
def policy_get(request, pk: int):
    return selectors.policy_get(user=request.user, pk=pk)


@router.put(
    "/policies/{int:pk}",
    response={200: SlaPolicyOut, **ERRORS},
    operation_id="sla_policy_update",
    summary="Replace a policy (open cases are recomputed in the background)",
)
def policy_update(request, pk: int, payload: SlaPolicyIn):
    policy = selectors.policy_get(user=request.user, pk=pk)
    _save(request, payload, policy)
    return selectors.policy_get(user=request.user, pk=pk)


@router.delete(
    "/policies/{int:pk}", response={204: None, **ERRORS}, operation_id="sla_policy_delete"
)
def policy_delete(request, pk: int):
    policy = selectors.policy_get(user=request.user, pk=pk)
    sla_policy_delete(actor=request.user, policy=policy)
    return Status(204, None)


@router.get(
    "/cases/{int:case_id}",
    response={200: SlaCaseOut, **ERRORS},
    operation_id="sla_case_get",
    summary="A case's SLA clock now: each metric's state and due time, and its SLA events",
)
def case_get(request, case_id: int):
    case = selectors.case_get_for_sla(user=request.user, case_id=case_id)
    state = selectors.case_sla(case=case)
    return {
        "case_id": case.pk,
        "policy_id": state.policy.pk if state.policy else None,
        "policy_name": state.policy.name if state.policy else None,
        "paused": state.paused,
        "due_at": case.due_at,
        "metrics": [
            {
                "metric": m.metric,
                "cycle": m.cycle,
                "state": m.state,
                "target_minutes": m.target,
                "elapsed_business_minutes": round(m.elapsed, 2),
                "started_at": m.started_at,
                "warn_at": m.warn_at,
                "due_at": m.due_at,
                "met_at": m.met_at,
                "breached": m.breached,
            }
            for m in state.metrics
        ],
        "events": state.events,
    }


@router.post(
    "/recompute",
    response={200: SlaRecomputeOut, 202: SlaRecomputeOut, **ERRORS},
    operation_id="sla_recompute",
    summary="Recompute clocks from their history (administrators): the given cases now, "
    "or every open case in the background",
)
def recompute(request, payload: SlaRecomputeIn):
    require_settings_admin(request.user)
    if not payload.case_ids:
        from django.db import transaction

        from rapport.sla.tasks import sla_recompute_task

        transaction.on_commit(lambda: sla_recompute_task.enqueue(actor_id=request.user.pk))
        return Status(202, {"recomputed": None, "queued": True})
    from rapport.cases.models import Case

    cases = Case.objects.filter(pk__in=payload.case_ids)
    return {"recomputed": sla_recompute(cases=cases, actor=request.user), "queued": False}

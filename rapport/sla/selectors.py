"""Reads of the SLA app, with visibility: policies are settings (administrators and
managers read them); a case's clock is shown to whoever may see the case."""

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from rapport.cases.selectors import cases_visible_to
from rapport.identity.services import can_view_settings
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.sla.clock import MetricClock, compute_clock
from rapport.sla.models import INPUT_KINDS, SlaClock, SlaEvent, SlaMetric, SlaPolicy


def policies_for(user) -> QuerySet[SlaPolicy]:
    if not can_view_settings(user):
        raise PermissionDenied("Only administrators and managers may see SLA policies")
    return SlaPolicy.objects.prefetch_related("categories", "escalations").select_related(
        "calendar", "escalation_calendar"
    )


def policy_get(*, user, pk: int) -> SlaPolicy:
    found = policies_for(user).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound("SLA policy")
    return found


def case_get_for_sla(*, user, case_id: int):
    case = cases_visible_to(user).filter(pk=case_id).first()
    if case is None:
        raise RecordNotFound("case")
    return case


@dataclass
class CaseSla:
    case: object
    policy: SlaPolicy | None
    now: datetime.datetime
    metrics: list[MetricClock]
    events: list[SlaEvent]

    @property
    def paused(self) -> bool:
        return any(m.state == "paused" for m in self.metrics)


def case_sla(*, case, now: datetime.datetime | None = None, events_limit: int = 100) -> CaseSla:
    """The case's clock now (policy, each metric's state) and its latest SLA events."""
    from rapport.sla.services import clock_inputs, rules_of

    now = now or timezone.now()
    clock = SlaClock.objects.select_related("policy").filter(case=case).first()
    policy = clock.policy if clock else None
    events = list(
        SlaEvent.objects.filter(case=case)
        .select_related("policy")
        .order_by("-at", "-id")[:events_limit]
    )
    metrics: list[MetricClock] = []
    if policy is not None:
        inputs = SlaEvent.objects.filter(case=case, kind__in=INPUT_KINDS).order_by("at", "id")
        computed = compute_clock(clock_inputs(inputs), rules_of(policy), now)
        metrics = [computed[m] for m in SlaMetric.values if m in computed]
    return CaseSla(case=case, policy=policy, now=now, metrics=metrics, events=events)

"""Writes of the SLA app: the case-event hook, recomputation, the scheduler's escalation
pass and policy administration.

The cases app calls `sla_on_case_event` at each point its clock cares about. The SLA app
remembers the last status it saw for a case (SlaClock.status), so a status change needs
no `previous_status`; pass it only for a case the SLA app has never seen, to start its
history in the status it had before.
"""

import datetime
import logging

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from rapport.calendars.clock import CalendarSpec, is_open_at, next_opening, spec_of
from rapport.sla.clock import MET, PAUSED, RUNNING, STOPPED, ClockInput, ClockRules, compute_clock
from rapport.sla.models import (
    ESCALATION_KINDS,
    INPUT_KINDS,
    EscalationLevel,
    SlaClock,
    SlaEscalation,
    SlaEvent,
    SlaEventKind,
    SlaMetric,
    SlaPolicy,
)

log = logging.getLogger(__name__)

CASE_EVENTS = {"created", "status_changed", "agent_replied", "customer_replied", "fields_changed"}

_LEVEL_OF_KIND = {
    SlaEventKind.WARNED: EscalationLevel.WARNING,
    SlaEventKind.BREACHED: EscalationLevel.BREACH,
    SlaEventKind.ESCALATED: EscalationLevel.SECOND,
}
_TRIGGER_OF_KIND = {
    SlaEventKind.WARNED: "case.sla_warning",
    SlaEventKind.BREACHED: "case.sla_breached",
    SlaEventKind.ESCALATED: "case.sla_breached",
}


# ----- reading the rules ----------------------------------------------------------------------


class _Specs:
    """Calendars loaded once per pass (a pass may touch thousands of cases)."""

    def __init__(self):
        self._specs: dict[int, CalendarSpec] = {}

    def get(self, calendar_id: int | None) -> CalendarSpec | None:
        if calendar_id is None:
            return None
        if calendar_id not in self._specs:
            from rapport.calendars.models import BusinessCalendar

            calendar = BusinessCalendar.objects.prefetch_related("periods", "holidays").get(
                pk=calendar_id
            )
            self._specs[calendar_id] = spec_of(calendar)
        return self._specs[calendar_id]


def rules_of(policy: SlaPolicy | None, specs: _Specs | None = None) -> ClockRules:
    if policy is None:
        return ClockRules(pause_statuses=frozenset())
    specs = specs or _Specs()
    return ClockRules(
        first_response=policy.first_response_minutes,
        next_response=policy.next_response_minutes,
        resolution=policy.resolution_minutes,
        pause_statuses=frozenset(policy.pause_statuses or []),
        spec=specs.get(policy.calendar_id),
        warn_minutes_before=policy.warn_minutes_before,
        warn_percent_before=policy.warn_percent_before,
        second_level_after=policy.second_level_after_minutes,
    )


def _matches(policy: SlaPolicy, case) -> bool:
    if policy.priorities and case.priority not in policy.priorities:
        return False
    if policy.tiers and case.tier not in policy.tiers:
        return False
    if policy.channels and case.channel not in policy.channels:
        return False
    category_ids = {c.pk for c in policy.categories.all()}
    return not category_ids or bool({case.category_id, case.subcategory_id} & category_ids)


def policy_for_case(case) -> SlaPolicy | None:
    """The first active policy (by position) whose conditions the case meets."""
    for policy in SlaPolicy.objects.filter(is_active=True).prefetch_related("categories"):
        if _matches(policy, case):
            return policy
    return None


def clock_inputs(events) -> list[ClockInput]:
    """SlaEvent input rows (in recorded order) as the pure clock's inputs."""
    return [ClockInput(at=e.at, kind=e.kind, status=e.status) for e in events]


def case_inputs(case) -> list[ClockInput]:
    return clock_inputs(
        SlaEvent.objects.filter(case=case, kind__in=INPUT_KINDS).order_by("at", "id")
    )


# ----- the case-event hook --------------------------------------------------------------------


def _write_due_fields(case, clocks) -> None:
    values = {}
    for metric in SlaMetric.values:
        clock = clocks.get(metric)
        values[f"{metric}_due_at"] = clock.due_at if clock is not None and clock.pending else None
    pending = [v for v in values.values() if v is not None]
    values["due_at"] = min(pending) if pending else None
    changed = [name for name, value in values.items() if getattr(case, name) != value]
    if changed:
        for name in changed:
            setattr(case, name, values[name])
        type(case).objects.filter(pk=case.pk).update(**{n: values[n] for n in changed})


def _claimed(case_ids) -> dict[int, set[tuple[str, int, str]]]:
    claimed: dict[int, set] = {}
    for case_id, metric, cycle, kind in SlaEvent.objects.filter(
        case_id__in=case_ids, kind__in=ESCALATION_KINDS
    ).values_list("case_id", "metric", "cycle", "kind"):
        claimed.setdefault(case_id, set()).add((metric, cycle, kind))
    return claimed


def _next_check(clocks, claimed: set, now, after=None) -> datetime.datetime | None:
    """The earliest unclaimed threshold: of a running metric, or already passed (a breach
    before a pause is still recorded); later than `after` when the ones up to it were just
    handled or held for business hours."""
    upcoming = [
        instant
        for clock in clocks.values()
        for kind, instant in clock.thresholds()
        if (clock.metric, clock.cycle, kind) not in claimed
        and (clock.state == RUNNING or instant <= now)
        and (after is None or instant > after)
    ]
    return min(upcoming) if upcoming else None


def _diff_events(case, policy, before, after, at, actor) -> list[SlaEvent]:
    rows = []

    def add(clock, kind, **payload):
        rows.append(
            SlaEvent(
                case=case,
                policy=policy,
                metric=clock.metric,
                kind=kind,
                cycle=clock.cycle,
                at=at,
                business_minutes_elapsed=round(clock.elapsed, 2),
                payload=payload,
                actor=actor if actor is not None and actor.is_authenticated else None,
            )
        )

    for metric, now_clock in after.items():
        old = before.get(metric)
        if old is None or old.cycle != now_clock.cycle:
            add(now_clock, SlaEventKind.STARTED)
            old = None
        if now_clock.state == MET and (old is None or old.state != MET):
            add(now_clock, SlaEventKind.MET, breached=now_clock.breached)
        elif old is not None and old.state == RUNNING and now_clock.state in (PAUSED, STOPPED):
            add(now_clock, SlaEventKind.PAUSED)
        elif old is not None and old.state in (PAUSED, STOPPED, MET) and now_clock.state == RUNNING:
            add(now_clock, SlaEventKind.RESUMED)
    return rows


def sla_on_case_event(
    *,
    case,
    event: str,
    at: datetime.datetime | None = None,
    actor=None,
    previous_status: str | None = None,
) -> None:
    """Record what happened to the case, (re)pick its policy and recompute its clock: appends
    SLA events and saves the case's *_due_at / due_at. Idempotent for repeated
    status_changed/fields_changed calls (nothing changed, nothing written)."""
    if event not in CASE_EVENTS:
        raise ValueError(f"unknown SLA case event {event!r}")
    at = at or timezone.now()
    with transaction.atomic():
        clock, _ = SlaClock.objects.select_for_update().get_or_create(case=case)
        # The clock's inputs and its claimed escalations, in one read.
        existing, claimed = [], set()
        for row in SlaEvent.objects.filter(
            case=case, kind__in=INPUT_KINDS + ESCALATION_KINDS
        ).order_by("at", "id"):
            if row.kind in ESCALATION_KINDS:
                claimed.add((row.metric, row.cycle, row.kind))
            else:
                existing.append(row)
        new_inputs: list[SlaEvent] = []

        def add_input(kind, when, status=""):
            new_inputs.append(
                SlaEvent(
                    case=case,
                    kind=kind,
                    at=when,
                    status=status,
                    actor=actor if actor is not None and actor.is_authenticated else None,
                )
            )

        if not existing:
            opened_at = at if event == "created" else (case.created_at or at)
            first_status = case.status if event == "created" else (previous_status or case.status)
            add_input(SlaEventKind.OPENED, min(opened_at, at), first_status)
            clock.status = first_status
        if event == "status_changed" and case.status != clock.status:
            add_input(SlaEventKind.STATUS, at, case.status)
        elif event == "agent_replied":
            add_input(SlaEventKind.AGENT_REPLY, at)
        elif event == "customer_replied":
            add_input(SlaEventKind.CUSTOMER_REPLY, at)

        policy = policy_for_case(case)
        policy_changed = existing and (policy.pk if policy else None) != clock.policy_id
        rules = rules_of(policy)
        before = compute_clock(clock_inputs(existing), rules, at) if existing else {}
        for row in new_inputs:
            row.policy = policy
        after = compute_clock(clock_inputs(existing + new_inputs), rules, at)
        rows = list(new_inputs)
        if policy_changed:
            rows.append(
                SlaEvent(
                    case=case,
                    policy=policy,
                    kind=SlaEventKind.POLICY_CHANGED,
                    at=at,
                    payload={
                        "from": clock.policy.name if clock.policy else None,
                        "to": policy.name if policy else None,
                    },
                )
            )
            _timeline(case, SlaEventKind.POLICY_CHANGED, "", at, actor, policy=policy)
        rows += _diff_events(case, policy, before, after, at, actor)
        SlaEvent.objects.bulk_create(rows)
        _write_due_fields(case, after)
        clock.policy = policy
        clock.status = case.status
        # No row written above is an escalation, so `claimed` is still the full set.
        clock.next_check_at = _next_check(after, claimed, at)
        clock.save(update_fields=["policy", "status", "next_check_at", "updated_at"])


def sla_recompute(*, cases=None, actor=None) -> int:
    """Recompute the clocks of `cases` (default: every case the SLA app tracks that is still
    open) from their history under today's policies and calendars; returns how many."""
    from rapport.cases.models import OPEN_STATUSES, Case

    if cases is None:
        cases = Case.objects.filter(sla_clock__isnull=False, status__in=OPEN_STATUSES)
    count = 0
    for case in cases.iterator(chunk_size=500):
        sla_on_case_event(case=case, event="fields_changed", actor=actor)
        count += 1
    return count


# ----- escalations ----------------------------------------------------------------------------


def _case_link(case) -> str:
    from rapport.web.links import record_url

    url = record_url(case)
    return url if url != "/" else f"/cases/{case.pk}/"


def _timeline(case, kind, metric, at, actor=None, policy=None, **extra) -> None:
    from rapport.timeline.services import timeline_record

    label = SlaMetric(metric).label.lower() if metric else ""
    summary = {
        SlaEventKind.WARNED: f"SLA warning: {label} due soon",
        SlaEventKind.BREACHED: f"SLA breached: {label}",
        SlaEventKind.ESCALATED: f"SLA escalated (second level): {label}",
        SlaEventKind.POLICY_CHANGED: f"SLA policy: {policy.name if policy else 'none'}",
    }[kind]
    timeline_record(
        kind="sla",
        actor=actor,
        summary=summary,
        payload={"event": str(kind), "metric": metric, **extra},
        occurred_at=at,
        case_id=case.pk,
        account_id=case.account_id,
        contact_id=case.contact_id,
    )


def _listened_triggers() -> set[str]:
    """The SLA triggers some automation rule listens to (asked once per pass)."""
    from rapport.automation.models import EVENT_TRIGGERS
    from rapport.automation.outbox import listened

    # The automation app adds the case triggers in parallel work; until it does, none.
    known = {t for t in set(_TRIGGER_OF_KIND.values()) if t in EVENT_TRIGGERS}
    return {t for t, _ in listened([(t, "case") for t in known])}


def _run_actions(
    case, escalation: SlaEscalation | None, kind, metrics: list[tuple[str, int]], batch
) -> list[str]:
    """Notify (one notification per recipient for the metrics that reached this level
    together; collected in `batch` and written once per pass batch), reassign, raise
    priority; returns the changed case fields."""
    if escalation is None:
        return []
    recipients = []
    if escalation.notify_owner and case.owner_id:
        recipients.append(case.owner)
    if escalation.notify_queue and case.queue_id:
        recipients += batch.members(case.queue_id)
    if escalation.notify_user_id:
        recipients.append(escalation.notify_user)
    label = ", ".join(SlaMetric(metric).label.lower() for metric, _ in metrics)
    title = {
        SlaEventKind.WARNED: f"SLA warning on case #{case.number}: {label} due soon",
        SlaEventKind.BREACHED: f"SLA breached on case #{case.number}: {label}",
        SlaEventKind.ESCALATED: f"SLA still breached on case #{case.number}: {label}",
    }[kind]
    key = ",".join(f"{metric}:{cycle}" for metric, cycle in metrics)
    seen = set()
    for user in recipients:
        if user.pk in seen:
            continue
        seen.add(user.pk)
        batch.notifications.append(
            {
                "recipient": user,
                "kind": "system",
                "title": title,
                "body": case.subject,
                "link": _case_link(case),
                "dedupe_key": f"sla:{case.pk}:{kind}:{key}",
            }
        )
    if not (
        escalation.reassign_user_id or escalation.reassign_queue_id or escalation.raise_priority
    ):
        return []
    from rapport.cases.services import case_escalate

    return case_escalate(
        case=case,
        owner=escalation.reassign_user if escalation.reassign_user_id else None,
        queue=escalation.reassign_queue if escalation.reassign_queue_id else None,
        raise_priority=escalation.raise_priority,
        reason=title,
    )


class _Batch:
    """What one batch of the pass writes together: notifications, trigger events,
    timeline rows; queue members read once per queue."""

    def __init__(self):
        self.notifications: list[dict] = []
        self.events: list[dict] = []
        self.timeline: list = []
        self._members: dict[int, list] = {}

    def members(self, queue_id: int) -> list:
        if queue_id not in self._members:
            from rapport.cases.models import QueueMember

            self._members[queue_id] = [
                m.user for m in QueueMember.objects.filter(queue_id=queue_id).select_related("user")
            ]
        return self._members[queue_id]

    def flush(self) -> None:
        if self.notifications:
            from rapport.notifications.services import notify_many

            notify_many(self.notifications)
        if self.events:
            from rapport.automation.outbox import emit_many

            emit_many(self.events)
        _timeline_bulk(self.timeline)


def _escalation_hours(policy: SlaPolicy, specs: _Specs) -> CalendarSpec | None:
    if not policy.escalate_in_business_hours_only:
        return None
    return specs.get(policy.escalation_calendar_id or policy.calendar_id)


def _claim(rows: list[SlaEvent]) -> list[SlaEvent]:
    """Insert the threshold events; the ones another scheduler wrote first are dropped
    (the partial unique constraint). One INSERT in the usual case."""
    try:
        with transaction.atomic():
            SlaEvent.objects.bulk_create(rows)
        return rows
    except IntegrityError:
        pass
    won = []
    for row in rows:
        fresh = SlaEvent(
            **{
                f.attname: getattr(row, f.attname)
                for f in SlaEvent._meta.concrete_fields
                if f.attname != "id"
            }
        )
        try:
            with transaction.atomic():
                fresh.save()
        except IntegrityError:
            continue
        won.append(fresh)
    return won


def _timeline_row(case, kind, metric, at, cycle):
    from rapport.timeline.models import TimelineEvent

    label = SlaMetric(metric).label.lower()
    summary = {
        SlaEventKind.WARNED: f"SLA warning: {label} due soon",
        SlaEventKind.BREACHED: f"SLA breached: {label}",
        SlaEventKind.ESCALATED: f"SLA escalated (second level): {label}",
    }[kind]
    return TimelineEvent(
        kind="sla",
        summary=summary,
        payload={"event": str(kind), "metric": metric, "cycle": cycle},
        occurred_at=at,
        case_id=case.pk,
        account_id=case.account_id,
        contact_id=case.contact_id,
    )


def _timeline_bulk(rows) -> None:
    """The batch's SLA timeline events in one INSERT, then the timeline's listeners."""
    if not rows:
        return
    from rapport.timeline.hooks import as_columns, events_written
    from rapport.timeline.models import TimelineEvent

    TimelineEvent.objects.bulk_create(rows, batch_size=1000)
    events_written([as_columns(row) for row in rows])


class _Plan:
    """One due case in a batch: its computed clocks and the threshold events to claim."""

    __slots__ = ("sla_clock", "case", "clocks", "rows", "stale", "deferred_to")

    def __init__(self, sla_clock, case):
        self.sla_clock = sla_clock
        self.case = case
        self.clocks: dict = {}
        self.rows: list[SlaEvent] = []
        self.stale: set[tuple] = set()
        self.deferred_to = None


def _plan_clock(plan: _Plan, inputs, claimed, now, specs) -> None:
    """The passed, unclaimed thresholds of one case (pure computation, no writes)."""
    policy = plan.sla_clock.policy
    if policy is None or not inputs:
        return
    rules = rules_of(policy, specs)
    plan.clocks = compute_clock(inputs, rules, now)
    hours = _escalation_hours(policy, specs)
    held = hours is not None and not is_open_at(hours, now)
    for clock in plan.clocks.values():
        thresholds = clock.thresholds()
        passed = [kind for kind, instant in thresholds if instant <= now]
        for kind, instant in thresholds:
            key = (clock.metric, clock.cycle, kind)
            if instant > now or key in claimed:
                continue
            if held:
                plan.deferred_to = next_opening(hours, now)
                continue
            # A warning whose breach has also passed (the scheduler was down, or the
            # escalation was held for business hours) is recorded but not sent.
            if passed[-1] != kind:
                plan.stale.add(key)
            plan.rows.append(
                SlaEvent(
                    case=plan.case,
                    policy=policy,
                    metric=clock.metric,
                    kind=kind,
                    cycle=clock.cycle,
                    at=instant,
                    business_minutes_elapsed=_elapsed_at(rules, clock, kind),
                    payload={"superseded": True}
                    if key in plan.stale
                    else {"sent_at": now.isoformat()},
                )
            )


def _finish_clock(plan: _Plan, won, claimed, now, escalations, triggers, batch):
    """Act on the events this scheduler won for one case; returns its next check instant,
    or False when the case was rescheduled by the hook (a raised priority)."""
    case = plan.case
    policy = plan.sla_clock.policy
    if policy is None or not plan.clocks:
        return None
    by_kind: dict[str, list[tuple[str, int]]] = {}
    for event in won:
        key = (event.metric, event.cycle, event.kind)
        claimed.add(key)
        if key in plan.stale:
            continue
        batch.timeline.append(_timeline_row(case, event.kind, event.metric, event.at, event.cycle))
        if _TRIGGER_OF_KIND[event.kind] in triggers:
            batch.events.append(
                {
                    "event_type": _TRIGGER_OF_KIND[event.kind],
                    "object_type": "case",
                    "object_id": case.pk,
                    "payload": {
                        "metric": event.metric,
                        "cycle": event.cycle,
                        "level": 2 if event.kind == SlaEventKind.ESCALATED else 1,
                        "event": str(event.kind),
                        "at": event.at.isoformat(),
                    },
                }
            )
        by_kind.setdefault(event.kind, []).append((event.metric, event.cycle))
    for row in plan.rows:  # lost to another scheduler: theirs
        claimed.add((row.metric, row.cycle, row.kind))
    changed: list[str] = []
    for kind, metrics in by_kind.items():
        changed += _run_actions(
            case, escalations.get((policy.pk, _LEVEL_OF_KIND[kind])), kind, metrics, batch
        )
    if "priority" in changed:
        # A raised priority may pick another policy: the hook recomputes and reschedules.
        sla_on_case_event(case=case, event="fields_changed", at=now)
        return False
    upcoming = _next_check(plan.clocks, claimed, now, after=now)
    if plan.deferred_to is not None and (upcoming is None or plan.deferred_to < upcoming):
        upcoming = plan.deferred_to
    return upcoming


def _elapsed_at(rules: ClockRules, clock, kind) -> float:
    """The business minutes counted when the threshold of `kind` is reached."""
    if kind == SlaEventKind.WARNED:
        return float(rules.warn_threshold(clock.target) or 0)
    if kind == SlaEventKind.ESCALATED:
        return float(clock.target + (rules.second_level_after or 0))
    return float(clock.target)


def sla_escalations_run(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """The scheduler's pass: every case whose warning, breach or second-level instant has
    passed gets its event written exactly once (claimed by a unique constraint; rows are
    locked with SKIP LOCKED where the database has it, so two schedulers share the work),
    with its escalation actions, a timeline entry and the automation trigger. Returns the
    number of cases looked at."""
    now = now or timezone.now()
    specs = _Specs()
    escalations = {
        (e.policy_id, e.level): e for e in SlaEscalation.objects.select_related("notify_user")
    }
    from rapport.cases.models import Case

    triggers = _listened_triggers()
    looked = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            query = SlaClock.objects.filter(next_check_at__lte=now).exclude(pk__in=seen)
            if connection.features.has_select_for_update_skip_locked:
                query = query.select_for_update(skip_locked=True)
            sla_clocks = list(query.order_by("next_check_at")[:batch])
            if not sla_clocks:
                return looked
            ids = [c.pk for c in sla_clocks]
            seen.update(ids)
            cases = Case.objects.select_related("owner").in_bulk(ids)
            policies = SlaPolicy.objects.in_bulk({c.policy_id for c in sla_clocks if c.policy_id})
            inputs: dict[int, list] = {}
            for event in SlaEvent.objects.filter(case_id__in=ids, kind__in=INPUT_KINDS).order_by(
                "case_id", "at", "id"
            ):
                inputs.setdefault(event.case_id, []).append(
                    ClockInput(at=event.at, kind=event.kind, status=event.status)
                )
            claimed = _claimed(ids)
            plans = []
            for sla_clock in sla_clocks:
                sla_clock.policy = policies.get(sla_clock.policy_id)
                plan = _Plan(sla_clock, cases[sla_clock.pk])
                _plan_clock(
                    plan,
                    inputs.get(sla_clock.pk, []),
                    claimed.setdefault(sla_clock.pk, set()),
                    now,
                    specs,
                )
                plans.append(plan)
            # Every threshold event of the batch claimed in one INSERT (row by row only
            # when another scheduler got some first).
            won_by_case: dict[int, list[SlaEvent]] = {}
            for event in _claim([row for plan in plans for row in plan.rows]):
                won_by_case.setdefault(event.case_id, []).append(event)
            batch_writes = _Batch()
            updates = []
            for plan in plans:
                upcoming = _finish_clock(
                    plan,
                    won_by_case.get(plan.case.pk, []),
                    claimed[plan.case.pk],
                    now,
                    escalations,
                    triggers,
                    batch_writes,
                )
                if upcoming is not False:
                    plan.sla_clock.next_check_at = upcoming
                    updates.append(plan.sla_clock)
            SlaClock.objects.bulk_update(updates, ["next_check_at"], batch_size=500)
            batch_writes.flush()
            looked += len(sla_clocks)

"""The engine: match dispatched events to rules (creating runs), claim runs, execute their
steps durably.

Durability: a run is claimed by an atomic UPDATE that sets a lease (`locked_until`) and a
claim token (on PostgreSQL the candidates are first locked with FOR UPDATE SKIP LOCKED, so
concurrent workers take different runs). Each step executes in one transaction with its
Step row: the action's writes and "step done" commit together. A worker killed mid-step
leaves the step uncommitted; once the lease expires the sweep claims the run again and
walks the action tree from the top, skipping every step already done (a branch's decision
and a wait's deadline are stored on their step), so no completed action runs twice.
"""

import datetime
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.automation import conditions as cond
from rapport.automation.actions import (
    STOP_RUN,
    ActionContext,
    ActionFailed,
    ActionPostponed,
    get_action,
    model_for,
)
from rapport.automation.models import Rule, Run, RunState, Step, StepState, TriggerEvent
from rapport.automation.outbox import running_as

log = logging.getLogger(__name__)

LEASE = datetime.timedelta(seconds=getattr(settings, "AUTOMATION_RUN_LEASE_SECONDS", 300))
MAX_DEPTH = getattr(settings, "AUTOMATION_MAX_DEPTH", 5)
BACKOFF_SECONDS = getattr(settings, "AUTOMATION_BACKOFF_SECONDS", 30)
DISPATCH_BATCH = 1000


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


# ----- dispatch: outbox events -> runs -------------------------------------------------------


def _subjects(events: list[TriggerEvent]) -> dict[tuple[str, int], Any]:
    by_type: dict[str, set[int]] = {}
    for e in events:
        if e.object_type and e.object_id:
            by_type.setdefault(e.object_type, set()).add(e.object_id)
    out = {}
    for object_type, ids in by_type.items():
        model = model_for(object_type)
        if model is None:
            continue
        for obj in model._default_manager.filter(pk__in=ids):
            out[(object_type, obj.pk)] = obj
    return out


def _event_input(event: TriggerEvent) -> dict:
    return {
        "event": {
            "id": event.pk,
            "type": event.event_type,
            "payload": event.payload,
            "actor_id": event.actor_id,
            "at": event.created_at.isoformat(),
        }
    }


def _trigger_filter_ok(rule: Rule, payload: dict) -> bool:
    """Event triggers may filter on payload keys (e.g. {"source": "pos"} for webhooks)."""
    wanted = (rule.trigger_config or {}).get("match") or {}
    return all(str(payload.get(k)) == str(v) for k, v in wanted.items())


class _Budget:
    """Per-rule runs left in the current hour (rate limit)."""

    def __init__(self):
        self.left: dict[int, int] = {}

    def take(self, rule: Rule, now) -> bool:
        if rule.pk not in self.left:
            used = Run.objects.filter(
                rule=rule, created_at__gte=now - datetime.timedelta(hours=1)
            ).count()
            self.left[rule.pk] = rule.max_runs_per_hour - used
        if self.left[rule.pk] <= 0:
            return False
        self.left[rule.pk] -= 1
        return True


def _skip(rule: Rule, reason: str, count: int = 1) -> None:
    Rule.objects.filter(pk=rule.pk).update(
        skipped_count=F("skipped_count") + count, last_skip_reason=reason[:200]
    )


def dispatch_pending(*, batch: int = DISPATCH_BATCH) -> int:
    """Turn undispatched outbox events into runs; returns the number of runs created."""
    created = 0
    while True:
        with transaction.atomic():
            qs = TriggerEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
            if _skip_locked():
                qs = qs.select_for_update(skip_locked=True)
            events = list(qs[:batch])
            if not events:
                break
            now = timezone.now()
            TriggerEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
            rules = list(
                Rule.objects.filter(
                    is_active=True, trigger_type__in={e.event_type for e in events}
                ).order_by("id")
            )
            subjects = _subjects(events)
            budget = _Budget()
            runs = []
            skipped: dict[int, tuple[Rule, str, int]] = {}
            for event in events:
                subject = subjects.get((event.object_type, event.object_id))
                for rule in rules:
                    if rule.trigger_type != event.event_type:
                        continue
                    if rule.object_type and rule.object_type != event.object_type:
                        continue
                    if not _trigger_filter_ok(rule, event.payload or {}):
                        continue
                    data = _event_input(event)
                    if not cond.evaluate(rule.conditions, record=subject, event=data["event"]):
                        continue
                    if event.depth > MAX_DEPTH:
                        reason = f"loop guard: depth {event.depth} over {MAX_DEPTH}"
                    elif not budget.take(rule, now):
                        reason = f"rate limit: {rule.max_runs_per_hour} runs per hour"
                    else:
                        runs.append(
                            Run(
                                rule=rule,
                                event=event,
                                trigger_type=event.event_type,
                                object_type=event.object_type,
                                object_id=event.object_id,
                                depth=event.depth,
                                input=data,
                                next_run_at=now,
                                created_at=now,
                            )
                        )
                        continue
                    _, _, n = skipped.get(rule.pk, (rule, reason, 0))
                    skipped[rule.pk] = (rule, reason, n + 1)
            Run.objects.bulk_create(runs, batch_size=1000)
            for rule, reason, n in skipped.values():
                _skip(rule, reason, n)
            created += len(runs)
            if runs:
                transaction.on_commit(enqueue_execution)
    return created


def enqueue_execution() -> None:
    from rapport.automation.tasks import automation_execute_task

    try:
        automation_execute_task.enqueue()
    except Exception:
        log.exception("could not enqueue automation execution; the sweep will run it")


# ----- claiming and executing runs -----------------------------------------------------------


def _claimable(now) -> Q:
    return (
        Q(state=RunState.PENDING, next_run_at__lte=now)
        | Q(state=RunState.WAITING, next_run_at__lte=now)
        | Q(state=RunState.RUNNING, locked_until__lt=now)
    )


def claim_runs(*, limit: int = 20, run_ids: list[int] | None = None) -> list[int]:
    """Atomically take up to `limit` due runs for this worker; returns their ids."""
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        qs = Run.objects.filter(_claimable(now))
        if run_ids is not None:
            qs = qs.filter(pk__in=run_ids)
        qs = qs.order_by("next_run_at", "id").values_list("pk", flat=True)
        if _skip_locked():
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs[:limit])
        if not ids:
            return []
        # The WHERE repeats the claimable test: on SQLite (no row locks) a run another worker
        # took in between is simply not updated, and the token tells which ones we hold.
        Run.objects.filter(_claimable(now), pk__in=ids).update(
            state=RunState.RUNNING,
            locked_until=now + LEASE,
            claim_token=token,
            started_at=now,
        )
    return list(
        Run.objects.filter(claim_token=token, state=RunState.RUNNING).values_list("pk", flat=True)
    )


def execute_due_runs(*, limit: int = 20, max_batches: int | None = None) -> int:
    """Claim and execute due runs until none is left (or `max_batches`); returns how many."""
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        ids = claim_runs(limit=limit)
        if not ids:
            break
        batches += 1
        # The batch's runs (with rule and user) and their steps in two queries, not 2 × N.
        runs = Run.objects.select_related("rule", "rule__run_as").in_bulk(ids)
        steps: dict[int, dict[str, Step]] = {run_id: {} for run_id in ids}
        for step in Step.objects.filter(run_id__in=ids).order_by():
            steps[step.run_id][step.path] = step
        for run_id in ids:
            if run_id in runs:
                execute_run(run_id, loaded=(runs[run_id], steps[run_id]))
            done += 1
    return done


class _Stop(Exception):
    """The walk stops here (waiting, retrying later, failed)."""


def _load_subject(run: Run):
    model = model_for(run.object_type)
    if model is None or not run.object_id:
        return None
    return model._default_manager.filter(pk=run.object_id).first()


def execute_run(run_id: int, *, loaded: tuple[Run, dict[str, Step]] | None = None) -> None:
    """Execute a run this worker has claimed, from its first unfinished step (`loaded`: the
    run and its steps by path, read by the caller right after the claim)."""
    if loaded is None:
        run = Run.objects.select_related("rule", "rule__run_as").get(pk=run_id)
        steps = {s.path: s for s in run.steps.order_by()}  # no ORDER BY: no join with runs
    else:
        run, steps = loaded
    if run.state != RunState.RUNNING:
        return
    try:
        with running_as(run.pk, run.depth):
            _walk(run, run.rule.actions or [], "", steps)
    except _Stop:
        return
    except Exception as exc:  # a bug in the engine itself: show it on the run
        log.exception("automation run %s crashed", run.pk)
        _finish(run, RunState.FAILED, f"{type(exc).__name__}: {exc}")
        return
    _finish(run, RunState.DONE, "")


def _finish(run: Run, state: str, error: str) -> None:
    Run.objects.filter(pk=run.pk, claim_token=run.claim_token).update(
        state=state, error=error[:4000], finished_at=timezone.now(), locked_until=None
    )


def _park(run: Run, state: str, at: datetime.datetime, error: str = "") -> None:
    Run.objects.filter(pk=run.pk, claim_token=run.claim_token).update(
        state=state, next_run_at=at, locked_until=None, error=error[:4000]
    )


def _walk(run: Run, actions: list[dict], prefix: str, steps: dict[str, Step]) -> None:
    for i, action in enumerate(actions):
        path = f"{prefix}{i}"
        kind = action.get("type")
        step = steps.get(path)
        if kind == "branch":
            step = step if step and step.state == StepState.DONE else _decide(run, action, path)
            taken = step.output.get("taken", "else")
            _walk(run, action.get(taken) or [], f"{path}.{taken}.", steps)
            continue
        if step is not None and step.state == StepState.DONE:
            continue
        if kind == "wait":
            _wait(run, action.get("params") or {}, path, step)
            continue
        _execute_step(run, action, path, step)


def _context(run: Run) -> ActionContext:
    return ActionContext(
        run=run,
        rule=run.rule,
        subject=_load_subject(run),
        actor=run.rule.run_as,
        event=(run.input or {}).get("event") or {},
        now=timezone.now(),
    )


def _decide(run: Run, action: dict, path: str) -> Step:
    now = timezone.now()
    subject = _load_subject(run)
    conditions = (action.get("params") or {}).get("conditions") or {}
    taken = (
        "then"
        if cond.evaluate(conditions, record=subject, event=run.input.get("event"))
        else "else"
    )
    # The first decision stored wins: a worker that lost its lease cannot rewrite the path.
    step, _ = Step.objects.get_or_create(
        run=run,
        path=path,
        defaults={
            "action_type": "branch",
            "state": StepState.DONE,
            "input": {"conditions": conditions},
            "output": {"taken": taken},
            "attempts": 1,
            "started_at": now,
            "finished_at": timezone.now(),
        },
    )
    return step


def _wait(run: Run, params: dict, path: str, step: Step | None) -> None:
    now = timezone.now()
    if step is None:
        until = wait_until(now, params)
        Step.objects.create(
            run=run,
            path=path,
            action_type="wait",
            state=StepState.WAITING,
            input=params,
            output={"until": until.isoformat()},
            attempts=1,
            started_at=now,
        )
        if until > now:
            _park(run, RunState.WAITING, until)
            raise _Stop
        step = Step.objects.get(run=run, path=path)
    until = datetime.datetime.fromisoformat(step.output["until"])
    if until > now:
        _park(run, RunState.WAITING, until)
        raise _Stop
    Step.objects.filter(pk=step.pk).update(state=StepState.DONE, finished_at=now)


def wait_until(now: datetime.datetime, params: dict) -> datetime.datetime:
    """When a wait step ends: plain hours, or business days / hours on a calendar."""
    from rapport.calendars.models import BusinessCalendar
    from rapport.calendars.services import business_time_add

    hours = float(params.get("hours") or 0)
    business_days = int(params.get("business_days") or 0)
    business_hours = float(params.get("business_hours") or 0)
    calendar = None
    if params.get("calendar_id"):
        calendar = BusinessCalendar.objects.filter(pk=params["calendar_id"]).first()
    moment = now + datetime.timedelta(hours=hours)
    if business_days or business_hours:
        moment = business_time_add(
            calendar=calendar, start=moment, days=business_days, hours=business_hours
        )
    return moment


def _execute_step(run: Run, action: dict, path: str, step: Step | None) -> None:
    kind = action.get("type") or ""
    spec = get_action(kind)
    max_attempts = max(1, run.rule.max_attempts)
    now = timezone.now()
    try:
        if _attempt_step(run, action, path, step, spec, max_attempts, now):
            return
    except (_LeaseLost, IntegrityError):
        log.warning(
            "automation run %s lost its lease at step %s; left to its new worker", run.pk, path
        )
    raise _Stop


class _LeaseLost(Exception):
    """Another worker claimed the run meanwhile: this worker's step must not commit."""


def _hold(run: Run) -> bool:
    """Fencing, inside the step's transaction: renew the lease if this worker still holds the
    run (its claim token). On PostgreSQL the UPDATE locks the run row until the step commits,
    so no other worker can take the run over between this check and the commit; SQLite's
    IMMEDIATE transactions serialise writers anyway."""
    return bool(
        Run.objects.filter(pk=run.pk, claim_token=run.claim_token, state=RunState.RUNNING).update(
            locked_until=timezone.now() + LEASE
        )
    )


def _attempt_step(run, action, path, step, spec, max_attempts, now) -> bool:
    """One attempt in one transaction; True when the step is done (the walk goes on)."""
    kind = action.get("type") or ""
    params = dict(action.get("params") or {})
    with transaction.atomic():
        if step is None:
            # A first attempt: the row is inserted with its outcome (one query, not four);
            # a row another worker wrote meanwhile makes the insert fail (IntegrityError).
            step = Step(run=run, path=path, action_type=kind, attempts=0)
        else:
            step = Step.objects.select_for_update().get(pk=step.pk)
            if step.state == StepState.DONE:  # another worker finished it meanwhile
                return True
        step.attempts += 1
        step.started_at = step.started_at or now
        step.state = StepState.RUNNING
        step.input = params
        failure, permanent, postponed = None, False, None
        try:
            if spec is None or spec.handler is None:
                raise ActionFailed(f"not available: unknown action {kind!r}")
            with transaction.atomic():  # the action's writes; rolled back alone on failure
                output = spec.handler(_context(run), {**params, "_path": path}) or {}
        except ActionPostponed as exc:
            postponed = exc
        except ActionFailed as exc:
            failure, permanent = str(exc), True
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        step.finished_at = timezone.now()
        if not _hold(run):
            raise _LeaseLost  # rolls back the action's writes and the step
        if postponed is not None:  # the step is not written: it runs when the run wakes
            _park(run, RunState.WAITING, postponed.until, str(postponed))
            return False
        if failure is None:
            step.state, step.output, step.error = StepState.DONE, output, ""
            step.save()
            if output.get(STOP_RUN):
                _finish(run, RunState.CANCELLED, str(output.get("reason") or "stopped"))
                return False
            return True
        step.error = failure[:4000]
        if permanent or step.attempts >= max_attempts:
            step.state = StepState.FAILED
            step.save()
            _finish(run, RunState.FAILED, f"Step {path} ({kind}): {failure}")
        else:
            step.state = StepState.RETRYING
            step.save()
            delay = BACKOFF_SECONDS * 2 ** (step.attempts - 1)
            _park(run, RunState.WAITING, now + datetime.timedelta(seconds=delay), failure)
    return False


# ----- runs started by the scheduler, a person or a replay -----------------------------------


def start_run(
    *,
    rule: Rule,
    object_type: str = "",
    object_id: int | None = None,
    input: dict | None = None,
    started_by=None,
    replay_of: Run | None = None,
    dedupe_key: str = "",
    depth: int = 0,
) -> Run | None:
    """Create one pending run (None when `dedupe_key` already ran for this rule)."""
    now = timezone.now()
    if dedupe_key and Run.objects.filter(rule=rule, dedupe_key=dedupe_key).exists():
        return None
    try:
        with transaction.atomic():
            run = Run.objects.create(
                rule=rule,
                trigger_type=rule.trigger_type if replay_of is None else replay_of.trigger_type,
                object_type=object_type,
                object_id=object_id,
                depth=depth,
                input=input or {},
                next_run_at=now,
                created_at=now,
                started_by=started_by
                if started_by is not None and started_by.is_authenticated
                else None,
                replay_of=replay_of,
                dedupe_key=dedupe_key,
            )
    except Exception:
        if dedupe_key and Run.objects.filter(rule=rule, dedupe_key=dedupe_key).exists():
            return None  # a second scheduler raced us to it
        raise
    transaction.on_commit(enqueue_execution)
    return run

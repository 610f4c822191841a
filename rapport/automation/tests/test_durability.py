"""Durable runs: a failing rule never undoes the write, retries with backoff, a worker
killed between steps resumes without repeating a finished one, waits on business calendars,
loop guard and rate limit, replay."""

import datetime

import pytest
import time_machine

from rapport.accounts.models import Contact
from rapport.accounts.services import contact_create
from rapport.automation import engine, services
from rapport.automation.actions import _REGISTRY, ActionSpec, register_action, unavailable
from rapport.automation.models import Run, Step
from rapport.calendars.services import calendar_save
from rapport.timeline import hooks
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

CALLS: list[str] = []


@pytest.fixture
def test_actions():
    """`hit` records each call; `flaky` fails its first two calls; `crash` dies like a
    killed worker (BaseException) on its first call."""
    CALLS.clear()
    state = {"flaky": 0, "crash": 0}

    def hit(ctx, params):
        CALLS.append(params.get("label", "hit"))
        return {"hit": params.get("label")}

    def flaky(ctx, params):
        state["flaky"] += 1
        if state["flaky"] <= 2:
            raise RuntimeError(f"SMTP down ({state['flaky']})")
        CALLS.append("flaky")
        return {}

    def crash(ctx, params):
        state["crash"] += 1
        if state["crash"] == 1:
            raise SystemExit("worker killed")
        CALLS.append("crash-survived")
        return {}

    def broken(ctx, params):
        raise RuntimeError("always broken")

    added = []
    for name, fn in (("hit", hit), ("flaky", flaky), ("crash", crash), ("broken", broken)):
        register_action(ActionSpec(name, name, fn), replace=True)
        added.append(name)
    yield state
    for name in added:
        _REGISTRY.pop(name, None)


def _contact(personas, **fields):
    return contact_create(actor=personas.owner, fields={"last_name": "Lee", **fields})


def test_a_failing_action_leaves_the_original_write_intact(personas, make_rule, worker):
    make_rule(actions=[{"type": "update_fields", "params": {"fields": {"email": "not-an-email"}}}])
    contact = _contact(personas, city="Paris")
    (run,) = worker()
    assert run.state == "failed" and "email" in run.error
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.city, stored.email, stored.version) == ("Paris", "", 1)
    step = run.steps.get()
    assert (step.state, step.attempts) == ("failed", 1)  # a validation error is not retried


def test_a_broken_outbox_listener_never_fails_the_write(personas, make_rule):
    make_rule()

    def boom(events):
        raise RuntimeError("listener bug")

    hooks.timeline_listener(boom)
    try:
        contact = _contact(personas)
    finally:
        hooks._listeners.remove(boom)
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert TimelineEvent.objects.filter(contact_id=contact.pk, kind="created").exists()


def test_unavailable_slot_fails_the_step_with_a_clear_error(personas, make_rule, worker):
    """A slot whose app is not installed fails its step naming what is missing."""
    register_action(
        ActionSpec("future_slot", "Future", unavailable("rapport.future app"), available=False)
    )
    try:
        make_rule(actions=[{"type": "future_slot", "params": {}}])
        _contact(personas)
        (run,) = worker()
    finally:
        _REGISTRY.pop("future_slot", None)
    assert run.state == "failed"
    assert "not available" in run.error and "rapport.future app" in run.error


def test_failed_steps_retry_with_backoff_then_succeed(personas, make_rule, worker, test_actions):
    start = datetime.datetime(2026, 5, 4, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        make_rule(actions=[{"type": "hit", "params": {"label": "before"}}, {"type": "flaky"}])
        _contact(personas)
        (run,) = worker()
        assert run.state == "waiting" and "SMTP down (1)" in run.error
        assert run.next_run_at == start + datetime.timedelta(seconds=30)
        clock.shift(datetime.timedelta(seconds=31))
        (run,) = worker()
        assert run.state == "waiting" and run.next_run_at == start + datetime.timedelta(seconds=91)
        clock.shift(datetime.timedelta(seconds=61))
        (run,) = worker()
    assert run.state == "done"
    assert CALLS == ["before", "flaky"]  # the first step ran once, not on every retry
    assert run.steps.get(path="1").attempts == 3


def test_a_step_failing_every_attempt_stops_the_run_with_its_error(
    personas, make_rule, worker, test_actions
):
    with time_machine.travel(
        datetime.datetime(2026, 5, 4, tzinfo=datetime.UTC), tick=False
    ) as clock:
        make_rule(actions=[{"type": "broken"}, {"type": "hit"}], max_attempts=2)
        _contact(personas)
        worker()
        clock.shift(datetime.timedelta(minutes=5))
        (run,) = worker()
    assert run.state == "failed"
    assert run.error == "Step 0 (broken): RuntimeError: always broken"
    assert run.steps.get(path="0").attempts == 2
    assert CALLS == []


def test_a_worker_killed_between_steps_resumes_without_repeating_a_finished_one(
    personas, make_rule, test_actions
):
    start = datetime.datetime(2026, 5, 4, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        make_rule(
            actions=[
                {"type": "add_tag", "params": {"tag": "first"}},
                {"type": "hit", "params": {"label": "one"}},
                {"type": "crash"},
                {"type": "hit", "params": {"label": "two"}},
            ]
        )
        contact = _contact(personas)
        engine.dispatch_pending()
        with pytest.raises(SystemExit):
            engine.execute_due_runs()
        run = Run.objects.get()
        # Steps 0 and 1 committed; the crash rolled back only the step it was in.
        assert run.state == "running"
        assert list(run.steps.values_list("path", "state")) == [("0", "done"), ("1", "done")]
        assert engine.execute_due_runs() == 0  # the lease still holds: no second worker
        clock.shift(engine.LEASE + datetime.timedelta(seconds=1))
        assert engine.execute_due_runs() == 1
    run.refresh_from_db()
    assert run.state == "done"
    assert CALLS == ["one", "crash-survived", "two"]
    updated = TimelineEvent.objects.filter(contact_id=contact.pk, kind="updated").count()
    assert updated == 1  # the tag was added once
    assert run.steps.get(path="0").attempts == 1


def test_waits_honour_the_business_calendar(personas, make_rule, worker):
    week = {d: [(datetime.time(9), datetime.time(17))] for d in range(5)}
    calendar = calendar_save(
        actor=personas.admin,
        name="Paris office",
        time_zone="Europe/Paris",
        week=week,
        holiday_country="FR",
        closed_days=[(datetime.date(2026, 12, 28), "Inventory day")],
    )
    # Thursday 24 Dec 2026, 16:00 in Paris; 25 Dec is a French holiday, then a weekend,
    # then the office's own closed Monday: one business day later is Tuesday 29, 16:00.
    start = datetime.datetime(2026, 12, 24, 15, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        make_rule(
            actions=[
                {"type": "wait", "params": {"business_days": 1, "calendar_id": calendar.pk}},
                {"type": "add_tag", "params": {"tag": "followed-up"}},
            ]
        )
        contact = _contact(personas)
        (run,) = worker()
        assert run.state == "waiting"
        assert run.next_run_at == datetime.datetime(2026, 12, 29, 15, 0, tzinfo=datetime.UTC)
        clock.move_to(datetime.datetime(2026, 12, 29, 14, 59, tzinfo=datetime.UTC))
        (run,) = worker()
        assert run.state == "waiting"
        clock.move_to(datetime.datetime(2026, 12, 29, 15, 0, 1, tzinfo=datetime.UTC))
        (run,) = worker()
    assert run.state == "done"
    assert list(Contact.objects.get(pk=contact.pk).tags.values_list("name", flat=True)) == [
        "followed-up"
    ]


def test_business_hours_wait_skips_closed_time(personas, make_rule, worker):
    week = {
        d: [(datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(17))]
        for d in range(5)
    }
    calendar = calendar_save(actor=personas.admin, name="Desk", time_zone="UTC", week=week)
    # Friday 16:00 + 3 business hours: 1 h on Friday, then Monday 09:00-11:00.
    with time_machine.travel(datetime.datetime(2026, 5, 8, 16, 0, tzinfo=datetime.UTC), tick=False):
        make_rule(
            actions=[{"type": "wait", "params": {"business_hours": 3, "calendar_id": calendar.pk}}]
        )
        _contact(personas)
        (run,) = worker()
    assert run.next_run_at == datetime.datetime(2026, 5, 11, 11, 0, tzinfo=datetime.UTC)


def test_loop_guard_stops_two_rules_feeding_each_other(personas, make_rule, worker):
    def ping(name, when, then):
        return make_rule(
            name=name,
            trigger_type="record.updated",
            conditions={
                "op": "and",
                "items": [{"field": "city", "operator": "changed_to", "value": when}],
            },
            actions=[{"type": "update_fields", "params": {"fields": {"city": then}}}],
        )

    a = ping("to Rome", "Paris", "Rome")
    b = ping("to Paris", "Rome", "Paris")
    contact = _contact(personas)
    from rapport.accounts.services import contact_update

    contact_update(contact=contact, actor=personas.owner, fields={"city": "Paris"})
    runs = worker()
    assert max(r.depth for r in runs) == engine.MAX_DEPTH
    assert len(runs) == engine.MAX_DEPTH + 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.skipped_count + b.skipped_count == 1
    assert "loop guard" in (a.last_skip_reason + b.last_skip_reason)


def test_rate_limit_per_rule(personas, make_rule, worker):
    rule = make_rule(max_runs_per_hour=2)
    for i in range(3):
        _contact(personas, first_name=f"N{i}")
    assert len(worker()) == 2
    rule.refresh_from_db()
    assert rule.skipped_count == 1 and "rate limit" in rule.last_skip_reason


def test_replay_runs_the_actions_again_as_a_new_run(personas, make_rule, worker, test_actions):
    make_rule(actions=[{"type": "hit", "params": {"label": "x"}}])
    _contact(personas)
    (run,) = worker()
    replay = services.run_replay(run=run, actor=personas.admin)
    runs = worker()
    assert [r.state for r in runs] == ["done", "done"]
    assert replay.replay_of_id == run.pk and replay.input == run.input
    assert CALLS == ["x", "x"]
    assert Step.objects.filter(run=replay).count() == 1


def test_branch_takes_one_side_and_remembers_it(personas, make_rule, worker, test_actions):
    make_rule(
        actions=[
            {
                "type": "branch",
                "params": {
                    "conditions": {
                        "op": "and",
                        "items": [{"field": "city", "operator": "equals", "value": "paris"}],
                    }
                },
                "then": [{"type": "hit", "params": {"label": "parisian"}}],
                "else": [{"type": "hit", "params": {"label": "elsewhere"}}],
            }
        ]
    )
    _contact(personas, city="Paris")
    _contact(personas, city="Oslo")
    runs = worker()
    assert sorted(CALLS) == ["elsewhere", "parisian"]
    assert {s.path for s in Step.objects.filter(run=runs[0])} == {"0", "0.then.0"}


def test_a_worker_that_lost_its_lease_commits_nothing(personas, make_rule, test_actions):
    """Fencing: the step's transaction renews the lease only under this worker's claim token;
    a worker whose run was taken over meanwhile rolls its step back."""
    make_rule(actions=[{"type": "add_tag", "params": {"tag": "once"}}, {"type": "hit"}])
    contact = _contact(personas)
    engine.dispatch_pending()
    (run_id,) = engine.claim_runs()
    stale = Run.objects.select_related("rule").get(pk=run_id)
    # The lease expired and another worker claimed the run (a new token).
    Run.objects.filter(pk=run_id).update(claim_token="another-worker")
    with pytest.raises(engine._Stop):
        engine._walk(stale, stale.rule.actions, "", {})
    assert not Step.objects.filter(run_id=run_id).exists()
    assert list(contact.tags.values_list("name", flat=True)) == []
    # The rightful holder goes on as if nothing happened.
    Run.objects.filter(pk=run_id).update(claim_token=stale.claim_token)
    engine.execute_run(run_id)
    stale.refresh_from_db()
    assert stale.state == "done"
    assert list(contact.tags.values_list("name", flat=True)) == ["once"]
    assert CALLS == ["hit"]

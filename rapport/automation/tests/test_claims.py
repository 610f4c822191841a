"""Concurrent workers never take the same run (FOR UPDATE SKIP LOCKED on PostgreSQL, an
atomic compare-and-set UPDATE on SQLite), and every timeline write path feeds the outbox."""

import re
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from rapport.automation import engine
from rapport.automation.models import Run

RUNS = 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_take_each_run_once(personas, make_rule):
    if connection.vendor != "postgresql":
        pytest.skip("threads share no in-memory SQLite database; PostgreSQL runs this")
    rule = make_rule()
    now = timezone.now()
    Run.objects.bulk_create(
        Run(rule=rule, trigger_type="record.created", next_run_at=now, created_at=now)
        for _ in range(RUNS)
    )
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim():
        try:
            barrier.wait()
            mine = []
            while ids := engine.claim_runs(limit=5):
                mine += ids
            claimed.append(mine)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [pk for ids in claimed for pk in ids]
    assert len(every) == len(set(every)) == RUNS
    assert sum(1 for ids in claimed if ids) >= 2  # they really worked side by side


@pytest.mark.django_db
def test_claim_is_a_compare_and_set(personas, make_rule):
    rule = make_rule()
    now = timezone.now()
    run = Run.objects.create(rule=rule, trigger_type="x", next_run_at=now, created_at=now)
    assert engine.claim_runs(run_ids=[run.pk]) == [run.pk]
    assert engine.claim_runs(run_ids=[run.pk]) == []  # held by the first claim's lease


def test_every_timeline_write_tells_the_listeners():
    """A TimelineEvent written anywhere but through timeline_record must be followed by
    `events_written` in the same module, or rules would miss that write path."""
    root = Path(__file__).resolve().parents[2]
    writes = re.compile(
        r"TimelineEvent\.objects\.(create|bulk_create)|BulkInsert\(TimelineEvent\)|_placed_event\([^)]*\)\.save"
    )
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text()
        if writes.search(text) and "events_written" not in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


@pytest.fixture
def test_hit():
    from rapport.automation.actions import _REGISTRY, ActionSpec, register_action

    register_action(ActionSpec("test_hit", "Hit", lambda ctx, params: {"ok": True}), replace=True)
    yield
    _REGISTRY.pop("test_hit", None)


@pytest.mark.django_db
def test_a_one_step_run_costs_few_queries_beyond_its_action(personas, test_hit):
    """The engine's own cost per run (claim excluded): load the run and its steps, the
    subject, a savepoint around the action, the fenced lease renewal, the step row (one
    INSERT) and the run's end: a regression here shows in the runs per second."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rapport.accounts.services import contact_create
    from rapport.automation import services

    services.rule_create(
        actor=personas.admin,
        data={
            "name": "Hit",
            "trigger_type": "record.created",
            "object_type": "contact",
            "actions": [{"type": "test_hit"}],
        },
    )
    contact_create(actor=personas.owner, fields={"last_name": "Q"})
    engine.dispatch_pending()
    (run_id,) = engine.claim_runs()
    with CaptureQueriesContext(connection) as queries:
        engine.execute_run(run_id)
    sql = [q["sql"] for q in queries.captured_queries]
    assert Run.objects.get(pk=run_id).state == "done"
    assert len(sql) <= 10, "\n".join(sql)  # 2 are savepoints
    assert "JOIN" not in sql[1]  # the steps without a join for an ORDER BY


@pytest.mark.django_db
def test_a_batch_of_runs_loads_runs_and_steps_once(personas, test_hit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rapport.accounts.services import contact_create
    from rapport.automation import services

    services.rule_create(
        actor=personas.admin,
        data={
            "name": "Hit",
            "trigger_type": "record.created",
            "object_type": "contact",
            "actions": [{"type": "test_hit"}],
        },
    )
    for i in range(5):
        contact_create(actor=personas.owner, fields={"last_name": f"Q{i}"})
    engine.dispatch_pending()
    with CaptureQueriesContext(connection) as queries:
        assert engine.execute_due_runs() == 5
    assert Run.objects.filter(state="done").count() == 5
    runs_read = [q for q in queries.captured_queries if 'FROM "automation_run"' in q["sql"]]
    steps_read = [q for q in queries.captured_queries if 'FROM "automation_step"' in q["sql"]]
    # Two claims (the second finds nothing), one batch read; per run 8 (2 savepoints and
    # their releases, the subject, the fenced lease, the step insert, the run's end).
    assert len(steps_read) == 1 and len(runs_read) <= 6
    assert len(queries.captured_queries) <= 10 + 5 * 8

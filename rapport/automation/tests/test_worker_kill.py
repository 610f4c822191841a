"""A real worker process is SIGKILLed between claiming a run and committing its step; a new
worker takes the run over once the lease expires, and every action ran exactly once.

The workers are separate processes (`worker_process.py`) on the test database: on
PostgreSQL the test database itself; on SQLite (whose test database lives in memory) a file
copy made with SQLite's backup API, copied back into the test database afterwards so the
checks below read it through the ORM on both backends.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from rapport.accounts.services import contact_create
from rapport.activities.models import Activity
from rapport.automation import services
from rapport.automation.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 2


class WorkerDatabase:
    """Where the worker processes find the test's data, and how the test reads it back."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sqlite = connection.vendor == "sqlite"
        self.file = folder / "worker.sqlite3"

    def url(self) -> str:
        if self.sqlite:
            return f"sqlite:///{self.file}"
        s = connection.settings_dict
        auth = quote(s["USER"] or "")
        if s["PASSWORD"]:
            auth += ":" + quote(s["PASSWORD"])
        return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"

    def export(self) -> None:
        if self.sqlite:
            connection.ensure_connection()
            with sqlite3.connect(self.file) as target:
                connection.connection.backup(target)

    def import_back(self) -> None:
        if self.sqlite:
            connection.ensure_connection()
            source = sqlite3.connect(self.file)
            try:
                source.backup(connection.connection)
            finally:
                source.close()

    def start_worker(self, *, block: bool) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rapport.settings",
            "RAPPORT_DEV": "1",
            "DATABASE_URL": self.url(),
            "CONN_MAX_AGE": "0",
            "AUTOMATION_RUN_LEASE_SECONDS": str(LEASE_SECONDS),
            "AUTOMATION_TEST_DIR": str(self.folder),
            "AUTOMATION_TEST_BLOCK": "1" if block else "0",
            "AUTOMATION_TEST_TIMEOUT": "60",
        }
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "rapport.automation.tests.worker_process"],
            env=env,
            cwd=Path(__file__).resolve().parents[3],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _ended(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.kill()
    return process.communicate(timeout=10)[0]


def _wait_for(predicate, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _three_step_run(personas) -> tuple[Run, object]:
    rule = services.rule_create(
        actor=personas.admin,
        data={
            "name": "Three steps",
            "trigger_type": "manual",
            "object_type": "contact",
            "actions": [
                {"type": "add_tag", "params": {"tag": "placeholder"}},
            ],
        },
    )
    # The test-only actions exist only in the worker processes: write them straight in.
    rule.actions = [
        {"type": "test_mark", "params": {"label": "one"}},
        {"type": "test_block", "params": {}},
        {"type": "test_mark", "params": {"label": "two"}},
    ]
    rule.save(update_fields=["actions"])
    contact = contact_create(actor=personas.owner, fields={"last_name": "Kill"})
    now = timezone.now()
    run = Run.objects.create(
        rule=rule,
        trigger_type="manual",
        object_type="contact",
        object_id=contact.pk,
        next_run_at=now,
        created_at=now,
    )
    return run, contact


def test_a_killed_worker_process_is_taken_over_without_repeating_an_action(personas, tmp_path):
    run, contact = _three_step_run(personas)
    db = WorkerDatabase(tmp_path)
    db.export()

    first = db.start_worker(block=True)
    try:
        entered = _wait_for(lambda: any(tmp_path.glob("entered-*")) or first.poll() is not None)
        assert entered and first.poll() is None, _ended(first)
        assert (tmp_path / f"entered-{first.pid}").read_text() == str(run.pk)
        # Claimed, step 0 committed, step 1 inside its transaction: kill -9.
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL

    second = db.start_worker(block=False)
    output, _ = second.communicate(timeout=90)
    db.import_back()
    assert second.returncode == 0, (output, Run.objects.values("state", "error").get())

    run.refresh_from_db()
    assert run.state == "done", run.error
    # The second worker entered the killed step again (its first attempt was rolled back) …
    assert (tmp_path / f"entered-{second.pid}").exists()
    steps = list(run.steps.order_by("path").values_list("path", "state", "attempts"))
    assert steps == [("0", "done", 1), ("1", "done", 1), ("2", "done", 1)]
    # … and every action's write exists exactly once.
    notes = sorted(Activity.objects.filter(contact=contact).values_list("subject", flat=True))
    assert notes == ["block", "one", "two"]
    assert run.started_at is not None and run.finished_at > run.started_at


def test_a_stalled_worker_whose_run_was_taken_over_commits_nothing(personas, tmp_path):
    """Fencing between live processes: worker A stalls inside step 1 past its lease, worker
    B claims the run and finishes it, then A wakes up: its step must not commit."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite lets one writer in at a time: a stalled step holds the whole database, "
            "so no second worker can take over (PostgreSQL, in CI's second pass, runs this)"
        )
    run, contact = _three_step_run(personas)
    db = WorkerDatabase(tmp_path)
    stalled = db.start_worker(block=True)
    try:
        entered = _wait_for(lambda: any(tmp_path.glob("entered-*")) or stalled.poll() is not None)
        assert entered and stalled.poll() is None, _ended(stalled)
        taker = db.start_worker(block=False)
        output, _ = taker.communicate(timeout=90)  # waits out A's lease, then finishes
        assert taker.returncode == 0, output
        run.refresh_from_db()
        assert run.state == "done"
        (tmp_path / "release").write_text("wake up")
        output, _ = stalled.communicate(timeout=60)
        assert stalled.returncode == 0, output
        assert "lost its lease at step 1" in output
    finally:
        if stalled.poll() is None:
            stalled.kill()
    notes = sorted(Activity.objects.filter(contact=contact).values_list("subject", flat=True))
    assert notes == ["block", "one", "two"]
    steps = list(run.steps.order_by("path").values_list("path", "state", "attempts"))
    assert steps == [("0", "done", 1), ("1", "done", 1), ("2", "done", 1)]

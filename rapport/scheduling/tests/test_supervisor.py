"""`manage.py run` (what `make run` starts) as a newcomer gets it: a real process tree on a
database of its own — the web server answers, a task enqueued from another process is
carried out by the worker, the scheduler has registered its jobs, a killed worker comes back
and does work again, and Ctrl-C stops everything."""

import contextlib
import io
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from rapport.conftest import restore_migration_data
from rapport.scheduling import supervisor
from rapport.scheduling.supervisor import Supervisor

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def _database_url(tmp_path: Path) -> str:
    """The migrated test database for the processes: on SQLite a copy of the in-memory one in
    a file of its own (what a newcomer's `make run` uses), on PostgreSQL the test database
    itself. Cheaper than a `manage.py migrate` of a fresh file in a subprocess (the
    migrations ran once already for the test database)."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = sqlite3.connect(tmp_path / "run.sqlite3")
        connection.connection.backup(target)
        target.close()
        return f"sqlite:///{tmp_path / 'run.sqlite3'}"
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="rapport.settings",
        DATABASE_URL=_database_url(tmp_path),
        RAPPORT_DEV="1",
        DEBUG="0",
        TASK_BACKEND="database",
        RAPPORT_WAREHOUSE_PATH=str(tmp_path / "warehouse"),
        RAPPORT_IMPORT_DIR=str(tmp_path / "imports"),
    )
    env.pop("REDIS_URL", None)
    return env


def _manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, MANAGE, *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, what: str, output: list[str], seconds: float = 300.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; output:\n" + "".join(output))


def _query(db: Path | None, sql: str, *params):
    """What the processes committed: read from their SQLite file (`db`), or on PostgreSQL
    through the test's own connection (in autocommit: it sees their commits)."""
    if db is not None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as sqlite:
            return sqlite.execute(sql.replace("%s", "?"), params).fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _enqueue_scan(env) -> str:
    # --skip-checks: enqueueing needs no URL configuration (the system checks load it all).
    out = _manage(env, "find_duplicates", "--object", "contacts", "--enqueue", "--skip-checks")
    return re.search(r"enqueued task (\S+)", out).group(1).replace("-", "")


def _task_status(db: Path | None, task_id: str):
    rows = _query(
        db, "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = %s", task_id
    )
    return rows[0][0] if rows else None


def _started_pids(output: list[str], name: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"{name} started \(pid (\d+)\)", "".join(output))]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_run_serves_works_off_tasks_schedules_restarts_and_stops(tmp_path):
    restore_migration_data()  # as after `migrate`: the default pipeline, …
    env = _env(tmp_path)
    db = tmp_path / "run.sqlite3" if connection.vendor == "sqlite" else None
    assert _query(db, "SELECT count(*) FROM scheduling_scheduleentry") == [(0,)]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, MANAGE, "run", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")))
    reader.start()
    try:
        # The web server answers.
        def login_page():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        _wait_for(login_page, "the web server", output)

        # A task enqueued by another process (as the UI does) is carried out by the worker.
        first = _enqueue_scan(env)
        _wait_for(lambda: _task_status(db, first) == "SUCCESSFUL", "the first scan", output)

        # The scheduler has registered every periodic job.
        _wait_for(
            lambda: (
                _query(db, "SELECT count(*) FROM scheduling_scheduleentry")[0][0]
                == len(settings.RAPPORT_SCHEDULE)
            ),
            "the scheduler",
            output,
        )

        # A worker that dies is started again, and works.
        (worker,) = _started_pids(output, "worker")
        os.killpg(worker, signal.SIGKILL)
        _wait_for(lambda: len(_started_pids(output, "worker")) == 2, "a new worker", output)
        second = _enqueue_scan(env)
        _wait_for(lambda: _task_status(db, second) == "SUCCESSFUL", "the second scan", output)

        # Ctrl-C stops every child.
        children = [
            pid for name in ("web", "worker", "scheduler") for pid in _started_pids(output, name)
        ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert [pid for pid in children if _alive(pid)] == []
        assert "stopping web, worker, scheduler" in "".join(output)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            for pid in re.findall(r"started \(pid (\d+)\)", "".join(output)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(pid), signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)


def test_a_child_that_keeps_failing_at_start_stops_everything(monkeypatch):
    monkeypatch.setattr(supervisor, "MAX_BACKOFF_SECONDS", 0.05)
    out = io.StringIO()
    run = Supervisor(
        {
            "broken": [sys.executable, "-c", "raise SystemExit(3)"],
            "steady": [sys.executable, "-c", "import time; time.sleep(120)"],
        },
        out=out,
        poll_seconds=0.05,
    )
    started = time.monotonic()
    assert run.run() == 1
    assert time.monotonic() - started < 60
    text = out.getvalue()
    assert text.count("broken started") == supervisor.MAX_QUICK_FAILURES
    assert "broken exited (status 3) 5 times in a row" in text
    steady = next(child for child in run.children if child.name == "steady")
    assert steady.process.returncode == -signal.SIGTERM

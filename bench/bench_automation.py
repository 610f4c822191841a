"""Benchmark: the automation engine under an import, and event-to-action latency.

Builds a fresh database (SQLite in a temporary directory by default, or --database-url) and
measures, in the same run:
  1-2. importing N new contacts with the one rule ("contact created → add tag") paused, then
     N others with it active, alternating for --rounds rounds (ABBA, after one untimed
     warm-up import: a shared machine drifts):
     with the rule active, the import writes one outbox row per contact in its own
     transactions; the ratio of the import rates is the write-path cost of automation
     (target ≥ 80 %). No worker runs meanwhile (the events wait in the outbox);
  3. the worker's throughput on those events: dispatch all into runs, then execute a sample
     (--execute) of runs, each one step: a tag added through the contact service (its
     validation, visibility check, versioned update and timeline event);
  4. event-to-action latency with a real worker running (`manage.py db_worker`, the
     database task backend, its default polling interval): contacts created one by one
     through the service; latency = the run's step finished − the contact's commit. p50 / p95
     (target p95 ≤ 2 s).

    .venv/bin/python bench/bench_automation.py --scale full   # 50,000 rows, 100 events
    .venv/bin/python bench/bench_automation.py --scale tiny   # smoke run: 1,000 rows, 10 events
    SCALE=small .venv/bin/python bench/bench_automation.py    # 5,000 rows, 30 events
(--rows / --latency-events override the scale.)
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIZES = {"tiny": (1_000, 10), "small": (5_000, 30), "full": (50_000, 100), "1m": (50_000, 100)}


def _setup(database_url: str | None, workdir: Path) -> dict:
    env = {
        "RAPPORT_DEV": "1",
        # Enqueues go to the database backend; in phases 1–3 no worker runs (measured apart).
        "TASK_BACKEND": "database",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
        "RAPPORT_IMPORT_DIR": str(workdir / "imports"),
        "DJANGO_SETTINGS_MODULE": "rapport.settings",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def write_csv(path: Path, rows: int, offset: int, seed: int) -> None:
    from bench_import import CITIES, FIRST, LAST, _phone

    rnd = random.Random(seed)
    companies = [f"Company {i:04d}" for i in range(max(1, rows // 200))]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["First name", "Last name", "E-mail", "Phone", "Company", "City", "Country"])
        for i in range(offset, offset + rows):
            city, country = rnd.choice(CITIES)
            w.writerow(
                [
                    rnd.choice(FIRST),
                    rnd.choice(LAST),
                    f"person{i}@example{i % 97}.com",
                    _phone(country, i),
                    rnd.choice(companies),
                    city,
                    country,
                ]
            )


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=sorted(SIZES), default=os.environ.get("SCALE", "small"))
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--latency-events", type=int, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=4, help="imports per side, alternating")
    parser.add_argument("--execute", type=int, default=500, help="runs executed for the rate")
    args = parser.parse_args()
    rows_default, events_default = SIZES.get(args.scale, SIZES["small"])
    args.rows = args.rows or rows_default
    args.latency_events = args.latency_events or events_default

    workdir = Path(tempfile.mkdtemp(prefix="bench-automation-"))
    env = _setup(args.database_url, workdir)

    from bench_import import rapport_import
    from django.db import connection

    from rapport.accounts.services import contact_create
    from rapport.automation import engine, services
    from rapport.automation.models import Run, Step, TriggerEvent
    from rapport.identity.models import Role
    from rapport.identity.services import user_create

    admin = user_create(username="bench-admin", role=Role.ADMIN, password="x", validate=False)
    print(f"database: {connection.vendor}, rows per import: {args.rows:,}")

    # 1-2. imports alternating without / with the active rule (a shared machine drifts: the
    # alternation keeps the comparison fair), each of N new contacts.
    rule = services.rule_create(
        actor=admin,
        data={
            "name": "Tag imported contacts",
            "trigger_type": "record.created",
            "object_type": "contact",
            "actions": [{"type": "add_tag", "params": {"tag": "imported"}}],
            "max_runs_per_hour": 1_000_000,
            "is_active": False,
        },
    )
    # A first import, not timed: it pays the process's one-time costs (module imports, the
    # phone metadata, compiled statements), which would otherwise all fall on one side.
    path = workdir / "import-warm-up.csv"
    write_csv(path, args.rows, 0, seed=7)
    rapport_import(path, admin, policy="create")
    offset = args.rows
    times = {False: 0.0, True: 0.0}
    cpu = {False: 0.0, True: 0.0}
    for round_ in range(args.rounds):
        # ABBA: a machine whose load drifts over the run favours neither side.
        for active in (False, True) if round_ % 2 == 0 else (True, False):
            services.rule_update(rule=rule, actor=admin, data={"is_active": active})
            path = workdir / f"import-{round_}-{int(active)}.csv"
            write_csv(path, args.rows, offset, seed=offset + 7)
            offset += args.rows
            before = TriggerEvent.objects.count()
            started_cpu = time.process_time()
            elapsed, job = rapport_import(path, admin, policy="create")
            cpu[active] += time.process_time() - started_cpu
            assert job.created == args.rows, (job.created, job.failed)
            written = TriggerEvent.objects.count() - before
            assert written == (args.rows if active else 0), written
            times[active] += elapsed
    services.rule_update(rule=rule, actor=admin, data={"is_active": True})  # for the worker
    imported = args.rows * args.rounds
    rate_without = imported / times[False]
    rate_with = imported / times[True]
    ratio = rate_with / rate_without

    # 3. the worker draining the events: dispatch all, execute a sample
    events = TriggerEvent.objects.count()
    started = time.perf_counter()
    runs = engine.dispatch_pending()
    t_dispatch = time.perf_counter() - started
    assert runs == events, (runs, events)
    sample = min(args.execute, runs)
    started = time.perf_counter()
    executed = 0
    while executed < sample:
        ids = engine.claim_runs(limit=min(50, sample - executed))
        if not ids:
            break
        for run_id in ids:
            engine.execute_run(run_id)
        executed += len(ids)
    t_execute = time.perf_counter() - started
    assert Run.objects.filter(state="done").count() == executed
    # The backlog would delay the latency probes: cancel it.
    Run.objects.filter(state="pending").update(state="cancelled")

    # 4. latency with a real worker
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()
    log = open(workdir / "worker.log", "w")  # noqa: SIM115 (closed with the worker)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    latencies = []
    try:
        # Start-up imports the whole project (system checks): wait for its first log line.
        up_by = time.time() + 300
        while "Starting worker" not in (workdir / "worker.log").read_text():
            if worker.poll() is not None or time.time() > up_by:
                raise SystemExit(f"the worker did not start (see {workdir}/worker.log)")
            time.sleep(0.2)
        for i in range(args.latency_events):
            contact = contact_create(actor=admin, fields={"last_name": f"Latency {i}"})
            committed = time.time()
            deadline = committed + 30
            while time.time() < deadline:
                step = (
                    Step.objects.filter(
                        run__object_id=contact.pk, run__object_type="contact", state="done"
                    )
                    .values_list("finished_at", flat=True)
                    .first()
                )
                if step is not None:
                    latencies.append(step.timestamp() - committed)
                    break
                time.sleep(0.02)
            else:
                raise SystemExit(f"no action within 30 s for event {i} (see {workdir}/worker.log)")
            time.sleep(random.uniform(0.05, 0.3))  # events arrive spread out, not in lockstep
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()

    print()
    print(f"{'measure':<52} {'value':>14}")
    print(f"{'import without a rule (rows/s)':<52} {rate_without:>14,.0f}")
    print(f"{'import with one active rule (rows/s)':<52} {rate_with:>14,.0f}")
    print(f"{'ratio with / without (target >= 80 %)':<52} {ratio:>13.0%}")
    # This process's CPU (on SQLite the database's work too; on PostgreSQL the server's is
    # not in it): the ratio a loaded machine's wall clock blurs.
    print(f"{'ratio by this process CPU, without / with':<52} {cpu[False] / cpu[True]:>13.0%}")
    print(f"{'imports per side x rows':<52} {args.rounds:>10} x {args.rows:,}")
    print(f"{'worker: dispatch events into runs (events/s)':<52} {runs / t_dispatch:>14,.0f}")
    print(f"{'worker: execute runs, one add-tag step (runs/s)':<52} {executed / t_execute:>14,.1f}")
    print(f"{'event-to-action latency p50 (s)':<52} {statistics.median(latencies):>14.2f}")
    print(f"{'event-to-action latency p95 (s, target <= 2 s)':<52} {_pct(latencies, 95):>14.2f}")
    print(f"{'latency events':<52} {len(latencies):>14}")


if __name__ == "__main__":
    main()

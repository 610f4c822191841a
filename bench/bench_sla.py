"""Benchmark: the scheduler's SLA pass over 100k open cases.

Builds a fresh database (SQLite in a temporary directory, or --database-url), one office
calendar (two periods a day, Europe/Paris, French holidays), one policy (first response
60 business minutes, resolution 2 days, warning 15 min before, breach → notify the owner)
and N open cases whose clocks were started through the SLA hook's data (opened inputs and
SlaClock rows, bulk-inserted). A share of them (--due, default 1 %) opened three days ago,
so their warning and breach are due; the rest opened just now.

Measured, in the same run:
  - baseline: the bare indexed query for the due clocks (SELECT … WHERE next_check_at <= now);
  - pass 1: `sla_escalations_run()` — every due case gets its warned and breached events
    (claimed once), timeline entries, a notification and its next check;
  - pass 2: the same again (nothing is due any more; what a quiet minute costs).
Prints the times and ratios against the baseline. Target: pass 1 ≤ 10 s at 100k cases.

    .venv/bin/python bench/bench_sla.py                   # 100,000 cases, 1 % due
    .venv/bin/python bench/bench_sla.py --cases 20000 --due 0.05
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _setup(database_url: str | None, workdir: Path) -> None:
    os.environ.update(
        {
            "RAPPORT_DEV": "1",
            "TASK_BACKEND": "immediate",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "rapport.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(cases: int, due_share: float, now: datetime.datetime) -> int:
    from django.db import transaction

    from rapport.calendars.services import calendar_save
    from rapport.cases.models import Case
    from rapport.identity.models import Role
    from rapport.identity.services import user_create
    from rapport.sla.models import SlaClock, SlaEvent
    from rapport.sla.policies import sla_policy_save

    admin = user_create(username="bench-admin", role=Role.ADMIN, password="x", validate=False)
    agent = user_create(username="bench-agent", password="x", validate=False)
    two = [(datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(17))]
    office = calendar_save(
        actor=admin,
        name="Office",
        time_zone="Europe/Paris",
        week={d: two for d in range(5)},
        holiday_country="FR",
    )
    with transaction.atomic():
        policy = sla_policy_save(
            actor=admin,
            data={
                "name": "Standard",
                "first_response_minutes": 60,
                "resolution_minutes": 840,
                "warn_minutes_before": 15,
                "calendar": office,
            },
            escalations={"breach": {"notify_owner": True}},
        )
    due_every = max(1, round(1 / due_share)) if due_share else cases + 1
    old = now - datetime.timedelta(days=3)
    due = 0
    batch = 5_000
    for start in range(0, cases, batch):
        rows, opened, clocks = [], [], []
        for i in range(start, min(cases, start + batch)):
            is_due = i % due_every == 0
            due += is_due
            rows.append(Case(number=i + 1, subject=f"Case {i + 1}", owner=agent, status="open"))
        with transaction.atomic():
            created = Case.objects.bulk_create(rows, batch_size=1000)
            for offset, case in enumerate(created):
                is_due = (start + offset) % due_every == 0
                at = old if is_due else now
                opened.append(
                    SlaEvent(case=case, policy=policy, kind="opened", status="open", at=at)
                )
                # Not exact for the quiet ones (their first check is later): they are not due.
                clocks.append(
                    SlaClock(
                        case=case,
                        policy=policy,
                        status="open",
                        next_check_at=old if is_due else now + datetime.timedelta(hours=1),
                    )
                )
            SlaEvent.objects.bulk_create(opened, batch_size=1000)
            SlaClock.objects.bulk_create(clocks, batch_size=1000)
    return due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=int(os.environ.get("SLA_CASES", 100_000)))
    parser.add_argument("--due", type=float, default=0.01, help="share of cases due")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of pass 1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(args.database_url, Path(tmp))
        from django.db import connection

        from rapport.sla.models import SlaEvent
        from rapport.sla.services import sla_escalations_run

        # A Wednesday at 10:00 Paris: the office is open, so nothing is held back.
        now = datetime.datetime(2026, 5, 6, 8, tzinfo=datetime.UTC)
        t0 = time.perf_counter()
        due = generate(args.cases, args.due, now)
        print(
            f"generated {args.cases:,} open cases ({due:,} due) in {time.perf_counter() - t0:.1f} s"
        )

        # Fresh statistics, as autovacuum / a periodic ANALYZE would have them.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        # A scheduler worker has its URLconf loaded (notification links are reversed);
        # load it here so pass 1 measures the pass, not the first import.
        from rapport.cases.models import Case
        from rapport.web.links import record_url

        record_url(Case.objects.first())

        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT case_id FROM sla_slaclock WHERE next_check_at IS NOT NULL"
                " AND next_check_at <= %s ORDER BY next_check_at",
                [now],
            )
            found = len(cursor.fetchall())
        baseline = time.perf_counter() - t0

        from timing import server_cpu as backend_cpu

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
        s0, c0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        looked = sla_escalations_run(now=now)
        if profiler:
            profiler.disable()
        first = time.perf_counter() - t0
        cpu1, srv1 = time.process_time() - c0, backend_cpu() - s0
        s0, c0, t0 = backend_cpu(), time.process_time(), time.perf_counter()
        again = sla_escalations_run(now=now)
        second = time.perf_counter() - t0
        cpu2, srv2 = time.process_time() - c0, backend_cpu() - s0
        written = SlaEvent.objects.filter(kind__in=["warned", "breached"]).count()

        print(f"vendor: {connection.vendor}")
        print(f"baseline (bare due-clock query, {found:,} rows): {baseline * 1000:.1f} ms")
        print(
            f"pass 1 over {args.cases:,} open cases: {first:.2f} s, {looked:,} cases handled,"
            f" {written:,} warned/breached events ({first / max(baseline, 1e-6):.0f}× baseline;"
            f" {first / max(looked, 1) * 1000:.2f} ms per due case)"
        )
        print(
            f"pass 2 (nothing due): {second * 1000:.1f} ms, {again} cases"
            f" ({second / max(baseline, 1e-6):.1f}× baseline)"
        )
        print(
            f"CPU: pass 1 {cpu1:.2f} s client + {srv1:.2f} s server;"
            f" pass 2 {cpu2 * 1000:.0f} ms client + {srv2 * 1000:.0f} ms server"
            f" (load average {os.getloadavg()[0]:.1f})"
        )
        if profiler:
            import pstats

            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        verdict = "met" if first <= 10 else "MISSED"
        print(f"target pass 1 ≤ 10 s at 100k open cases: {verdict}")


if __name__ == "__main__":
    main()

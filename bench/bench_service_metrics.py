"""Benchmark: the Service dashboard's metrics, forecast and staffing at 100k+ cases.

Fills a database (a temporary SQLite file, or DATABASE_URL) with N cases over a year, with a
weekly and hourly rhythm, five queues (one with its own business calendar), first responses,
resolutions, SLA due times, owners and one or two public replies per case. Then times, each
several times (median and p95):

  - `service_metrics` over the last 90 days and over the whole year (what the API and the
    dashboard call), against the bare SQL of the same reads: the GROUP BY counts, the
    conditional SLA / backlog / reopen counts, and the raw (queue, created, responded /
    resolved) rows the business-time figures need, fetched with a cursor and nothing done
    with them. The ratio says what the ORM, numpy's business time and the percentiles cost
    on top of reading the data;
  - the forecast (a year of daily history, the backtest's four refits included) and the
    staffing plan on top of it.

    python bench/bench_service_metrics.py                  # 100k cases, SQLite
    python bench/bench_service_metrics.py --cases 300000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench_service \
        python bench/bench_service_metrics.py
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TODAY = datetime.date(2026, 6, 1)
QUEUES = 5
AGENTS = 20


def _setup(db_url: str) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def generate(n_cases: int, seed: int, today: datetime.date = TODAY) -> float:
    """Fill the (migrated) database; returns seconds taken."""
    from django.core.management import call_command
    from django.db import transaction

    from rapport.calendars.models import BusinessCalendar, BusinessPeriod
    from rapport.cases.models import Case, CaseCategory, CaseEntry, Queue, QueueMember
    from rapport.identity.models import Role, User

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if Case.objects.count() >= n_cases:
        return 0.0
    rng = np.random.default_rng(seed)
    utc = datetime.UTC
    with transaction.atomic():
        admin = User.objects.create(username="bench-admin", role=Role.ADMIN)
        agents = [User(username=f"agent{i}", first_name=f"Agent {i}") for i in range(AGENTS)]
        User.objects.bulk_create(agents)
        agents = list(User.objects.filter(username__startswith="agent").order_by("id"))
        calendar = BusinessCalendar.objects.create(name="Bench Berlin", time_zone="Europe/Berlin")
        BusinessPeriod.objects.bulk_create(
            BusinessPeriod(calendar=calendar, weekday=d, start=s, end=e)
            for d in range(5)
            for s, e in (
                (datetime.time(8), datetime.time(12)),
                (datetime.time(13), datetime.time(18)),
            )
        )
        queues = [
            Queue.objects.create(name=f"Queue {i}", calendar=calendar if i == 0 else None)
            for i in range(QUEUES)
        ]
        QueueMember.objects.bulk_create(
            QueueMember(queue=queues[i % QUEUES], user=a) for i, a in enumerate(agents)
        )
        categories = [CaseCategory.objects.create(name=f"Category {i}") for i in range(12)]
        # Arrival days with a weekly rhythm and slow growth; hours peaking mid-morning.
        start = datetime.datetime.combine(
            today - datetime.timedelta(days=365), datetime.time(), utc
        )
        weekday_weight = np.array([1.2, 1.15, 1.1, 1.05, 1.0, 0.35, 0.25])
        days = np.arange(365)
        weights = weekday_weight[(start.weekday() + days) % 7] * (1 + days / 730)
        day_idx = rng.choice(days, size=n_cases, p=weights / weights.sum())
        hours = np.clip(rng.normal(12, 3.5, n_cases), 0, 23.99)
        created = [
            start + datetime.timedelta(days=int(d), hours=float(h))
            for d, h in zip(day_idx, hours, strict=True)
        ]
        created.sort()
        fr_delay = rng.exponential(4 * 3600, n_cases)
        res_delay = fr_delay + rng.exponential(40 * 3600, n_cases)
        now = datetime.datetime.combine(today, datetime.time(), utc)
        channels = ["email", "phone", "chat", "web_form", "portal"]
        field = Case._meta.get_field("created_at")
        field.auto_now_add = False  # keep the generated creation times
        batch = []
        number = Case.objects.count()
        for i, at in enumerate(created):
            number += 1
            responded = at + datetime.timedelta(seconds=float(fr_delay[i]))
            resolved = at + datetime.timedelta(seconds=float(res_delay[i]))
            done = resolved < now and rng.random() < 0.92
            batch.append(
                Case(
                    number=number,
                    subject=f"Bench case {number}",
                    queue=queues[i % QUEUES],
                    category=categories[int(rng.integers(0, 12))],
                    channel=channels[int(rng.integers(0, 5))],
                    owner=agents[int(rng.integers(0, AGENTS))],
                    status="resolved" if done else "open",
                    created_at=at,
                    first_response_at=responded if responded < now else None,
                    resolved_at=resolved if done else None,
                    first_response_due_at=at + datetime.timedelta(hours=8),
                    resolution_due_at=at + datetime.timedelta(hours=72),
                    reopened_count=1 if rng.random() < 0.06 else 0,
                )
            )
            if len(batch) == 5000:
                Case.objects.bulk_create(batch)
                batch = []
        if batch:
            Case.objects.bulk_create(batch)
        field.auto_now_add = True
        entries = []
        for case_id, owner_id, responded in Case.objects.filter(
            first_response_at__isnull=False
        ).values_list("id", "owner_id", "first_response_at"):
            entries.append(
                CaseEntry(case_id=case_id, kind="reply", author_id=owner_id, created_at=responded)
            )
            if len(entries) == 5000:
                CaseEntry.objects.bulk_create(entries)
                entries = []
        if entries:
            CaseEntry.objects.bulk_create(entries)
        admin.save()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - started


def _time(fn, runs: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


def bare_sql(start: datetime.datetime, end: datetime.datetime, now: datetime.datetime):
    """The same reads as service_metrics, as plain SQL through a cursor."""
    from django.db import connection

    pg = connection.vendor == "postgresql"

    def epoch(col):
        return f"EXTRACT(EPOCH FROM {col})" if pg else f"((julianday({col}) - 2440587.5) * 86400.0)"

    hour = "EXTRACT(HOUR FROM created_at)" if pg else "CAST(strftime('%H', created_at) AS INTEGER)"
    dow = "EXTRACT(ISODOW FROM created_at)" if pg else "strftime('%w', created_at)"
    live = "deleted_at IS NULL AND merged_into_id IS NULL"
    rng = f"{live} AND created_at >= %s AND created_at < %s"
    res = f"{live} AND resolved_at >= %s AND resolved_at < %s"
    day = datetime.timedelta(days=1)
    adapt = connection.ops.adapt_datetimefield_value
    start, end = adapt(start), adapt(end)

    def run():
        with connection.cursor() as cur:
            for group in ("category_id", "channel", hour, dow):
                cur.execute(
                    f"SELECT {group}, COUNT(*) FROM cases_case WHERE {rng} GROUP BY 1", [start, end]
                )
                cur.fetchall()
            cur.execute(
                f"SELECT queue_id, {epoch('created_at')}, {epoch('first_response_at')} FROM cases_case "
                f"WHERE {rng} AND first_response_at IS NOT NULL",
                [start, end],
            )
            cur.fetchall()
            cur.execute(
                f"SELECT queue_id, {epoch('created_at')}, {epoch('resolved_at')} FROM cases_case WHERE {res}",
                [start, end],
            )
            cur.fetchall()
            cur.execute(
                f"SELECT queue_id, {epoch('created_at')}, {epoch('resolved_at')}, owner_id FROM cases_case "
                f"WHERE {res} AND owner_id IS NOT NULL",
                [start, end],
            )
            cur.fetchall()
            cur.execute(
                "SELECT COUNT(*) FILTER (WHERE first_response_at <= first_response_due_at), "
                "COUNT(*) FILTER (WHERE first_response_due_at IS NOT NULL), "
                "COUNT(*) FILTER (WHERE resolved_at <= resolution_due_at), "
                "COUNT(*) FILTER (WHERE resolution_due_at IS NOT NULL), "
                f"COUNT(*) FILTER (WHERE reopened_count > 0) FROM cases_case WHERE {rng}",
                [start, end],
            )
            cur.fetchall()
            cur.execute(
                "SELECT COUNT(*), "
                + ", ".join(
                    "COUNT(*) FILTER (WHERE created_at <= %s AND created_at > %s)" for _ in range(5)
                )
                + f" FROM cases_case WHERE {live} AND status IN ('new','open','pending_customer','on_hold')",
                [
                    adapt(x)
                    for lo, hi in ((0, 1), (1, 3), (3, 7), (7, 30), (30, 3650))
                    for x in (now - lo * day, now - hi * day)
                ],
            )
            cur.fetchall()
            cur.execute(
                "SELECT e.author_id, COUNT(*) FROM cases_caseentry e JOIN cases_case c ON c.id = e.case_id "
                "WHERE e.kind = 'reply' AND e.created_at >= %s AND e.created_at < %s AND c.deleted_at IS NULL "
                "AND c.merged_into_id IS NULL GROUP BY 1",
                [start, end],
            )
            cur.fetchall()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tmp = None
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        tmp = tempfile.TemporaryDirectory(prefix="bench-service-")
        url = f"sqlite:///{tmp.name}/bench.sqlite3"
    _setup(url)
    import time_machine
    from django.db import connection

    from rapport.analytics.service.forecast import service_forecast
    from rapport.analytics.service.metrics import MetricsFilter, service_metrics
    from rapport.analytics.service.staffing import service_staffing
    from rapport.identity.models import User

    took = generate(args.cases, args.seed)
    print(f"{connection.vendor}: {args.cases:,} cases generated in {took:.1f} s")
    admin = User.objects.get(username="bench-admin")
    now = datetime.datetime.combine(TODAY, datetime.time(), datetime.UTC)
    rows = []
    with time_machine.travel(now, tick=False):
        for label, days in (("metrics, 90 days", 90), ("metrics, 365 days", 365)):
            f = MetricsFilter(
                start=TODAY - datetime.timedelta(days=days), end=TODAY - datetime.timedelta(days=1)
            )
            ours = _time(lambda f=f: service_metrics(user=admin, filters=f, now=now), args.runs)
            bare = _time(bare_sql(f.start_at, f.end_at, now), args.runs)
            rows.append((label, ours, bare))
        fc = _time(lambda: service_forecast(user=admin, today=TODAY), 3)
        rows.append(("forecast (365 days, backtest)", fc, None))
        forecast = service_forecast(user=admin, today=TODAY)
        st = _time(lambda: service_staffing(user=admin, today=TODAY, forecast=forecast), 3)
        rows.append(("staffing (Erlang C, 24×7)", st, None))
    print("\n| step | p50 ms | p95 ms | bare SQL p50 / p95 ms | ratio p50 | ratio p95 |")
    print("|---|---|---|---|---|---|")
    for label, (p50, p95), bare in rows:
        if bare:
            print(
                f"| {label} | {p50:.1f} | {p95:.1f} | {bare[0]:.1f} / {bare[1]:.1f} | {p50 / bare[0]:.2f} | {p95 / bare[1]:.2f} |"
            )
        else:
            print(f"| {label} | {p50:.1f} | {p95:.1f} | – | – | – |")
    bt = forecast["backtest"]
    print(
        f"\nforecast: {forecast['model']}; backtest MAE {bt['model']['mae']} "
        f"(MASE {bt['model']['mase']}) vs seasonal naive {bt['seasonal_naive']['mae']} "
        f"(MASE {bt['seasonal_naive']['mase']})"
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()

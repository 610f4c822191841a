"""Benchmark: the probabilistic forecast over 100k open opportunities (issue 15; target ≤ 2 s).

Two modes. Without --database-url: the Monte Carlo alone on synthetic arrays (below). With
--database-url (PostgreSQL): END TO END on a database of --deals open opportunities (plus
--closed won/lost ones with stage history to learn from), generated server-side
(INSERT … SELECT over generate_series) unless --no-generate: `GET /api/forecasts?scope=all`
through Django's test client as an administrator, and `selectors.forecast` alone, against
the same run's bare baseline: the bare SELECT of the open deals' forecast columns into numpy
arrays plus the bare draw (sims × deals float32 uniforms). Wall, client CPU, PostgreSQL
backend CPU and query counts.

    python bench/bench_forecast.py --database-url postgres://…/rapport_x [--no-generate]

Times `rapport.forecasts.montecarlo.simulate` (1,000 runs: win draws, close dates from the
slip model for deals with an expected close date and from time-in-stage for the others,
P10/P50/P90) on synthetic arrays, against the same run's baseline: drawing sims × deals
float32 uniform random numbers, which any simulation of this shape must do. Wall and CPU
seconds, the load average beside them; the target is judged on CPU seconds (one core busy
for that long), since the wall time of a shared machine measures the others. Not measured here: reading the deals
and their stage history from the database (`forecasts.history.load_history`).

    python bench/bench_forecast.py [--deals 100000] [--sims 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def arrays(n: int, seed: int = 1):
    import numpy as np

    from rapport.forecasts.montecarlo import Deals, Timing

    rng = np.random.default_rng(seed)
    stage = rng.integers(1, 6, n)
    anchor = np.where(rng.random(n) < 0.7, rng.integers(-20, 120, n).astype(float), np.nan)
    deals = Deals(
        rng.integers(1, 500, n) * 100.0,
        rng.random(n),
        stage.astype(np.int64),
        rng.integers(0, 60, n).astype(float),
        anchor,
    )
    timing = Timing(
        slips=rng.normal(10, 20, 2000).round(),
        remaining={s: np.sort(rng.gamma(2.0, 20.0, 3000)) for s in range(1, 6)},
    )
    return deals, timing


def generate(deals: int, closed: int, seed: int = 15):
    """`deals` open and `closed` won/lost opportunities over 10 reps, with a stage history
    (creation entry; the closed ones also their move to won/lost), all in SQL."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_sfa import _insert_select
    from django.core.management import call_command
    from django.db import connection, transaction

    from rapport.identity.models import User
    from rapport.sales.models import Opportunity, Pipeline, Stage, StageChange

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {Opportunity._meta.db_table}, {StageChange._meta.db_table} CASCADE"
        )
    admin = User.objects.filter(username="bench").first() or User.objects.create(
        username="bench", is_superuser=True
    )
    reps = [
        User.objects.get_or_create(username=f"bench-rep{i}", defaults={"first_name": f"Rep {i}"})[0]
        for i in range(10)
    ]
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
    open_ids = [s.pk for s in stages if s.kind == "open"]
    won = next(s.pk for s in stages if s.kind == "won")
    lost = next(s.pk for s in stages if s.kind == "lost")
    rep_ids = ", ".join(str(int(r.pk)) for r in reps)
    opens = ", ".join(str(int(i)) for i in open_ids)
    owner = f"(ARRAY[{rep_ids}])[1 + floor(random() * {len(reps)})::int]"
    stage = f"(ARRAY[{opens}])[1 + floor(random() * {len(open_ids)})::int]"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        _insert_select(
            Opportunity,
            deals,
            {
                "owner_id": owner,
                "name": "'Deal ' || i",
                "pipeline_id": str(int(pipeline.pk)),
                "stage_id": stage,
                "amount": "(1 + floor(random() * 500)) * 100",
                "currency": "'EUR'",
                "expected_close_date": "CASE WHEN random() < 0.7 THEN current_date + "
                "(floor(random() * 200) - 20)::int END",
                "created_at": "now() - (random() * 300) * interval '1 day'",
                "updated_at": "now()",
                "stage_changed_at": "now() - (random() * 60) * interval '1 day'",
            },
        )
        _insert_select(
            Opportunity,
            closed,
            {
                "owner_id": owner,
                "name": "'Closed ' || i",
                "pipeline_id": str(int(pipeline.pk)),
                "stage_id": f"CASE WHEN random() < 0.4 THEN {int(won)} ELSE {int(lost)} END",
                "amount": "(1 + floor(random() * 500)) * 100",
                "currency": "'EUR'",
                "created_at": "now() - (100 + random() * 630) * interval '1 day'",
                "updated_at": "now()",
            },
        )
        with connection.cursor() as cursor:
            table = Opportunity._meta.db_table
            # Closed deals: closed 10–90 days after creation, expected about then.
            cursor.execute(
                f"UPDATE {table} SET closed_at = created_at + (10 + random() * 80) "  # noqa: S608
                "* interval '1 day' WHERE name LIKE 'Closed %%'"
            )
            cursor.execute(
                f"UPDATE {table} SET stage_changed_at = closed_at, "  # noqa: S608
                "expected_close_date = (closed_at - (floor(random() * 30) - 10) "
                "* interval '1 day')::date WHERE closed_at IS NOT NULL"
            )
            changes = StageChange._meta.db_table
            # Creation entries (closed deals entered a random open stage), then the close.
            cursor.execute(
                f"INSERT INTO {changes} (opportunity_id, to_stage_id, changed_at, amount) "  # noqa: S608
                f"SELECT id, CASE WHEN closed_at IS NULL THEN stage_id ELSE {stage} END, "
                f"created_at, amount FROM {table}"
            )
            cursor.execute(
                f"INSERT INTO {changes} (opportunity_id, from_stage_id, to_stage_id, "  # noqa: S608
                "changed_at, amount) SELECT id, NULL, stage_id, closed_at, amount "
                f"FROM {table} WHERE closed_at IS NOT NULL"
            )
            cursor.execute(
                f"INSERT INTO {changes} (opportunity_id, to_stage_id, changed_at, amount) "  # noqa: S608
                "SELECT id, stage_id, stage_changed_at, amount "
                f"FROM {table} WHERE closed_at IS NULL AND stage_changed_at > created_at"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return admin


def end_to_end(args) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import numpy as np
    from bench_sfa import Clock
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from rapport.forecasts import selectors
    from rapport.forecasts.access import Scope
    from rapport.forecasts.periods import QUARTER, period_containing
    from rapport.identity.models import User
    from rapport.sales.models import Opportunity

    if not args.no_generate:
        with Clock() as gen:
            generate(args.deals, args.closed)
        print(f"generated {args.deals:,} open + {args.closed:,} closed deals: {gen}", flush=True)
    admin = User.objects.get(username="bench")
    period = period_containing(QUARTER, django.utils.timezone.localdate())
    n_open = Opportunity.objects.filter(stage__kind="open").count()

    def bare():
        rows = list(
            Opportunity.objects.filter(stage__kind="open").values_list(
                "amount", "stage_id", "expected_close_date", "stage_changed_at", "owner_id"
            )
        )
        amount = np.array([float(r[0]) for r in rows])
        rng = np.random.default_rng(0)
        for start in range(0, len(amount), 16_384):
            rng.random((args.sims, min(16_384, len(amount) - start)), dtype=np.float32)
        return amount

    client = Client()
    client.force_login(admin)

    def api():
        response = client.get(f"/api/forecasts?scope=all&period={period.key}")
        assert response.status_code == 200, response.content[:500]
        return response.json()

    def service():
        return selectors.forecast(admin, period, Scope("all", None, "all"), sims=args.sims)

    rows = []
    for label, fn in (("bare SELECT + draw", bare), ("service", service), ("API", api)):
        best = None
        for _ in range(args.repeat):
            reset_queries()
            with CaptureQueriesContext(connection) as queries, Clock() as clock:
                out = fn()
            if best is None or clock.wall < best[0].wall:
                best = (clock, len(queries))
        rows.append((label, *best))
        if label == "API":
            print(
                f"  API: P10 {out['p10']:,.0f} P50 {out['p50']:,.0f} P90 {out['p90']:,.0f}, "
                f"{out['open_deals']:,} open deals in the simulation",
                flush=True,
            )
    load = os.getloadavg()
    print(f"open deals={n_open:,} sims={args.sims:,} load average {load[0]:.1f} {load[1]:.1f}")
    base = rows[0][1]
    for label, clock, queries in rows:
        print(
            f"{label:20s} wall {clock.wall:6.2f} s  client CPU {clock.cpu:6.2f} s  "
            f"server CPU {clock.server:5.2f} s  queries {queries:3d}  "
            f"ratio (wall) {clock.wall / base.wall:5.2f}x  (CPU) "
            f"{(clock.cpu + clock.server) / max(base.cpu + base.server, 1e-9):5.2f}x"
        )
    api_clock = rows[2][1]
    print(
        f"target <= 2 s end to end: {'met' if api_clock.wall <= 2 else 'not met'} (wall), "
        f"{'met' if api_clock.cpu + api_clock.server <= 2 else 'not met'} (client+server CPU)"
    )


def main() -> None:
    import numpy as np

    from rapport.forecasts.montecarlo import simulate

    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="", help="end to end on this database")
    parser.add_argument("--closed", type=int, default=20_000, help="won/lost deals (history)")
    parser.add_argument("--no-generate", action="store_true", help="reuse the database's deals")
    args = parser.parse_args()
    if args.database_url:
        end_to_end(args)
        return
    deals, timing = arrays(args.deals)

    def timed(fn):
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            w, c = time.perf_counter(), time.process_time()
            fn()
            best_wall = min(best_wall, time.perf_counter() - w)
            best_cpu = min(best_cpu, time.process_time() - c)
        return best_wall, best_cpu

    def run():
        simulate(deals, timing, lo=0, hi=90, sims=args.sims, seed=0)

    def baseline():
        rng = np.random.default_rng(0)
        for start in range(0, args.deals, 16_384):
            n = min(16_384, args.deals - start)
            rng.random((args.sims, n), dtype=np.float32)

    wall, cpu = timed(run)
    base_wall, base_cpu = timed(baseline)
    load = os.getloadavg()
    print(f"deals={args.deals:,} sims={args.sims:,} load average {load[0]:.1f} {load[1]:.1f}")
    print(f"forecast     wall {wall:6.2f} s  cpu {cpu:6.2f} s  (target <= 2 s)")
    print(f"random draws wall {base_wall:6.2f} s  cpu {base_cpu:6.2f} s")
    print(f"ratio (cpu)  {cpu / base_cpu:.2f}x of the unavoidable random draws")
    print(f"target met (cpu): {'yes' if cpu <= 2 else 'no'}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    main()

"""Benchmark: an agent's queue list and the case page at scale (issue 12).

Builds a fresh database (SQLite in a temporary directory, or --database-url) with N cases
(default 1,000,000) spread over 20 queues and 200 agents, and N × --entries conversation
entries (default 10 per case: 10M), bulk-inserted. The bench agent is in two queues and
owns ~1/200 of the cases.

Measured, in the same run, p50/p95 over --samples requests:
  - "my cases" (GET /cases/?view=mine) and "unassigned in my queues"
    (GET /cases/?view=unassigned), full page render through the test client, against the
    bare SQL of the rows they show (the indexed select of the first 50);
  - the case page (GET /cases/<id>/) against the bare SQL of its conversation.
Target (like the other lists): p95 ≤ 2 × bare SQL + 10 ms.

    .venv/bin/python bench/bench_cases.py                          # 1M cases, 10M entries
    .venv/bin/python bench/bench_cases.py --cases 100000 --entries 10
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from timing import p50_p95  # noqa: E402

QUEUES = 20
AGENTS = 200


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


def generate(cases: int, entries: int, now: datetime.datetime):
    """Cases and entries written by the demo generator's Writer (COPY on PostgreSQL,
    executemany on SQLite) with the two tables' indexes dropped and rebuilt around the
    load. A database that already holds the bench agent and `cases` cases is reused."""
    from django.db import connection, transaction

    from rapport.cases.models import Queue, QueueMember
    from rapport.demo.bulk.writing import Writer, rebuilt_indexes
    from rapport.identity.models import User
    from rapport.identity.services import user_create

    existing = User.objects.filter(username="bench-agent").first()
    if existing is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM cases_case")
            if cursor.fetchone()[0] >= cases:
                print("  reusing the cases already generated", flush=True)
                return existing
        raise SystemExit("the database holds a smaller bench dataset: drop it first")
    rng = random.Random(12)
    agent = user_create(username="bench-agent", password="x", validate=False)
    others = User.objects.bulk_create(
        [User(username=f"agent-{i}", is_active=True) for i in range(AGENTS - 1)]
    )
    agent_ids = [agent.pk, *(u.pk for u in others)]
    queues = Queue.objects.bulk_create([Queue(name=f"Queue {i}") for i in range(QUEUES)])
    queue_ids = [q.pk for q in queues]
    QueueMember.objects.bulk_create(
        [QueueMember(queue=queues[i], user=agent) for i in (0, 1)]
        + [QueueMember(queue=queues[i % QUEUES], user=u) for i, u in enumerate(others)]
    )
    statuses = ["new", "open", "open", "pending_customer", "resolved", "closed", "closed"]
    open_statuses = ("new", "open")
    lorem = "lorem ipsum " * 20
    iso = "+00:00" if connection.vendor == "postgresql" else ""

    def stamp(value: datetime.datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") + iso

    writer = Writer()
    first_id = writer.next_id("cases_case")
    first_entry = writer.next_id("cases_caseentry")
    owners: list[int | None] = []
    created: list[datetime.datetime] = []

    def case_rows():
        for i in range(cases):
            status = rng.choice(statuses)
            owner = None if rng.random() < 0.1 else agent_ids[rng.randrange(AGENTS)]
            at = now - datetime.timedelta(minutes=rng.randrange(60 * 24 * 365))
            owners.append(owner)
            created.append(at)
            due = (
                stamp(at + datetime.timedelta(hours=rng.randrange(1, 96)))
                if status in open_statuses
                else None
            )
            yield (
                first_id + i,
                i + 1,
                f"Case {i + 1} about order {rng.randrange(10**6)}",
                status,
                owner,
                queue_ids[rng.randrange(QUEUES)],
                stamp(at),
                stamp(at),
                due,
            )

    def entry_rows():
        n = first_entry
        for i in range(cases):
            for k in range(entries):
                yield (
                    n,
                    first_id + i,
                    "customer" if k % 2 == 0 else "reply",
                    None if k % 2 == 0 else owners[i],
                    f"Message {k} on case {i + 1}: {lorem}",
                    stamp(created[i] + datetime.timedelta(hours=k)),
                )
                n += 1

    with transaction.atomic(), rebuilt_indexes(["cases_case", "cases_caseentry"]):
        writer.write(
            "cases_case",
            (
                "id",
                "number",
                "subject",
                "status",
                "owner_id",
                "queue_id",
                "created_at",
                "updated_at",
                "due_at",
            ),
            case_rows(),
        )
        print(f"  {cases:,} cases", flush=True)
        writer.write(
            "cases_caseentry",
            ("id", "case_id", "kind", "author_id", "body", "created_at"),
            entry_rows(),
        )
        print(f"  {cases * entries:,} entries", flush=True)
        writer.reset_sequence("cases_case")
        writer.reset_sequence("cases_caseentry")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # VACUUM sets the visibility map, as autovacuum would on a live desk: the lists'
            # counts are index-only scans, which read the heap of pages not yet marked.
            cursor.execute("VACUUM (ANALYZE) cases_case")
            cursor.execute("VACUUM (ANALYZE) cases_caseentry")
        cursor.execute("ANALYZE")
    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10, help="entries per case")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile of the case page and my cases"
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="fill the database and stop (reused later)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(args.database_url, Path(tmp))
        from django.db import connection
        from django.test import Client

        from rapport.cases.selectors import queue_ids_of

        now = datetime.datetime.now(datetime.UTC)
        t0 = time.perf_counter()
        agent = generate(args.cases, args.entries, now)
        print(
            f"generated {args.cases:,} cases, {args.cases * args.entries:,} entries"
            f" in {time.perf_counter() - t0:.0f} s ({connection.vendor})"
        )
        if args.generate_only:
            return
        from django.test.utils import CaptureQueriesContext

        from rapport.identity.services import api_token_create

        client = Client()
        client.force_login(agent)
        _, secret = api_token_create(user=agent, name="bench")
        api = Client(headers={"Authorization": f"Bearer {secret}"})
        queues = list(queue_ids_of(agent))
        rng = random.Random(3)
        rows = []

        def bare_of(http, url):
            """The SELECTs the request ran, captured once, re-run on the raw cursor (the
            bare SQL of the same request, as bench_web.py measures)."""
            connection.ensure_connection()
            with CaptureQueriesContext(connection) as ctx:
                response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)
            statements = [
                q["sql"]
                for q in ctx.captured_queries
                if q["sql"].lstrip().upper().startswith("SELECT")
            ]

            def run():
                with connection.cursor() as cursor:
                    raw = cursor.cursor
                    for sql in statements:
                        raw.execute(sql)
                        if raw.description is not None:
                            raw.fetchall()

            return run, len(statements)

        def get(http, url):
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)

        def cpu_ms(http, urls) -> float:
            """Median CPU time of this process per request (Django, the template engine
            and the driver; the database server's work is not in it)."""
            times = []
            for url in urls:
                start = time.process_time()
                get(http, url)
                times.append((time.process_time() - start) * 1000)
            times.sort()
            return times[len(times) // 2]

        def server_side(http, url) -> tuple[float, int, float]:
            """Every SELECT of the request under EXPLAIN (ANALYZE, BUFFERS): summed
            execution and planning time (ms) and shared buffers touched — numbers the
            machine's load does not distort the way it distorts wall time."""
            if connection.vendor != "postgresql":
                return 0.0, 0, 0.0
            with CaptureQueriesContext(connection) as ctx:
                get(http, url)
            execution = planning = 0.0
            buffers = 0
            with connection.cursor() as cursor:
                for q in ctx.captured_queries:
                    if not q["sql"].lstrip().upper().startswith("SELECT"):
                        continue
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q["sql"])
                    plan = cursor.fetchone()[0]
                    plan = plan[0] if isinstance(plan, list) else plan
                    execution += plan["Execution Time"]
                    planning += plan.get("Planning Time", 0.0)
                    top = plan["Plan"]
                    buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
            return execution, buffers, planning

        visible = []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM cases_case WHERE owner_id = %s OR queue_id IN ("
                + ",".join(str(q) for q in queues)
                + ") LIMIT 5000",
                [agent.pk],
            )
            visible = [r[0] for r in cursor.fetchall()]
        sample = rng.sample(visible, min(args.samples, len(visible)))
        if args.profile:
            import cProfile
            import pstats

            for url in (f"/cases/{sample[0]}/", "/cases/?view=mine"):
                get(client, url)
                profiler = cProfile.Profile()
                profiler.enable()
                for pk in sample[:10]:
                    get(client, url if "view" in url else f"/cases/{pk}/")
                profiler.disable()
                print(f"--- cProfile, 10 × {url} (cumulative) ---")
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        checks = [
            ("API my cases (GET /api/cases?view=mine)", api, lambda _: "/api/cases?view=mine"),
            (
                "API unassigned in my queues (GET /api/cases?view=unassigned)",
                api,
                lambda _: "/api/cases?view=unassigned",
            ),
            ("page: my cases (GET /cases/?view=mine)", client, lambda _: "/cases/?view=mine"),
            (
                "API case conversation (GET /api/cases/<id>/entries)",
                api,
                lambda pk: f"/api/cases/{pk}/entries",
            ),
            ("page: case (GET /cases/<id>/)", client, lambda pk: f"/cases/{pk}/"),
        ]
        for label, http, url_of in checks:
            inputs = sample if "<id>" in label else [None] * args.samples
            baselines = {x: bare_of(http, url_of(x)) for x in dict.fromkeys(inputs)}
            b50, b95 = p50_p95(lambda x, b=baselines: b[x][0](), inputs)
            p50, p95 = p50_p95(lambda x, h=http, u=url_of: get(h, u(x)), inputs)
            target = 2 * b95 + 10
            verdict = "yes" if p95 <= target else f"**no** (+{p95 - target:.0f} ms)"
            n = max(b[1] for b in baselines.values())
            cpu = cpu_ms(http, [url_of(x) for x in inputs[:10]])
            execution, buffers, planning = server_side(http, url_of(inputs[0]))
            rows.append(
                f"| {label} | {p50:.1f} ms | {p95:.1f} ms | {b50:.1f} / {b95:.1f} ms ({n} SELECTs)"
                f" | {p95 / max(b95, 0.01):.1f}× | ≤ {target:.0f} ms | {verdict}"
                f" | {cpu:.1f} ms | {execution:.1f} / {planning:.1f} ms, {buffers} buffers |"
            )
        print(
            "| page | p50 | p95 | bare SQL p50 / p95 | ratio p95 | target | met"
            " | CPU per request (Django process, p50) | SQL execution / planning (EXPLAIN ANALYZE), buffers |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()

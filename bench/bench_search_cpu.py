"""Typeahead per persona by CPU (issue 17): the numbers a loaded machine does not inflate.

For the admin, the typical rep (the active sales rep who owns the most contacts), `bench-few`
(a rep in a team of their own owning 1 in 2,000 contacts, made on first run as in
bench_search_plans.py) and `bench-lonely` (sees nothing), each query kind of
bench_personas.py (substring, two words, phone, prefix) runs through
`search_typeahead(types=["contact"], limit=20)`. Prints per row wall p50/p95 (load-dependent),
the p95 of this process's CPU per call (`time.process_time`: on SQLite that is all the work)
and, on PostgreSQL, the p95 of the backend's CPU per call (utime+stime of the backend pid,
/proc/<pid>/stat, 10 ms ticks: read it as a sum over the calls, shown as the mean too), and
the statements per call. Read-only apart from making those two users once: no migrate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench N=40 \\
        .venv/bin/python bench/bench_search_cpu.py
    DATABASE_URL=sqlite:///var/bench/bench-small.sqlite3 N=40 .venv/bin/python bench/bench_search_cpu.py
"""

import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.bench_personas import admin_and_top_rep, fresh, query_sets  # noqa: E402 - sets up Django
from bench.bench_search_plans import _few  # noqa: E402
from rapport.accounts.models import Contact  # noqa: E402
from rapport.identity.models import User  # noqa: E402
from rapport.identity.services import team_create, user_create  # noqa: E402
from rapport.search.selectors import search_typeahead  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int | None) -> float:
    """Seconds of CPU (user + system) of the PostgreSQL backend `pid` so far."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def main() -> None:
    admin, rep = admin_and_top_rep()
    lonely = User.objects.filter(username="bench-lonely").first() or user_create(
        username="bench-lonely", team=team_create(name="Bench lonely team")
    )
    who = {"admin": admin, "rep": rep, "few": _few(), "nobody": lonely}
    if os.environ.get("WHO"):  # e.g. WHO=rep,few
        who = {k: v for k, v in who.items() if k in os.environ["WHO"].split(",")}
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    counts = {name: Contact.objects.filter(owner=u).count() for name, u in who.items()}
    print(f"# {connection.vendor}, {Contact.all_objects.count():,} contacts; owned: {counts}; "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| row | wall p50 / p95 ms | client CPU p95 ms | DB backend CPU mean / p95 ms "
          "| statements / call |")  # fmt: skip
    print("|---|---|---|---|---|")
    kinds = os.environ.get("KINDS", "substring,two words,phone,prefix").split(",")
    for kind, queries in query_sets(random.Random(11)).items():
        if kind not in kinds:
            continue
        for name, user in who.items():
            for q in queries[:3]:  # warm
                search_typeahead(user=fresh(user), q=q, types=["contact"], limit=20)
            walls, cpus, backend, statements = [], [], [], 0
            for q in queries:
                b0, c0, w0 = backend_cpu(pid), time.process_time(), time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    search_typeahead(user=fresh(user), q=q, types=["contact"], limit=20)
                walls.append((time.perf_counter() - w0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                backend.append((backend_cpu(pid) - b0) * 1000)
                statements = max(statements, len(ctx.captured_queries))
            print(f"| {kind} {name} | {statistics.median(walls):.1f} / {p95(walls):.1f} | "
                  f"{p95(cpus):.1f} | {statistics.mean(backend):.1f} / {p95(backend):.0f} | "
                  f"{statements} |", flush=True)  # fmt: skip
    print(f"# load after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

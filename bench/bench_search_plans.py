"""Typeahead per persona by its plans (issue 17): for the admin, a manager, a typical sales
rep, a rep who owns 1 in 2,000 contacts (`bench-few`, made on first run) and a user who
sees nothing, each query kind of bench_personas.py (substring, two words,
phone fragment, two-letter prefix) runs through `search_typeahead(types=["contact"])`, and
every SQL statement it sent is run again under `EXPLAIN (ANALYZE, BUFFERS)`. Prints per row:
wall p50/p95 (ms, load-dependent), the p95 of the SQL execution time the server reports
(summed over the statements of one call), the most buffers (shared hit + read) one call
touched and the most rows a plan node produced: counts that do not depend on the load.

    DATABASE_URL=postgres://…/rapport_bench1m N=30 .venv/bin/python bench/bench_search_plans.py

WHO=admin,rep and KINDS=phone pick rows. PostgreSQL only (EXPLAIN ANALYZE of the captured
statements). Creates `bench-lonely` (a user
in a team of its own) when missing, like bench_personas.py.
"""

import json
import os
import random
import sys

sys.path.insert(0, os.getcwd())

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.bench_personas import fresh, query_sets  # noqa: E402 - sets up Django
from bench.timing import p50_p95  # noqa: E402
from rapport.accounts.models import Contact  # noqa: E402
from rapport.identity.models import Role, User  # noqa: E402
from rapport.identity.services import team_create, user_create  # noqa: E402
from rapport.search.selectors import search_typeahead  # noqa: E402


def _rows(node: dict) -> int:
    return max(
        [node.get("Actual Rows", 0) * node.get("Actual Loops", 1)]
        + [_rows(child) for child in node.get("Plans", [])]
    )


def explained(sql: str) -> tuple[float, int, int]:
    """Execution time (ms), shared buffers and the largest node's rows of one statement."""
    if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "set_config" in sql:
        return 0.0, 0, 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return plan["Execution Time"], buffers, _rows(top)


def _few() -> User:
    """`bench-few`: a rep in a team of their own who owns 1 in 2,000 contacts (500 at 1M):
    "a rep who sees almost nothing" (the per-grant plan). Made once, by moving those
    contacts to them in the benchmark's database."""
    few = User.objects.filter(username="bench-few").first() or user_create(
        username="bench-few", team=team_create(name="Bench few team")
    )
    if not Contact.all_objects.filter(owner=few).exists():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE accounts_contact SET owner_id = %s, team_id = %s WHERE id %% 2000 = 7",
                [few.pk, few.team_id],
            )
    return few


def main() -> None:
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    rep_id = (
        Contact.objects.filter(owner__role=Role.SALES_REP, owner__is_active=True)
        .values("owner_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()["owner_id"]
    )
    rep = User.objects.get(pk=int(os.environ.get("REP", rep_id)))
    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()
    lonely = User.objects.filter(username="bench-lonely").first() or user_create(
        username="bench-lonely", team=team_create(name="Bench lonely team")
    )
    who = {"admin": admin, "manager": manager, "rep": rep, "few": _few(), "nobody": lonely}
    if os.environ.get("WHO"):  # e.g. WHO=admin,rep (as bench_search_cpu.py)
        who = {k: v for k, v in who.items() if k in os.environ["WHO"].split(",")}
    owned = Contact.objects.filter(owner=rep).count()
    print(f"# load {os.getloadavg()[0]:.1f}; rep {rep.username} owns {owned:,} contacts; "
          f"{Contact.all_objects.count():,} contacts")  # fmt: skip
    print("| row | wall p50 / p95 ms | SQL exec p95 ms | max buffers / call | max node rows |")
    print("|---|---|---|---|---|")
    kinds = os.environ.get("KINDS", "substring,two words,phone,prefix").split(",")
    for kind, queries in query_sets(random.Random(11)).items():
        if kind not in kinds:
            continue
        for name, user in who.items():
            wall = p50_p95(
                lambda q, u=user: search_typeahead(user=fresh(u), q=q, types=["contact"], limit=20),
                queries,
            )
            execs, buffers, rows = [], 0, 0
            for q in queries:
                with CaptureQueriesContext(connection) as ctx:
                    search_typeahead(user=fresh(user), q=q, types=["contact"], limit=20)
                total = 0.0
                call_buffers = 0
                for captured in ctx.captured_queries:
                    ms, b, r = explained(captured["sql"])
                    total += ms
                    call_buffers += b
                    rows = max(rows, r)
                execs.append(total)
                buffers = max(buffers, call_buffers)
            execs.sort()
            p95 = execs[min(len(execs) - 1, int(len(execs) * 0.95))]
            print(f"| {kind} {name} | {wall[0]:.1f} / {wall[1]:.1f} | {p95:.1f} | "
                  f"{buffers:,} | {rows:,} |", flush=True)  # fmt: skip
    print(f"# load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

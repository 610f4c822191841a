"""Per-query cost of one typeahead kind for one persona (issue 17): statements, shared buffers
and SQL time of every query of the set, worst first. Buffers are what a loaded machine does
not distort; the SQL time is EXPLAIN (ANALYZE, BUFFERS) of each statement the call ran,
summed per call, best of `BEST` calls. PostgreSQL only; read-only.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<copy> KIND="two words" WHO=rep N=40 \\
        .venv/bin/python bench/typeahead_explain.py

KIND: substring, two words, phone, prefix. WHO: admin or rep (bench_personas'
admin_and_top_rep). N: queries (bench_personas.query_sets, seed SEED, default 11: the same
set as bench_search_cpu.py and bench_personas.py). BEST: calls per query (default 3).
TOP: rows printed (default all). Prints a markdown table and the totals; JSON=<path> also
writes {query: [statements, buffers, ms, hits]}.
"""

import json
import os
import random
import sys

sys.path.insert(0, os.getcwd())

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.bench_personas import admin_and_top_rep, fresh, query_sets  # noqa: E402 - sets up Django
from rapport.search.selectors import search_typeahead  # noqa: E402


def _buffers(plan: dict) -> int:
    """Shared buffers hit + read of a plan node (its children's included)."""
    return plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)


def explain(sql: str) -> tuple[int, float]:
    """(buffers, ms) of one statement run by EXPLAIN (ANALYZE, BUFFERS)."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        found = cursor.fetchone()[0]
    top = (json.loads(found) if isinstance(found, str) else found)[0]
    return _buffers(top["Plan"]), top["Planning Time"] + top["Execution Time"]


def cost(user, q: str, best: int) -> tuple[int, int, float, int]:
    """(statements, buffers, ms, hits) of the cheapest of `best` calls of `q`."""
    runs = []
    for _ in range(best):
        with CaptureQueriesContext(connection) as ctx:
            groups = search_typeahead(user=fresh(user), q=q, types=["contact"], limit=20)
        sqls = [
            c["sql"]
            for c in ctx.captured_queries
            if c["sql"].lstrip().startswith(("SELECT", "WITH"))
        ]
        measured = [explain(s) for s in sqls]
        runs.append(
            (
                len(ctx.captured_queries),
                sum(b for b, _ in measured),
                sum(ms for _, ms in measured),
                len(groups[0]["items"]),
            )
        )
    return min(runs, key=lambda r: r[2])


def main() -> None:
    assert connection.vendor == "postgresql", "EXPLAIN (ANALYZE, BUFFERS) is PostgreSQL's"
    kind = os.environ.get("KIND", "two words")
    admin, rep = admin_and_top_rep()
    user = {"admin": admin, "rep": rep}[os.environ.get("WHO", "rep")]
    best = int(os.environ.get("BEST", "3"))
    queries = query_sets(random.Random(int(os.environ.get("SEED", "11"))))[kind]
    rows = {q: cost(user, q, best) for q in queries}
    order = sorted(rows.items(), key=lambda kv: -kv[1][2])
    print(f"# {kind}, {user.username}, {len(queries)} queries, best of {best}; "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| query | statements | buffers | SQL ms | hits |")
    print("|---|---|---|---|---|")
    for q, (n, buffers, ms, hits) in order[: int(os.environ.get("TOP", len(order)))]:
        print(f"| `{q}` | {n} | {buffers:,} | {ms:.1f} | {hits} |")
    ms = sorted(r[2] for r in rows.values())
    print(f"total buffers {sum(r[1] for r in rows.values()):,}; SQL ms sum {sum(ms):.0f}, "
          f"2nd worst {ms[-2]:.1f}, worst {ms[-1]:.1f}; statements max "
          f"{max(r[0] for r in rows.values())}")  # fmt: skip
    if os.environ.get("JSON"):
        with open(os.environ["JSON"], "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()

"""Phone fragments by their plans (issue 17, branch search17d): for the admin and the
typical rep (the active sales rep who owns the most contacts; REP=<id> to pick one), each
fragment given on the command line runs through `search_typeahead(types=["contact"],
limit=20)` twice; every statement of the second call is re-run under `EXPLAIN (ANALYZE,
BUFFERS)`. Prints hits, statements, the summed execution time (ms) and shared buffers.
PostgreSQL only; read-only.

    DATABASE_URL=postgres://…/rapport_bench_search .venv/bin/python bench/bench_phone_plans.py \\
        008-429 0008 000-81 009-3 200-0 00660 096-910
"""

import os
import sys

sys.path.insert(0, os.getcwd())

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.bench_personas import admin_and_top_rep, fresh  # noqa: E402 - sets up Django
from bench.bench_search_plans import explained  # noqa: E402
from rapport.search.selectors import search_typeahead  # noqa: E402


def main() -> None:
    admin, rep = admin_and_top_rep()
    print(f"# load {os.getloadavg()[0]:.1f}")
    print("| fragment | persona | hits | statements | SQL exec ms | buffers |")
    print("|---|---|---|---|---|---|")
    for q in sys.argv[1:]:
        for name, user in {"admin": admin, "rep": rep}.items():
            for _ in range(2):  # the second run is the one shown (warm)
                with CaptureQueriesContext(connection) as ctx:
                    groups = search_typeahead(user=fresh(user), q=q, types=["contact"], limit=20)
            total, buffers = 0.0, 0
            for captured in ctx.captured_queries:
                ms, b, _ = explained(captured["sql"])
                total += ms
                buffers += b
            print(f"| `{q}` | {name} | {len(groups[0]['items'])} | "
                  f"{len(ctx.captured_queries)} | {total:.1f} | {buffers:,} |", flush=True)  # fmt: skip
    print(f"# load after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

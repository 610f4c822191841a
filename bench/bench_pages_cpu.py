"""CPU per request of the agent workspace pages (issue 12; issue 17's "CPU per request"):
"my cases" (GET /cases/?view=mine) and the case page (GET /cases/<id>/), in this process.

Numbers that a loaded machine distorts less than wall time: the process CPU time per request
(`time.process_time`, p50 of each round of --samples requests) and the Python function calls
per request under cProfile (deterministic: the same code and data give the same count).
Reuses a database filled by `bench_cases.py --generate-only` (the bench agent's cases).

    .venv/bin/python bench/bench_pages_cpu.py --database-url postgres://…/rapport_cases1m
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        {
            "RAPPORT_DEV": "1",
            "TASK_BACKEND": "immediate",
            "DATABASE_URL": args.database_url,
            "DJANGO_SETTINGS_MODULE": "rapport.settings",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from rapport.cases.selectors import queue_ids_of
    from rapport.identity.models import User

    agent = User.objects.get(username="bench-agent")
    client = Client()
    client.force_login(agent)
    queues = ",".join(str(q) for q in queue_ids_of(agent))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM cases_case WHERE owner_id = %s OR queue_id IN ({queues})"
            " ORDER BY id LIMIT %s",
            [agent.pk, args.samples],
        )
        ids = [row[0] for row in cursor.fetchall()]
    pages = {
        "page: my cases": ["/cases/?view=mine"] * len(ids),
        "page: case": [f"/cases/{pk}/" for pk in ids],
    }

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| page | CPU / request, p50 per round | Python calls / request |")
    print("|---|---|---|")
    for label, urls in pages.items():
        get(urls[0])
        rounds = []
        for _ in range(args.rounds):
            times = []
            for url in urls:
                start = time.process_time()
                get(url)
                times.append((time.process_time() - start) * 1000)
            times.sort()
            rounds.append(times[len(times) // 2])
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for url in urls:
            get(url)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls / len(urls)
        cpu = " / ".join(f"{r:.1f}" for r in rounds)
        print(f"| {label} | {cpu} ms | {calls:,.0f} |")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

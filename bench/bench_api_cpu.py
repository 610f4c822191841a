"""Benchmark: CPU per request and statements per request of the API's hot endpoints, in
process (Django test client, a real API token), for the admin and a sales rep.

For each endpoint: N requests after 3 warm ones; the client's `process_time` per request
(the Python of the whole request: middleware, auth, the endpoint, serialisation — the test
client adds little) and the statements it ran (counted with `execute_wrapper`). CPU does
not depend on the machine's load the way wall time does; report `uptime` with it anyway.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        python bench/bench_api_cpu.py [--requests 30] [--profile "GET /api/contacts rep"]

`--profile ROW`: cProfile (process time) of that row's requests, top 35 by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.bench_throughput import personas  # noqa: E402 - the same two users
from rapport.accounts.models import Account, Contact  # noqa: E402
from rapport.identity.models import ApiToken  # noqa: E402
from rapport.identity.services import api_token_create  # noqa: E402
from rapport.sales.models import Opportunity  # noqa: E402


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def rows_for(user):
    def newest(model):
        # The user's own newest record (the admin owns none: the newest of all).
        mine = model.objects.filter(owner=user).order_by("-id").values_list("pk", flat=True)
        anyone = model.objects.order_by("-id").values_list("pk", flat=True)
        return (list(mine[:1]) or list(anyone[:1]) or [None])[0]

    contact, account, deal = newest(Contact), newest(Account), newest(Opportunity)
    rows = [
        ("GET /api/contacts", "/api/contacts?limit=25"),
        ("GET /api/contacts/{id}", f"/api/contacts/{contact}"),
        ("GET /api/accounts", "/api/accounts?limit=25"),
        ("GET /api/accounts/{id}", f"/api/accounts/{account}"),
        ("GET /api/opportunities", "/api/opportunities?limit=25"),
        ("GET /api/search?q=smi&types=contact", "/api/search?q=smi&types=contact&limit=10"),
    ]
    if deal is not None:
        rows.append(("GET /api/opportunities/{id}", f"/api/opportunities/{deal}"))
    return rows, contact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--profile", default=None, help='e.g. "GET /api/contacts rep"')
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the first warm requests (what `rapport serve` workers do)",
    )
    args = parser.parse_args()

    admin, rep = personas()
    import rapport

    print(f"code {Path(rapport.__file__).parents[1]}, database {connection.settings_dict['NAME']}")
    print(f"load {os.getloadavg()}")
    print("| endpoint (limit 25) | persona | statements | CPU ms p50 | CPU ms mean |")
    print("|---|---|---|---|---|")
    made = []
    try:
        for label, user in (("admin", admin), ("rep", rep)):
            token, secret = api_token_create(user=user, name="bench-api-cpu")
            made.append(token.pk)
            client = Client(headers={"Authorization": f"Bearer {secret}"})
            rows, contact = rows_for(user)
            version = Contact.objects.get(pk=contact).version
            for name, path in rows:
                for _ in range(3):
                    assert client.get(path).status_code == 200, (name, path)
                if args.gc_freeze:
                    gc.collect()
                    gc.freeze()
                counter = Counter()
                cpu = []
                profiler = cProfile.Profile(time.process_time) if args.profile else None
                profiling = profiler is not None and args.profile == f"{name} {label}"
                with connection.execute_wrapper(counter):
                    for _ in range(args.requests):
                        start = time.process_time()
                        if profiling:
                            profiler.enable()
                        response = client.get(path)
                        if profiling:
                            profiler.disable()
                        cpu.append((time.process_time() - start) * 1000)
                        assert response.status_code == 200
                statements = counter.n / args.requests
                print(
                    f"| {name} | {label} | {statements:g} | {statistics.median(cpu):.1f} "
                    f"| {statistics.fmean(cpu):.1f} |"
                )
                if profiling:
                    stats = pstats.Stats(profiler)
                    stats.sort_stats("cumulative").print_stats(60)
                    stats.sort_stats("tottime").print_stats(30)
            # The write of the mix: PATCH a contact with If-Match.
            counter, cpu = Counter(), []
            with connection.execute_wrapper(counter):
                for i in range(args.requests + 3):
                    start = time.process_time()
                    response = client.patch(
                        f"/api/contacts/{contact}",
                        {"title": f"Bench {i}"},
                        content_type="application/json",
                        headers={"If-Match": f'"{version}"'},
                    )
                    if i >= 3:
                        cpu.append((time.process_time() - start) * 1000)
                    assert response.status_code == 200, response.content
                    version = int(response.headers["ETag"].strip('W/"'))
            print(
                f"| PATCH /api/contacts/{{id}} | {label} | {counter.n / (args.requests + 3):g} "
                f"| {statistics.median(cpu):.1f} | {statistics.fmean(cpu):.1f} |"
            )
    finally:
        ApiToken.objects.filter(pk__in=made).delete()
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()

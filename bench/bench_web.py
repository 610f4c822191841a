"""Benchmark: list endpoints, record pages and the dashboard on the data already in the
database of DATABASE_URL (generated with `manage.py demo_data --contacts N ...`).

  - GET /api/accounts and /api/contacts with a real API token: the first page, a filtered
    page and a deep cursor page (90% down the list), against the bare SQL of the same
    request: the statements the request ran, captured and executed again on a raw cursor;
  - the account page and the pipeline board page through the test client, signed in;
  - the home dashboard's blocks (tasks, pipeline by stage, won by month, recent events)
    for an admin (everything) and a sales rep (their records), and the whole home page;
  - the process's peak RSS while serving the list requests (the web worker's memory).

Prints p50/p95 in milliseconds; `--json PATH` also writes them for bench/run.py.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench python bench/bench_web.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")

import django  # noqa: E402

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from rapport.accounts.models import Account, Contact  # noqa: E402
from rapport.activities.models import Activity  # noqa: E402
from rapport.api.pagination import _decode, _encode  # noqa: E402
from rapport.identity.models import Role, User  # noqa: E402
from rapport.identity.services import api_token_create  # noqa: E402
from rapport.web import dashboard  # noqa: E402


class RssSampler:
    """The process's largest resident set while a block runs (sampled every 20 ms)."""

    def __enter__(self):
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        page = resource.getpagesize()
        while not self._stop.is_set():
            with open("/proc/self/statm") as f:
                self.peak = max(self.peak, int(f.read().split()[1]) * page / 2**20)
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def timed(fn: Callable[[], object], n: int, warm: int = 3) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def timed_pair(a: Callable[[], object], b: Callable[[], object], n: int, warm: int = 3):
    """p50/p95 of `a` and of `b`, called alternately so that the load of a shared machine
    weighs on both alike."""
    for _ in range(warm):
        a(), b()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for fn, out in ((a, times[0]), (b, times[1])):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    result = []
    for t in times:
        t.sort()
        result.append((statistics.median(t), t[min(len(t) - 1, int(len(t) * 0.95))]))
    return result


def bare(statements: list[str]) -> Callable[[], None]:
    """The captured statements of a request, executed again on the raw DB-API cursor."""

    def run() -> None:
        with connection.cursor() as cursor:
            raw = cursor.cursor
            for sql in statements:
                raw.execute(sql)
                if raw.description is not None:
                    raw.fetchall()

    return run


def captured(client: Client, path: str, params: dict) -> list[str]:
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    # Only reads: the token's last-used stamp and session writes are not the list's query.
    return [
        q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]


def deep_cursor(model, api, path: str, fraction: float = 0.9) -> str:
    """The cursor of the page 90% down the list, as a client walking the list from its first
    page holds it: with the count that first page took (`_decode` gives it back)."""
    n = model.objects.count()
    row = (
        model.objects.order_by("-created_at", "-id").values_list("created_at", "id")[
            int(n * fraction)
        ]
        if n
        else None
    )
    if not row:
        return ""
    first = api.get(path, {"limit": 1}).json()["next_cursor"]
    carried = _decode(first, "-created_at")[2] if first else None
    return _encode(list(row), "-created_at", tuple(carried) if carried else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="timed requests per case")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    n = args.requests

    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    rep = (
        User.objects.filter(role=Role.SALES_REP, is_active=True, activities__isnull=False)
        .order_by("id")
        .first()
    )
    assert admin and rep, "no demo users: run manage.py demo_data --contacts N first"
    _, secret = api_token_create(user=admin, name="bench-web")
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    web = Client()
    web.force_login(admin)

    results: dict[str, dict] = {}
    print(
        f"# web benchmark on {connection.vendor}: {Account.objects.count():,} accounts, "
        f"{Contact.objects.count():,} contacts, {Activity.objects.count():,} activities"
    )

    account = Account.objects.filter(activities__isnull=False).order_by("-id").first()
    contact = Contact.objects.order_by("-id").first()
    cases = {
        "accounts, first page": ("/api/accounts", {}),
        "accounts, filtered page (industry)": ("/api/accounts", {"industry": account.industry}),
        "accounts, deep cursor page (90%)": (
            "/api/accounts",
            {"cursor": deep_cursor(Account, api, "/api/accounts")},
        ),
        "contacts, first page": ("/api/contacts", {}),
        "contacts, filtered page (owner)": ("/api/contacts", {"owner_id": rep.pk}),
        "contacts, filtered page (q)": ("/api/contacts", {"q": contact.last_name}),
        "contacts, deep cursor page (90%)": (
            "/api/contacts",
            {"cursor": deep_cursor(Contact, api, "/api/contacts")},
        ),
    }
    with RssSampler() as rss:
        for label, (path, params) in cases.items():
            statements = captured(api, path, params)
            api_p, sql_p = timed_pair(lambda p=path, q=params: api.get(p, q), bare(statements), n)
            results[f"list API: {label}"] = {
                "p50": api_p[0],
                "p95": api_p[1],
                "base_p50": sql_p[0],
                "base_p95": sql_p[1],
                "queries": len(statements),
            }
    results["web worker peak RSS while serving the lists (MiB)"] = {"value": rss.peak}

    def page(path: str) -> Callable[[], None]:
        def get() -> None:
            response = web.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return get

    results["account page render"] = dict(
        zip(("p50", "p95"), timed(page(f"/accounts/{account.pk}/"), n), strict=True)
    )
    results["pipeline board page render"] = dict(
        zip(("p50", "p95"), timed(page(reverse("sales:opportunity_board")), n), strict=True)
    )
    results["home dashboard page render (admin)"] = dict(
        zip(("p50", "p95"), timed(page("/"), n), strict=True)
    )
    blocks = {
        "tasks": lambda u: dashboard.dashboard_tasks(user=u),
        "pipeline by stage": lambda u: dashboard.pipeline_by_stage(user=u),
        "won by month": lambda u: dashboard.won_by_month(user=u),
        "recent events": lambda u: dashboard.recent_events(user=u),
    }
    for who, user in (("admin", admin), ("rep", rep)):
        for block, fn in blocks.items():
            results[f"dashboard KPI: {block} ({who})"] = dict(
                zip(("p50", "p95"), timed(lambda f=fn, u=user: f(u), n), strict=True)
            )
    reset_queries()

    for label, r in results.items():
        if "value" in r:
            print(f"{label:<58} {r['value']:10.0f}")
        elif "base_p95" in r:
            print(
                f"{label:<58} p50 {r['p50']:7.2f}  p95 {r['p95']:7.2f}  bare SQL p50 "
                f"{r['base_p50']:7.2f}  p95 {r['base_p95']:7.2f}  ({r['queries']} queries)"
            )
        else:
            print(f"{label:<58} p50 {r['p50']:7.2f}  p95 {r['p95']:7.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

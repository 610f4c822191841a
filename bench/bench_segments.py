"""Benchmark: counting a three-condition segment and refreshing its membership.

Builds a database (a temporary SQLite file, or the PostgreSQL database given with
--database-url, whose tables are emptied first) with N contacts over N/10 accounts, one paid
order per two contacts (one in ten on the account without a contact), one activity per
three contacts. Then:

  1. the count of "city is Paris AND total spend >= 100 AND a call in the last 90 days"
     through the segment compiler (`Contact.objects.filter(compile_filter(...)).count()`),
     repeated, p50/p95 — against the bare hand-written SQL of the same filter in the same
     run (ratio = compiler p95 / bare p95);
  2. a full membership refresh of that segment from empty, and a second one with no drift.

    python bench/bench_segments.py                     # 100k contacts on SQLite
    python bench/bench_segments.py --scale 1m
    python bench/bench_segments.py --database-url postgres://postgres@127.0.0.1:5432/rapport_segments_bench
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)
CITIES = [
    "Paris",
    "Lyon",
    "Berlin",
    "Madrid",
    "Rome",
    "Oslo",
    "Lisbon",
    "Vienna",
    "Prague",
    "Dublin",
]
KINDS = ["call", "meeting", "email", "note", "task"]

TREE = {
    "op": "and",
    "items": [
        {"field": "city", "operator": "equals", "value": "Paris"},
        {"field": "orders.total_spend", "operator": "gte", "value": "100"},
        {"field": "activity.call", "operator": "within_days", "value": "90"},
    ],
}


def _setup(database_url: str) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def generate(n: int, seed: int) -> float:
    from django.core.management import call_command
    from django.db import connection, transaction

    from rapport.accounts.models import Account, Contact
    from rapport.activities.models import Activity
    from rapport.identity.models import User
    from rapport.orders.models import Order
    from rapport.segments.models import ContactLifecycle, Segment, SegmentMember

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":  # a reused database: start empty
        tables = [
            m._meta.db_table
            for m in (SegmentMember, Segment, ContactLifecycle, Activity, Order, Contact, Account)
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    user = User.objects.filter(username="bench").first() or User.objects.create(
        username="bench", is_superuser=True
    )
    rng = random.Random(seed)
    accounts = [
        Account(name=f"Account {i}", owner=user, industry=rng.choice(["Retail", "Energy"]))
        for i in range(max(1, n // 10))
    ]
    Account.objects.bulk_create(accounts, batch_size=5000)
    account_ids = list(Account.objects.values_list("pk", flat=True))
    batch: list = []
    for i in range(n):
        batch.append(
            Contact(
                last_name=f"Person {i}",
                first_name="Bench",
                city=rng.choice(CITIES),
                owner=user,
                account_id=rng.choice(account_ids),
            )
        )
        if len(batch) == 10_000:
            Contact.objects.bulk_create(batch)
            batch = []
    Contact.objects.bulk_create(batch)
    contacts = list(Contact.objects.values_list("pk", "account_id"))
    orders, activities = [], []
    for i, (pk, account_id) in enumerate(contacts):
        if i % 2 == 0:
            own = i % 20 != 0
            orders.append(
                Order(
                    contact_id=pk if own else None,
                    account_id=account_id,
                    ordered_at=NOW - datetime.timedelta(days=rng.randint(0, 700)),
                    status="paid",
                    total=rng.choice([20, 60, 120, 300, 900]),
                )
            )
        if i % 3 == 0:
            activities.append(
                Activity(
                    kind=rng.choice(KINDS),
                    contact_id=pk,
                    account_id=account_id,
                    owner=user,
                    created_by=user,
                    occurred_at=NOW - datetime.timedelta(days=rng.randint(0, 365)),
                )
            )
        if len(orders) >= 10_000:
            Order.objects.bulk_create(orders)
            orders = []
        if len(activities) >= 10_000:
            Activity.objects.bulk_create(activities)
            activities = []
    Order.objects.bulk_create(orders)
    Activity.objects.bulk_create(activities)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def bare_sql(vendor: str) -> str:
    """The same filter written by hand (no ORM), for the baseline."""
    upper = "UPPER"
    return f"""
    SELECT COUNT(*) FROM accounts_contact c
    WHERE c.deleted_at IS NULL
      AND {upper}(c.city) = {upper}(%s)
      AND COALESCE((SELECT SUM(o.total) FROM orders_order o
                    WHERE o.contact_id = c.id AND o.status IN ('placed','paid','shipped')), 0)
        + COALESCE((SELECT SUM(o.total) FROM orders_order o
                    WHERE o.contact_id IS NULL AND o.account_id = c.account_id
                      AND o.status IN ('placed','paid','shipped')), 0) >= 100
      AND EXISTS (SELECT 1 FROM activities_activity a
                  WHERE a.contact_id = c.id AND a.kind = 'call' AND a.occurred_at >= %s)
    """


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - started)
    return out, result


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="100k", help="100k, 1m or a number of contacts")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    n = {"100k": 100_000, "1m": 1_000_000}.get(args.scale.lower()) or int(args.scale)
    tmp = None
    url = args.database_url
    if not url:
        tmp = tempfile.mkdtemp(prefix="bench-segments-")
        url = f"sqlite:///{tmp}/bench.sqlite3"
    _setup(url)
    from django.db import connection

    from rapport.accounts.models import Contact
    from rapport.identity.models import User
    from rapport.segments.filters import compile_filter, validate
    from rapport.segments.membership import segment_refresh
    from rapport.segments.models import Segment, SegmentMember

    print(f"database: {connection.vendor}, contacts: {n:,}")
    print(f"generate: {generate(n, args.seed):.1f} s")
    tree = validate(TREE)

    def orm_count():
        return Contact.objects.filter(compile_filter(tree, now=NOW)).count()

    def raw_count():
        with connection.cursor() as cursor:
            cursor.execute(
                bare_sql(connection.vendor), ["Paris", NOW - datetime.timedelta(days=90)]
            )
            return cursor.fetchone()[0]

    orm_count(), raw_count()  # warm caches
    orm_t, orm_n = timed(orm_count, args.runs)
    raw_t, raw_n = timed(raw_count, args.runs)
    assert orm_n == raw_n, (orm_n, raw_n)
    print(f"matching contacts: {orm_n:,}")
    print(
        f"segment count  p50 {statistics.median(orm_t) * 1000:8.1f} ms  p95 {p95(orm_t) * 1000:8.1f} ms"
    )
    print(
        f"bare SQL count p50 {statistics.median(raw_t) * 1000:8.1f} ms  p95 {p95(raw_t) * 1000:8.1f} ms"
    )
    print(f"ratio (segment p95 / bare p95): {p95(orm_t) / p95(raw_t):.2f}")

    user = User.objects.get(username="bench")
    segment = Segment.objects.create(
        name="bench", filter=tree, depends_on=",contact,", created_by=user
    )
    import time_machine

    with time_machine.travel(NOW, tick=False):
        started = time.perf_counter()
        added, removed = segment_refresh(segment)
        full = time.perf_counter() - started
        started = time.perf_counter()
        again = segment_refresh(segment)
        idle = time.perf_counter() - started
    assert SegmentMember.objects.filter(segment=segment).count() == orm_n
    print(f"membership refresh from empty: {full:.2f} s (+{added:,} -{removed:,})")
    print(f"membership refresh, no drift:  {idle:.2f} s ({again})")
    segment.delete()


if __name__ == "__main__":
    main()

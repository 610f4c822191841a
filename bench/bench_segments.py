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


def _h(expr: str, k: int, seed: int) -> str:
    """SQL: a deterministic pseudo-random non-negative integer from the row number `expr`
    (a multiplicative hash modulo a prime; the same on both backends, so both databases
    hold the same rows and the same counts). `k` picks an independent stream per column."""
    mult = (2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263, 374_761_393)[k % 5]
    return f"((({expr}) * {mult} + {seed * 7919 + k * 104_729}) % 2147483647)"


def _pick_sql(values: list, expr: str) -> str:
    """SQL: one of the literal values (our own constants) chosen by `expr`."""
    whens = " ".join(
        f"WHEN {i} THEN {v!r}" if isinstance(v, str) else f"WHEN {i} THEN {v}"
        for i, v in enumerate(values)
    )
    return f"(CASE ({expr}) % {len(values)} {whens} END)"


def _days_before(vendor: str, days: str) -> str:
    """SQL: NOW minus `days` whole days, as the backend stores a datetime."""
    if vendor == "postgresql":
        return f"(TIMESTAMPTZ '{NOW.isoformat()}' - ({days}) * INTERVAL '1 day')"
    return f"strftime('%Y-%m-%d %H:%M:%S', '{NOW:%Y-%m-%d %H:%M:%S}', '-' || ({days}) || ' days')"


def _insert_select(model, source: str, exprs: dict[str, str]) -> int:
    """INSERT … SELECT {exprs} {source}: SQL per column from `exprs`, every other column
    its field default (as the import's BulkInsert converts it). Returns the row count."""
    from django.db import connection

    from rapport.imports.services.bulk_sql import _MISSING, BulkInsert

    columns, values, params = [], [], []
    for attname, _convert, default in BulkInsert(model)._converters():
        columns.append(f'"{model._meta.get_field(attname).column}"')
        if attname in exprs:
            values.append(exprs[attname].replace("%", "%%"))  # the driver's placeholders
        else:
            assert default is not _MISSING, attname
            values.append("%s")
            params.append(default)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '  # noqa: S608
            f"SELECT {', '.join(values)} {source.replace('%', '%%')}",
            params,
        )
        return cursor.rowcount


def _series(vendor: str, n: int) -> str:
    """SQL: FROM a series of row numbers i = 0 … n - 1 (bigint)."""
    if vendor == "postgresql":
        return f"FROM generate_series(0::bigint, {int(n) - 1}) AS s(i)"
    # SQLite: a recursive CTE can't precede INSERT's SELECT list here, so a subquery.
    return (
        f"FROM (WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "
        f"WHERE i < {int(n) - 1}) SELECT i FROM s) AS s"
    )


def _id_range(model) -> tuple[int, int]:
    from django.db.models import Count, Max, Min

    got = model.objects.aggregate(lo=Min("pk"), hi=Max("pk"), n=Count("pk"))
    assert got["hi"] - got["lo"] + 1 == got["n"], f"{model.__name__} ids are not contiguous"
    return got["lo"], got["n"]


def existing(n: int) -> bool:
    """The database already holds this bench's rows for n contacts (then it is reused)."""
    from rapport.accounts.models import Contact
    from rapport.identity.models import User

    return (
        User.objects.filter(username="bench").exists()
        and Contact.objects.filter(first_name="Bench").count() == n
        and Contact.objects.count() == n
    )


def generate(n: int, seed: int) -> float:
    """Fill the database set-based: one `INSERT … SELECT` per table over a series
    (PostgreSQL `generate_series`, SQLite a recursive CTE), columns from a seeded hash of
    the row number. On PostgreSQL the tables' GIN/GiST (search) indexes are dropped for the
    load and rebuilt once after it."""
    from django.db import connection, transaction

    from rapport.accounts.models import Account, Contact
    from rapport.activities.models import Activity
    from rapport.identity.models import User
    from rapport.orders.models import Order
    from rapport.segments.models import ContactLifecycle, Segment, SegmentMember

    started = time.perf_counter()
    vendor = connection.vendor
    tables = [
        m._meta.db_table
        for m in (SegmentMember, Segment, ContactLifecycle, Activity, Order, Contact, Account)
    ]
    with transaction.atomic(), connection.cursor() as cursor:  # a reused database: start empty
        if vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f'DELETE FROM "{table}"')  # noqa: S608
    user = User.objects.filter(username="bench").first() or User.objects.create(
        username="bench", is_superuser=True
    )
    indexes = []
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "JOIN pg_class c ON c.oid = indexrelid JOIN pg_am am ON am.oid = c.relam "
                "WHERE indrelid = ANY(%s::regclass[]) AND am.amname IN ('gin', 'gist')",
                [["accounts_account", "accounts_contact", "orders_order", "activities_activity"]],
            )
            indexes = cursor.fetchall()
    n_accounts = max(1, n // 10)
    owner = str(int(user.pk))
    with transaction.atomic():
        with connection.cursor() as cursor:
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
        _insert_select(
            Account,
            _series(vendor, n_accounts),
            {
                "owner_id": owner,
                "name": "'Account ' || i",
                "industry": _pick_sql(["Retail", "Energy"], _h("i", 0, seed)),
            },
        )
        account_lo, _ = _id_range(Account)
        _insert_select(
            Contact,
            _series(vendor, n),
            {
                "owner_id": owner,
                "last_name": "'Person ' || i",
                "first_name": "'Bench'",
                "city": _pick_sql(CITIES, _h("i", 1, seed)),
                "account_id": f"{account_lo} + {_h('i', 2, seed)} % {n_accounts}",
            },
        )
        contact_lo, _ = _id_range(Contact)
        i = f"(c.id - {contact_lo})"
        # One paid order per two contacts; one in ten of those on the account only.
        _insert_select(
            Order,
            f"FROM accounts_contact c WHERE {i} % 2 = 0",
            {
                "contact_id": f"CASE WHEN {i} % 20 = 0 THEN NULL ELSE c.id END",
                "account_id": "c.account_id",
                "ordered_at": _days_before(vendor, f"{_h(i, 3, seed)} % 701"),
                "status": "'paid'",
                "total": _pick_sql([20, 60, 120, 300, 900], _h(i, 4, seed)),
            },
        )
        # One activity per three contacts, any kind, in the last year.
        _insert_select(
            Activity,
            f"FROM accounts_contact c WHERE {i} % 3 = 0",
            {
                "kind": _pick_sql(KINDS, _h(i, 0, seed + 1)),
                "contact_id": "c.id",
                "account_id": "c.account_id",
                "owner_id": owner,
                "created_by_id": owner,
                "occurred_at": _days_before(vendor, f"{_h(i, 1, seed + 1)} % 366"),
            },
        )
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
        if indexes:
            print(f"  search indexes rebuilt in {time.perf_counter() - t0:.1f} s", flush=True)
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


def _server_cpu() -> float:
    from timing import server_cpu

    return server_cpu()


class Clock:
    """Wall, client CPU and server (PostgreSQL backend) CPU seconds of a block. On SQLite
    the database works inside this process: its CPU is the client column."""

    def __enter__(self):
        self.t, self.c, self.s = time.perf_counter(), time.process_time(), _server_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        self.cpu = time.process_time() - self.c
        self.server = _server_cpu() - self.s

    def __str__(self):
        return (
            f"{self.wall:.2f} s wall, {self.cpu:.2f} s client CPU, {self.server:.2f} s server CPU"
        )


def timed(fn, runs: int) -> tuple[list[float], list[float], object]:
    """Wall seconds and CPU seconds (client + server) of each run, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        with Clock() as clock:
            result = fn()
        walls.append(clock.wall)
        cpus.append(clock.cpu + clock.server)
    return walls, cpus, result


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def explain(sql: str, params) -> str:
    """PostgreSQL: EXPLAIN (ANALYZE, BUFFERS) execution time and the top node's buffers."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else plan
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return (
        f"EXPLAIN: execution {plan['Execution Time']:.1f} ms, planning "
        f"{plan['Planning Time']:.1f} ms, {buffers:,} shared buffers, top node {top['Node Type']}"
    )


def _ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples) * 1000:8.1f} ms  p95 {p95(samples) * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="100k", help="100k, 1m or a number of contacts")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--generate-only", action="store_true", help="fill and stop")
    parser.add_argument("--regenerate", action="store_true", help="rebuild even if present")
    args = parser.parse_args()
    n = {"100k": 100_000, "1m": 1_000_000}.get(args.scale.lower()) or int(args.scale)
    tmp = None
    url = args.database_url
    if not url:
        tmp = tempfile.mkdtemp(prefix="bench-segments-")
        url = f"sqlite:///{tmp}/bench.sqlite3"
    _setup(url)
    from django.core.management import call_command
    from django.db import connection

    from rapport.accounts.models import Contact
    from rapport.identity.models import User
    from rapport.segments import filters
    from rapport.segments.filters import compile_filter, validate
    from rapport.segments.membership import depends_on_text, reevaluate, segment_refresh
    from rapport.segments.models import Segment, SegmentMember

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}, contacts: {n:,}", flush=True)
    if existing(n) and not args.regenerate:
        print(f"generate: reused ({n:,} bench contacts were there)", flush=True)
    else:
        print(f"generate: {generate(n, args.seed):.1f} s", flush=True)
    if args.generate_only:
        return
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
    orm_t, orm_cpu, orm_n = timed(orm_count, args.runs)
    raw_t, raw_cpu, raw_n = timed(raw_count, args.runs)
    assert orm_n == raw_n, (orm_n, raw_n)
    print(f"matching contacts: {orm_n:,}")
    print(f"segment count   wall {_ms(orm_t)}   CPU {_ms(orm_cpu)}   (target p95 <= 1 s)")
    print(f"bare SQL count  wall {_ms(raw_t)}   CPU {_ms(raw_cpu)}")
    print(f"ratio (segment p95 / bare p95): wall {p95(orm_t) / p95(raw_t):.2f}")
    sql, params = (
        Contact.objects.filter(compile_filter(tree, now=NOW)).values("pk").query.sql_with_params()
    )
    if connection.vendor == "postgresql":
        print("segment count " + explain(f"SELECT COUNT(*) FROM ({sql}) q", params))

    user = User.objects.get(username="bench")
    Segment.objects.filter(name="bench").delete()
    segment = Segment.objects.create(
        name="bench",
        filter=tree,
        depends_on=depends_on_text(filters.topics(tree)),
        created_by=user,
    )
    import time_machine

    with time_machine.travel(NOW, tick=False):
        with Clock() as full:
            added, removed = segment_refresh(segment)
        with Clock() as idle:
            again = segment_refresh(segment)
        assert SegmentMember.objects.filter(segment=segment).count() == orm_n
        # Drift as the nightly pass finds it: a tenth of the members gone, 100 wrong ones in.
        members = list(
            SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)
        )
        gone = members[:: max(1, len(members) // max(1, len(members) // 10))][: len(members) // 10]
        SegmentMember.objects.filter(segment=segment, contact_id__in=gone).delete()
        wrong = list(
            Contact.objects.exclude(pk__in=members)
            .order_by("pk")
            .values_list("pk", flat=True)[:100]
        )
        SegmentMember.objects.bulk_create(
            SegmentMember(segment=segment, contact_id=pk, added_at=NOW) for pk in wrong
        )
        Segment.objects.filter(pk=segment.pk).update(
            member_count=SegmentMember.objects.filter(segment=segment).count()
        )
        with Clock() as drift:
            fixed = segment_refresh(segment)
        assert SegmentMember.objects.filter(segment=segment).count() == orm_n
        # One write's re-evaluation (what the timeline hook does for a contact whose
        # activities changed), for 50 contacts one at a time.
        step = max(1, n // 50)
        sample = list(Contact.objects.order_by("pk").values_list("pk", flat=True)[::step][:50])
        inc_t, inc_cpu, _ = [], [], None
        for pk in sample:
            with Clock() as one:
                reevaluate({filters.ACTIVITIES: {pk}}, now=NOW)
            inc_t.append(one.wall)
            inc_cpu.append(one.cpu + one.server)
    print(f"membership refresh from empty: {full} (+{added:,} -{removed:,})")
    print(f"membership refresh, no drift:  {idle} ({again})")
    print(f"nightly repair of drift:       {drift} (+{fixed[0]:,} -{fixed[1]:,})")
    print(
        f"incremental re-evaluation of one written contact: wall {_ms(inc_t)}  CPU {_ms(inc_cpu)}"
    )
    segment.delete()


if __name__ == "__main__":
    main()

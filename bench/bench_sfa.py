"""Benchmark: lead scoring and territory realignment at scale (issue 15, branch sfa).

Builds (PostgreSQL given with --database-url, whose tables are emptied first, or a temporary
SQLite file) N leads and N accounts with countries, industries, revenue and sources, 600
closed leads with a planted pattern, 6 territories with rules. Then:

  1. scoring: trains the lead model, then `score_leads()` over every open lead (read, web
     visits, features, calibrated prediction, reasons, rule points, upsert of LeadScore) —
     rows/s, against the same run's bare baseline: read the same columns and upsert a
     constant score row for each (the I/O a scorer cannot avoid);
  2. realignment: every account placed from nothing, then the rules change so that about
     half of them move, and `realignment_run` places them all again (5,000 per transaction,
     a `territory_changed` event per move) — seconds, against a bare baseline: read the
     placement columns and rewrite every membership with one UPDATE per territory.

    python bench/bench_sfa.py --scale 200k --database-url postgres://postgres@127.0.0.1:5432/rapport_sfa
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

SCALES = {"tiny": 5_000, "small": 50_000, "200k": 200_000, "1m": 1_000_000}
COUNTRIES = ["DE", "AT", "CH", "FR", "ES", "IT", "GB", "US", "CA", "BR", "JP", "AU"]
INDUSTRIES = ["Software", "Retail", "Manufacturing", "Finance", "Media"]
SOURCES = ["web", "referral", "event", "partner", "advertising"]


def _setup(database_url: str) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _server_cpu() -> float:
    from timing import server_cpu

    return server_cpu()


class Clock:
    """Wall, client CPU and server (backend) CPU seconds of a block."""

    def __enter__(self):
        self.t, self.c, self.s = time.perf_counter(), time.process_time(), _server_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        self.cpu = time.process_time() - self.c
        self.server = _server_cpu() - self.s

    def __str__(self):
        return (
            f"{self.wall:.1f} s wall, {self.cpu:.1f} s client CPU, {self.server:.1f} s server CPU"
        )


def _pick(values: list[str]) -> str:
    """SQL: a random element of the literal list (our own constants)."""
    items = ", ".join(f"'{v}'" for v in values)
    return f"(ARRAY[{items}])[1 + floor(random() * {len(values)})::int]"


def _insert_select(model, n: int, exprs: dict[str, str]) -> None:
    """INSERT … SELECT over generate_series(0, n - 1) AS i: `exprs` gives SQL per column,
    every other column its field default (converted as BulkInsert converts it)."""
    from django.db import connection

    from rapport.imports.services.bulk_sql import BulkInsert

    columns, values, params = [], [], []
    for attname, _convert, default in BulkInsert(model)._converters():
        column = model._meta.get_field(attname).column
        columns.append(f'"{column}"')
        if attname in exprs:
            values.append(exprs[attname])
        else:
            values.append("%s")
            params.append(default)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '  # noqa: S608
            f"SELECT {', '.join(values)} FROM generate_series(0, {int(n) - 1}) AS i",
            params,
        )


def _generate_pg(n: int, seed: int, user) -> None:
    """Server-side generation (generate_series, seeded random()). The search GIN indexes of
    the two tables are dropped for the load and rebuilt once after it (a GIN insert per row
    is most of a 1M load on this machine; realignment and scoring read neither)."""
    from django.db import connection, transaction

    from rapport.accounts.models import Account
    from rapport.leads.models import Lead

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "JOIN pg_class c ON c.oid = indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE indrelid IN ('leads_lead'::regclass, 'accounts_account'::regclass) "
            "AND am.amname IN ('gin', 'gist')"
        )
        indexes = cursor.fetchall()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        _insert_select(
            Lead,
            n,
            {
                "owner_id": str(int(user.pk)),
                "last_name": "'Lead ' || i",
                "company": "'Co ' || i",
                "source": _pick(SOURCES),
                "industry": _pick(INDUSTRIES),
                "country": _pick(COUNTRIES),
                "title": _pick(["", "CTO"]),
                "status": "'new'",
            },
        )
        _insert_select(
            Account,
            n,
            {
                "owner_id": str(int(user.pk)),
                "name": "'Account ' || i",
                "country": _pick(COUNTRIES),
                "industry": _pick(INDUSTRIES),
                "postal_code": "(10000 + floor(random() * 90000))::int::text",
                "annual_revenue": "(1 + floor(random() * 500)) * 100000",
            },
        )
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)
    print(
        f"  search indexes rebuilt after the load in {time.perf_counter() - t0:.1f} s", flush=True
    )


def _generate_rows(n: int, rng, user) -> None:
    from django.db import transaction

    from rapport.accounts.models import Account
    from rapport.imports.services.bulk_sql import BulkInsert
    from rapport.leads.models import Lead

    leads, accounts = BulkInsert(Lead), BulkInsert(Account)
    for start in range(0, n, 50_000):
        with transaction.atomic():
            leads.insert(
                [
                    {
                        "owner_id": user.pk,
                        "last_name": f"Lead {i}",
                        "company": f"Co {i}",
                        "source": rng.choice(SOURCES),
                        "industry": rng.choice(INDUSTRIES),
                        "country": rng.choice(COUNTRIES),
                        "title": rng.choice(["", "CTO"]),
                        "status": "new",
                    }
                    for i in range(start, min(n, start + 50_000))
                ]
            )
            accounts.insert(
                [
                    {
                        "owner_id": user.pk,
                        "name": f"Account {i}",
                        "country": rng.choice(COUNTRIES),
                        "industry": rng.choice(INDUSTRIES),
                        "postal_code": f"{rng.randint(10000, 99999)}",
                        "annual_revenue": rng.randint(1, 500) * 100_000,
                    }
                    for i in range(start, min(n, start + 50_000))
                ]
            )


def generate(n: int, seed: int) -> tuple[float, object]:
    from django.core.management import call_command
    from django.db import connection, transaction

    from rapport.accounts.models import Account
    from rapport.activities.models import Activity
    from rapport.identity.models import User
    from rapport.leads.models import Lead
    from rapport.scoring.models import LeadScore, ScoreModel
    from rapport.territories.models import Territory, TerritoryMembership, TerritoryRule
    from rapport.timeline.models import TimelineEvent

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    tables = [
        m._meta.db_table
        for m in (
            LeadScore,
            ScoreModel,
            TerritoryMembership,
            TerritoryRule,
            Territory,
            TimelineEvent,
            Activity,
            Lead,
            Account,
        )
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own names
    user = User.objects.filter(username="bench").first() or User.objects.create(
        username="bench", is_superuser=True
    )
    rng = random.Random(seed)
    if connection.vendor == "postgresql":
        _generate_pg(n, seed, user)
    else:
        _generate_rows(n, rng, user)
    # History to learn from: 600 closed leads, engaged ones and referrals convert more.
    closed, webs = [], []
    for i in range(600):
        source = rng.choice(SOURCES)
        web = rng.randint(0, 6)
        p = 1 / (1 + 2.718 ** -(-1.5 + 0.5 * web + (0.8 if source == "referral" else 0)))
        won = rng.random() < p
        webs.append(web)
        closed.append(
            Lead(
                owner=user,
                last_name=f"Closed {i}",
                source=source,
                industry=rng.choice(INDUSTRIES),
                country=rng.choice(COUNTRIES),
                status="converted" if won else "disqualified",
                disqualified_reason="" if won else "x",
            )
        )
    Lead.objects.bulk_create(closed)
    ids = (
        Lead.objects.filter(last_name__startswith="Closed ")
        .order_by("id")
        .values_list("id", flat=True)
    )
    from django.utils import timezone

    now = timezone.now()
    Activity.objects.bulk_create(
        [
            Activity(
                kind="interaction",
                channel="web",
                owner=user,
                lead_id=pk,
                occurred_at=now - datetime.timedelta(days=1),
            )
            for pk, web in zip(ids, webs, strict=True)
            for _ in range(web)
        ]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started, user


def territories(admin) -> None:
    from rapport.territories import services
    from rapport.territories.models import Territory

    Territory.objects.all().delete()
    specs = [
        ("DACH", [{"field": "country", "values": ["DE", "AT", "CH"]}]),
        ("Western Europe", [{"field": "country", "values": ["FR", "ES", "IT", "GB"]}]),
        (
            "Big Americas",
            [
                {"field": "country", "values": ["US", "CA", "BR"]},
                {"field": "annual_revenue", "low": "20000000"},
            ],
        ),
        ("Americas", [{"field": "country", "values": ["US", "CA", "BR"]}]),
        ("APAC", [{"field": "country", "values": ["JP", "AU"]}]),
        ("Postcodes 1-4", [{"field": "postal_code", "low": "10000", "high": "49999"}]),
    ]
    for priority, (name, rules) in enumerate(specs):
        t = services.territory_save(actor=admin, fields={"name": name, "priority": priority})
        services.territory_set_rules(actor=admin, territory=t, rules=rules)


def bench_scoring(admin, limit: int | None = None) -> dict:
    """Scoring of every open lead (or the first `limit`), in slices of 50,000 ids through
    `score_leads(ids)` with a progress line per slice (rows/s and CPU so far), against the
    bare read + constant upsert of the same rows."""
    from django.db import connection

    from rapport.leads.models import Lead
    from rapport.scoring import services
    from rapport.scoring.models import LeadScore

    model = services.train_leads(actor=admin)
    assert model.usable, model.message
    ids = list(Lead.objects.filter(status="new").order_by("id").values_list("id", flat=True))
    ids = ids[:limit] if limit else ids
    n = len(ids)
    # Baseline: read the scorer's columns and upsert a constant score per row.
    LeadScore.objects.all().delete()
    with Clock() as bare:
        for start in range(0, len(ids), services.BATCH):
            chunk = ids[start : start + services.BATCH]
            rows = list(Lead.objects.filter(pk__in=chunk).values(*services.LEAD_FIELDS))
            LeadScore.objects.bulk_create(
                [
                    LeadScore(
                        lead_id=r["id"],
                        score=0,
                        rule_score=0,
                        source="rule",
                        reasons=[],
                        scored_at=model.trained_at,
                    )
                    for r in rows
                ],
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["lead"],
                update_fields=["rule_score", "learned", "score", "source", "reasons", "scored_at"],
            )
    print(f"  scoring bare baseline, {n:,} rows: {bare}", flush=True)
    LeadScore.objects.all().delete()
    scored = 0
    with Clock() as full:
        for start in range(0, n, 50_000):
            scored += services.score_leads(ids=ids[start : start + 50_000])
            wall = time.perf_counter() - full.t
            print(
                f"  scored {scored:,}: {scored / wall:,.0f} rows/s, "
                f"{time.process_time() - full.c:.1f} s client CPU, "
                f"{_server_cpu() - full.s:.1f} s server CPU, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    assert scored == n
    return {
        "rows": n,
        "full": full,
        "bare": bare,
        "rows_per_s": n / full.wall,
        "bare_rows_per_s": n / bare.wall,
        "ratio": full.wall / bare.wall,
        "auc": model.metrics["model"]["auc"],
        "baseline_auc": model.metrics["baseline"]["auc"],
        "vendor": connection.vendor,
    }


def _initial_sql():
    """Setup without events: every record's membership in one INSERT … SELECT per type."""
    from types import SimpleNamespace

    from django.db import connection, transaction

    from rapport.territories import placement, placement_sql
    from rapport.territories.models import TerritoryMembership

    placer = placement.Placer()
    scanned = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for object_type in placement.PLACED_TYPES:
            table = placement.model_of(object_type)._meta.db_table
            case, params = placement_sql.territory_case(object_type, placer)
            cursor.execute(
                f"INSERT INTO {TerritoryMembership._meta.db_table} "  # noqa: S608
                "(object_type, object_id, territory_id, placed_at) "
                f"SELECT %s, id, t, now() FROM (SELECT r.id, {case} AS t FROM {table} r "
                "WHERE r.deleted_at IS NULL) p WHERE t IS NOT NULL",
                [object_type, *params],
            )
            cursor.execute(f"SELECT count(*) FROM {table} WHERE deleted_at IS NULL")  # noqa: S608
            scanned += cursor.fetchone()[0]
        cursor.execute(f"ANALYZE {TerritoryMembership._meta.db_table}")
    return SimpleNamespace(scanned=scanned)


def bench_realignment(admin, initial_sql: bool = False) -> dict:
    from django.db import transaction

    from rapport.accounts.models import Account
    from rapport.territories import placement, services
    from rapport.territories.models import Realignment, Territory, TerritoryMembership

    TerritoryMembership.objects.all().delete()
    territories(admin)
    with Clock() as initial:
        if initial_sql:
            first = _initial_sql()
        else:
            first = services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    # Change the rules in place (ids kept): the postcode territory goes first, so the
    # accounts with a postcode in 10000–49999 (about 44 %) move to it.
    Territory.objects.filter(name="Postcodes 1-4").update(priority=-1)
    with Clock() as preview_t:
        preview = services.realignment_preview(actor=admin)
    with Clock() as realign:
        run = services.realignment_run(Realignment.objects.create(requested_by=admin).pk)
    assert run.moved == preview["total"]
    # Baseline: read the same columns, one UPDATE per batch (no rules, no comparison, no
    # events).
    placer = placement.Placer()
    with Clock() as bare:
        for lo, hi in services._id_batches("account"):
            with transaction.atomic():
                rows = list(
                    Account.objects.filter(id__gte=lo, id__lt=hi).values(
                        *placement._ROW_FIELDS["account"]
                    )
                )
                TerritoryMembership.objects.filter(
                    object_type="account", object_id__in=[r["id"] for r in rows]
                ).update(territory_id=placer.order[0][0])
    return {
        "accounts": first.scanned,
        "initial": initial,
        "preview": preview_t,
        "preview_moves": preview["total"],
        "preview_by_type": preview["moves"],
        "realign": realign,
        "moved": run.moved,
        "scanned": run.scanned,
        "bare": bare,
        "ratio": realign.wall / bare.wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=list(SCALES))
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--only", choices=["scoring", "realignment"], default=None)
    parser.add_argument("--no-generate", action="store_true", help="reuse the database's rows")
    parser.add_argument("--score-limit", type=int, default=None, help="score only N leads")
    parser.add_argument("--generate-only", action="store_true", help="build the data and stop")
    parser.add_argument(
        "--initial-sql",
        action="store_true",
        help="place everything first with one INSERT … SELECT (no events) instead of a run",
    )
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench-sfa.sqlite3"
    _setup(url)
    n = SCALES[args.scale]
    if args.no_generate:
        from rapport.identity.models import User

        user = User.objects.get(username="bench")
    else:
        with Clock() as gen:
            _, user = generate(n, args.seed)
        print(f"generated {n:,} leads and {n:,} accounts: {gen}", flush=True)
        if args.generate_only:
            return
    if args.only in (None, "realignment"):
        r = bench_realignment(user, initial_sql=args.initial_sql)
        print(
            f"realignment: first placement of {r['accounts']:,} accounts+leads: {r['initial']}\n"
            f"  preview ({r['preview_moves']:,} moves, {r['preview_by_type']}): {r['preview']}\n"
            f"  run ({r['moved']:,} moved of {r['scanned']:,} scanned): {r['realign']}\n"
            f"  bare rewrite of the accounts' memberships: {r['bare']}; ratio {r['ratio']:.2f}×",
            flush=True,
        )
    if args.only in (None, "scoring"):
        s = bench_scoring(user, limit=args.score_limit)
        print(
            f"scoring: {s['rows']:,} leads, {s['rows_per_s']:,.0f} rows/s ({s['full']}); "
            f"bare read+upsert {s['bare_rows_per_s']:,.0f} rows/s ({s['bare']}); "
            f"ratio {s['ratio']:.2f}× (holdout AUC {s['auc']} vs naive Bayes "
            f"{s['baseline_auc']})",
            flush=True,
        )


if __name__ == "__main__":
    main()

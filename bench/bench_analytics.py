"""Benchmark: the full analytics refresh (warehouse + model fits + scoring + storing scores).

Builds a temporary SQLite database (migrated, then filled with raw SQL for speed): N customers
(90% accounts, 10% contacts buying without an account), their orders drawn from a BG/NBD
process over two years, M order lines over 500 products in 20 categories, and one activity
per two customers. Then, each in a fresh child process so that its peak memory is its own:

  1. a full refresh (`analytics_refresh_now(full=True)`): read the database in chunks into a
     new DuckDB file, derive the tables, fit RFM, BG/NBD (+ holdout report), Gamma-Gamma,
     Pareto/NBD (comparison, skipped above 100k distinct histories), next-best products,
     profitability, and upsert every CustomerScore;
  2. an incremental refresh after 1% new orders.

Reports wall time per stage (from the run summary) and peak RSS (resource.getrusage).

    python bench/bench_analytics.py                          # 50k customers, 500k lines
    python bench/bench_analytics.py --customers 1000000 --lines 10000000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = datetime.datetime(2025, 6, 30, 12, tzinfo=datetime.UTC)
CHANNELS = ["web", "store", "phone", "partner", "email"]
KINDS = ["call", "meeting", "email", "interaction", "task", "note"]


def _setup(db: Path, warehouse: Path) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["RAPPORT_WAREHOUSE_PATH"] = str(warehouse)
    os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def generate(customers: int, lines: int, seed: int) -> dict[str, float]:
    """Fill the (migrated) database; returns counts and the time taken."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from rapport.analytics.numeric.simulate import simulate_bg_nbd

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(seed)
    # Everything exists a day before the full refresh (so the incremental one reads only the
    # new orders).
    now = (END - datetime.timedelta(days=1)).isoformat(sep=" ")
    n_contacts = customers // 10
    n_accounts = customers - n_contacts
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO identity_user (id, password, is_superuser, username, first_name, "
            "last_name, email, is_staff, is_active, date_joined, role) "
            "VALUES (%s, '', 0, %s, '', '', '', 0, 1, %s, 'sales_rep')",
            [(i, f"rep{i}", now) for i in range(1, 11)],
        )
        owners = rng.integers(1, 11, size=customers)
        countries = np.array(["FR", "DE", "US", "GB", "ES", "IT", ""])[
            rng.integers(0, 7, size=customers)
        ]
        common = "version, custom, created_at, updated_at, street, city, region, postal_code"
        cur.executemany(
            f"INSERT INTO accounts_account (id, owner_id, {common}, country, name, website, "  # noqa: S608
            "domain, industry, size, currency, shipping_street, shipping_city, "
            "shipping_region, shipping_postal_code, shipping_country, description) "
            "VALUES (%s, %s, 1, '{}', %s, %s, '', '', '', '', %s, %s, '', '', '', '', 'EUR', "
            "'', '', '', '', '', '')",
            [
                (i, int(owners[i - 1]), now, now, countries[i - 1], f"Account {i}")
                for i in range(1, n_accounts + 1)
            ],
        )
        cur.executemany(
            f"INSERT INTO accounts_contact (id, owner_id, {common}, country, first_name, "  # noqa: S608
            "last_name, title, email, phone, description) "
            "VALUES (%s, %s, 1, '{}', %s, %s, '', '', '', '', %s, '', %s, '', '', '', '')",
            [
                (
                    i,
                    int(owners[n_accounts + i - 1]),
                    now,
                    now,
                    countries[n_accounts + i - 1],
                    f"C{i}",
                )
                for i in range(1, n_contacts + 1)
            ],
        )
        categories = [f"category {c}" for c in range(20)]
        prices = np.round(rng.lognormal(3.5, 0.8, size=500), 2)
        cur.executemany(
            "INSERT INTO sales_product (id, sku, name, category, description, unit_price, "
            "currency, is_active, version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, '', %s, 'EUR', 1, 1, %s, %s)",
            [
                (p, f"SKU{p}", f"Product {p}", categories[p % 20], float(prices[p - 1]), now, now)
                for p in range(1, 501)
            ],
        )
        # Purchase occasions from BG/NBD over two years (days), first purchase included.
        history = simulate_bg_nbd(
            customers,
            r=0.5,
            alpha=8.0,
            a=0.8,
            b=2.5,
            max_age_days=730,
            days_per_unit=1.0,
            rng=rng,
        )
        per_customer = history["frequency"].to_numpy() + 1
        n_orders = int(per_customer.sum())
        lines_per_order = max(lines / n_orders, 1.0)
        age = history["T"].to_numpy()
        recency = history["recency"].to_numpy()
        customer_of_order = np.repeat(np.arange(customers), per_customer)
        first_day = (730 - age)[customer_of_order]
        offsets = rng.random(n_orders) * recency[customer_of_order]
        is_first = np.r_[True, customer_of_order[1:] != customer_of_order[:-1]]
        is_last = np.r_[customer_of_order[1:] != customer_of_order[:-1], True]
        offsets[is_first] = 0.0
        offsets[is_last & ~is_first] = recency[customer_of_order[is_last & ~is_first]]
        day = np.floor(first_day + offsets).astype(np.int64)
        start = END - datetime.timedelta(days=730)
        n_lines_of = 1 + rng.poisson(lines_per_order - 1, size=n_orders)
        favourite = rng.integers(1, 501, size=customers)
        order_rows, line_rows, line_id = [], [], 0
        for o in range(n_orders):
            order_id = o + 1
            c = customer_of_order[o]
            k = int(n_lines_of[o])
            # Customers come back to their favourite product's neighbourhood.
            products = (favourite[c] + rng.integers(-5, 6, size=k)) % 500 + 1
            quantities = rng.integers(1, 4, size=k)
            total = float(np.round((prices[products - 1] * quantities).sum(), 2))
            account = int(c + 1) if c < n_accounts else None
            contact = int(c - n_accounts + 1) if c >= n_accounts else None
            ordered_at = (start + datetime.timedelta(days=int(day[o]), hours=10)).isoformat(sep=" ")
            order_rows.append(
                (order_id, account, contact, ordered_at, CHANNELS[o % 5], total, now, now)
            )
            for p, q in zip(products, quantities, strict=True):
                line_id += 1
                line_rows.append((line_id, order_id, int(p), int(q), float(prices[p - 1])))
            if len(line_rows) >= 200_000:
                _flush_orders(cur, order_rows, line_rows)
        _flush_orders(cur, order_rows, line_rows)
        activity_customers = rng.integers(0, customers, size=customers // 2)
        cur.executemany(
            "INSERT INTO activities_activity (kind, subject, body, owner_id, account_id, "
            "contact_id, occurred_at, priority, done, direction, outcome, location, channel, "
            "version, created_at, updated_at) "
            "VALUES (%s, '', '', 1, %s, %s, %s, 'normal', 1, '', '', '', '', 1, %s, %s)",
            [
                (
                    KINDS[i % 6],
                    int(c + 1) if c < n_accounts else None,
                    int(c - n_accounts + 1) if c >= n_accounts else None,
                    now,
                    now,
                    now,
                )
                for i, c in enumerate(activity_customers)
            ],
        )
    return {
        "customers": customers,
        "orders": n_orders,
        "order_lines": line_id,
        "activities": len(activity_customers),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _flush_orders(cur, order_rows: list, line_rows: list) -> None:
    cur.executemany(
        "INSERT INTO orders_order (id, external_id, account_id, contact_id, ordered_at, channel, "
        "status, currency, total, version, created_at, updated_at) "
        "VALUES (%s, NULL, %s, %s, %s, %s, 'paid', 'EUR', %s, 1, %s, %s)",
        order_rows,
    )
    cur.executemany(
        "INSERT INTO orders_orderline (id, order_id, product_id, description, quantity, "
        "unit_price) VALUES (%s, %s, %s, '', %s, %s)",
        line_rows,
    )
    order_rows.clear()
    line_rows.clear()


def add_new_orders(share: float, seed: int) -> int:
    """Copy `share` of the orders (with their lines) as new orders dated at the end."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT max(id), count(*) FROM orders_order")
        max_id, count = cur.fetchone()
        new = max(1, int(count * share))
        stamp = (END + datetime.timedelta(hours=1)).isoformat(sep=" ")
        cur.execute(
            "INSERT INTO orders_order (id, external_id, account_id, contact_id, ordered_at, "
            "channel, status, currency, total, version, created_at, updated_at) "
            "SELECT id + %s, NULL, account_id, contact_id, %s, channel, status, currency, total, "
            "1, %s, %s FROM orders_order WHERE id <= %s",
            [max_id, stamp, stamp, stamp, new],
        )
        cur.execute(
            "INSERT INTO orders_orderline (order_id, product_id, description, quantity, "
            "unit_price) SELECT order_id + %s, product_id, '', quantity, unit_price "
            "FROM orders_orderline WHERE order_id <= %s",
            [max_id, new],
        )
    return new


def refresh(full: bool) -> dict:
    import time_machine

    from rapport.analytics.services import analytics_refresh_now

    # Incremental runs happen "later": the new orders carry END + 1 h.
    moment = END + datetime.timedelta(hours=0 if full else 2)
    started = time.perf_counter()
    with time_machine.travel(moment, tick=True):
        run = analytics_refresh_now(full=full)
    return {
        "status": run.status,
        "kind": run.kind,
        "error": run.error[:500],
        "seconds": round(time.perf_counter() - started, 2),
        "stages": run.summary.get("seconds", {}),
        "scoring": run.summary.get("scoring_seconds", {}),
        "orders_read": run.rows,
        "customers_scored": run.customers,
        "peak_rss_mib": round(_peak_mib(), 1),
    }


def _child(args: argparse.Namespace, *extra: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--db",
        str(args.db),
        "--warehouse",
        str(args.warehouse),
        *extra,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--step", choices=["generate", "full", "incremental"])
    args = parser.parse_args()

    if args.step:
        _setup(args.db, args.warehouse)
        if args.step == "generate":
            result = generate(args.customers, args.lines, args.seed)
        elif args.step == "full":
            result = refresh(full=True)
        else:
            new = add_new_orders(0.01, args.seed)
            result = {"new_orders": new, **refresh(full=False)}
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="rapport-bench-") as tmp:
        args.db = Path(tmp) / "bench.sqlite3"
        args.warehouse = Path(tmp) / "warehouse" / "bench.duckdb"
        size = ["--customers", str(args.customers), "--lines", str(args.lines)]
        data = _child(args, "--step", "generate", *size, "--seed", str(args.seed))
        print(f"data: {json.dumps(data)}")
        for step in ("full", "incremental"):
            result = _child(args, "--step", step)
            print(f"{step} refresh: {json.dumps(result)}")
        print(
            f"warehouse file: {args.warehouse.stat().st_size / 2**20:.1f} MiB, "
            f"SQLite file: {args.db.stat().st_size / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()

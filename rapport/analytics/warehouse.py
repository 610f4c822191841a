"""The customer data warehouse: an analysis snapshot in one DuckDB file.

Raw tables copy what analytics needs from the operational database (orders and their lines
incrementally; customers, products, exchange rates, activity counts and opportunities in full
each run, since they are small or pre-aggregated by the database). Derived tables are rebuilt
from the raw ones on every refresh inside DuckDB, which takes seconds even at ten million
order lines, so exchange rates, product categories and customer owners are always current:

- ``transactions``: one row per revenue-bearing order (not cancelled or refunded), with the
  customer key, local day and month, channel and the amount in the organisation's currency;
- ``order_lines``: one row per line of those orders, with the product category;
- ``customers``: the per-customer fact table (purchases, revenue, engagement = activity counts
  by kind, opportunities won/lost/open, owner, team, territory);
- ``customer_scores``: the scores of the last refresh (written by scoring), so that the cube
  can slice by segment.

The customer unit is the account when an order has one, else the contact. The customer key is
the account id, or minus the contact id (one integer column that joins fast).

Readers open the file read-only. A refresh writes a copy next to it and swaps it in with an
atomic rename, so a refresh never blocks or disturbs the readers (DuckDB allows one writing
process per file; readers of the old file finish on the old inode).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity, ActivityKind
from rapport.orders.models import Order, OrderLine
from rapport.sales.models import ExchangeRate, Opportunity, Product

SCHEMA_VERSION = "1"
CHUNK = 20_000
# Orders saved this long before a run's start but committed after it are still picked up by
# the next incremental run: it re-reads from watermark - OVERLAP (re-reading is idempotent).
OVERLAP = datetime.timedelta(minutes=10)
REVENUE_EXCLUDED_STATUSES = ("cancelled", "refunded")
ACTIVITY_KINDS = tuple(ActivityKind.values)


class NoSnapshot(LookupError):
    """No warehouse has been built yet (run a refresh first)."""


def warehouse_path() -> Path:
    """The warehouse file: settings.RAPPORT_WAREHOUSE_PATH, the env var of the same name, or
    var/warehouse/rapport.duckdb under BASE_DIR."""
    configured = getattr(settings, "RAPPORT_WAREHOUSE_PATH", None) or os.environ.get(
        "RAPPORT_WAREHOUSE_PATH"
    )
    if configured:
        return Path(configured)
    return Path(settings.BASE_DIR) / "var" / "warehouse" / "rapport.duckdb"


@contextlib.contextmanager
def warehouse_reader() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the current snapshot, closed on exit; NoSnapshot if none."""
    path = warehouse_path()
    if not path.exists():
        raise NoSnapshot("The analytics warehouse has not been built yet")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def snapshot_meta(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT key, value FROM meta").fetchall())


# ----- schema -----------------------------------------------------------------------------

_RAW_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS orders_raw (
    order_id BIGINT, account_id BIGINT, contact_id BIGINT, ordered_at TIMESTAMP,
    channel VARCHAR, status VARCHAR, currency VARCHAR, total DOUBLE
);
CREATE TABLE IF NOT EXISTS lines_raw (
    line_id BIGINT, order_id BIGINT, product_id BIGINT, quantity DOUBLE, unit_price DOUBLE
);
CREATE OR REPLACE TABLE products (product_id BIGINT, name VARCHAR, category VARCHAR);
CREATE OR REPLACE TABLE rates (currency VARCHAR, valid_from DATE, rate DOUBLE);
CREATE OR REPLACE TABLE accounts (
    account_id BIGINT, name VARCHAR, owner_id BIGINT, team_id BIGINT, country VARCHAR,
    deleted BOOLEAN, closed_at DATE
);
CREATE OR REPLACE TABLE contacts (
    contact_id BIGINT, name VARCHAR, account_id BIGINT, owner_id BIGINT, team_id BIGINT,
    country VARCHAR, deleted BOOLEAN
);
CREATE OR REPLACE TABLE activity_counts (
    account_id BIGINT, contact_id BIGINT, opportunity_account_id BIGINT, kind VARCHAR,
    channel VARCHAR, n BIGINT
);
CREATE OR REPLACE TABLE activity_days (
    account_id BIGINT, contact_id BIGINT, opportunity_account_id BIGINT, kind VARCHAR,
    day DATE, n BIGINT
);
CREATE OR REPLACE TABLE opportunities (
    opportunity_id BIGINT, account_id BIGINT, contact_id BIGINT, status VARCHAR,
    amount DOUBLE, currency VARCHAR, created_at TIMESTAMP, closed_at TIMESTAMP, owner_id BIGINT
);
"""


# ----- extraction from the operational database --------------------------------------------


def _chunks(qs: QuerySet, fields: Sequence[str], size: int = CHUNK) -> Iterator[list[tuple]]:
    """values_list rows of `qs` in primary-key order, `size` at a time (keyset on pk: each
    chunk is its own short query, so memory and locks stay bounded)."""
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").values_list(*fields)[:size])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _local_naive(values: Sequence[datetime.datetime | None], tz: ZoneInfo) -> pd.Series:
    """Aware datetimes as naive local wall-clock time (days and months are local)."""
    stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    return stamps.dt.tz_convert(tz).dt.tz_localize(None)


def _ints(values: Sequence[int | None]) -> pd.array:
    return pd.array(list(values), dtype="Int64")


def _floats(values: Sequence) -> np.ndarray:
    return np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("_chunk", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _chunk")  # noqa: S608
    finally:
        con.unregister("_chunk")


ORDER_FIELDS = (
    "id",
    "account_id",
    "contact_id",
    "ordered_at",
    "channel",
    "status",
    "currency",
    "total",
)
LINE_FIELDS = ("id", "order_id", "product_id", "quantity", "unit_price")


def _orders_frame(rows: list[tuple], tz: ZoneInfo) -> pd.DataFrame:
    cols = list(zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "order_id": np.array(cols[0], dtype=np.int64),
            "account_id": _ints(cols[1]),
            "contact_id": _ints(cols[2]),
            "ordered_at": _local_naive(cols[3], tz),
            "channel": list(cols[4]),
            "status": list(cols[5]),
            "currency": [c.upper() for c in cols[6]],
            "total": _floats(cols[7]),
        }
    )


def _lines_frame(rows: list[tuple]) -> pd.DataFrame:
    cols = list(zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "line_id": np.array(cols[0], dtype=np.int64),
            "order_id": np.array(cols[1], dtype=np.int64),
            "product_id": _ints(cols[2]),
            "quantity": _floats(cols[3]),
            "unit_price": _floats(cols[4]),
        }
    )


@dataclass
class LoadCounts:
    orders: int = 0
    lines: int = 0
    deleted_orders: int = 0


def load_orders_full(con: duckdb.DuckDBPyConnection, tz: ZoneInfo) -> LoadCounts:
    counts = LoadCounts()
    for rows in _chunks(Order.objects.all(), ORDER_FIELDS):
        _insert(con, "orders_raw", _orders_frame(rows, tz))
        counts.orders += len(rows)
    for rows in _chunks(OrderLine.objects.all(), LINE_FIELDS):
        _insert(con, "lines_raw", _lines_frame(rows))
        counts.lines += len(rows)
    return counts


def load_orders_since(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, since: datetime.datetime
) -> LoadCounts:
    """Upsert the orders changed since `since` (and their lines) and drop deleted orders."""
    counts = LoadCounts()
    for rows in _chunks(Order.objects.filter(updated_at__gte=since), ORDER_FIELDS):
        frame = _orders_frame(rows, tz)
        con.register("_changed", frame[["order_id"]])
        try:
            con.execute("DELETE FROM orders_raw WHERE order_id IN (SELECT order_id FROM _changed)")
            con.execute("DELETE FROM lines_raw WHERE order_id IN (SELECT order_id FROM _changed)")
        finally:
            con.unregister("_changed")
        _insert(con, "orders_raw", frame)
        counts.orders += len(rows)
    changed_lines = OrderLine.objects.filter(order__updated_at__gte=since)
    for rows in _chunks(changed_lines, LINE_FIELDS):
        frame = _lines_frame(rows)
        con.register("_changed", frame[["line_id"]])
        try:
            # An order changed between the two passes: its lines may already be here.
            con.execute("DELETE FROM lines_raw WHERE line_id IN (SELECT line_id FROM _changed)")
        finally:
            con.unregister("_changed")
        _insert(con, "lines_raw", frame)
        counts.lines += len(rows)
    # Hard-deleted orders leave no changed row behind: compare the id sets.
    con.execute("CREATE OR REPLACE TEMP TABLE live_orders (order_id BIGINT)")
    for rows in _chunks(Order.objects.all(), ("id",), size=200_000):
        _insert(
            con, "live_orders", pd.DataFrame({"order_id": np.array(rows, dtype=np.int64)[:, 0]})
        )
    before = con.execute("SELECT count(*) FROM orders_raw").fetchone()[0]
    con.execute("DELETE FROM orders_raw WHERE order_id NOT IN (SELECT order_id FROM live_orders)")
    con.execute("DELETE FROM lines_raw WHERE order_id NOT IN (SELECT order_id FROM live_orders)")
    counts.deleted_orders = before - con.execute("SELECT count(*) FROM orders_raw").fetchone()[0]
    con.execute("DROP TABLE live_orders")
    return counts


def load_dimensions(con: duckdb.DuckDBPyConnection, tz: ZoneInfo, as_of: datetime.datetime):
    """Reload the small or pre-aggregated tables: customers, products, rates, activity
    counts (aggregated by the database) and opportunities."""
    account_fields = ("id", "name", "owner_id", "team_id", "country", "deleted_at", "closed_at")
    for rows in _chunks(Account.all_objects.all(), account_fields):
        cols = list(zip(*rows, strict=True))
        _insert(
            con,
            "accounts",
            pd.DataFrame(
                {
                    "account_id": np.array(cols[0], dtype=np.int64),
                    "name": list(cols[1]),
                    "owner_id": _ints(cols[2]),
                    "team_id": _ints(cols[3]),
                    "country": [c.upper() for c in cols[4]],
                    "deleted": [d is not None for d in cols[5]],
                    "closed_at": pd.to_datetime(pd.Series(cols[6], dtype=object)),
                }
            ),
        )
    contact_fields = (
        "id",
        "first_name",
        "last_name",
        "account_id",
        "owner_id",
        "team_id",
        "country",
        "deleted_at",
    )
    for rows in _chunks(Contact.all_objects.all(), contact_fields):
        cols = list(zip(*rows, strict=True))
        _insert(
            con,
            "contacts",
            pd.DataFrame(
                {
                    "contact_id": np.array(cols[0], dtype=np.int64),
                    "name": [f"{a} {b}".strip() for a, b in zip(cols[1], cols[2], strict=True)],
                    "account_id": _ints(cols[3]),
                    "owner_id": _ints(cols[4]),
                    "team_id": _ints(cols[5]),
                    "country": [c.upper() for c in cols[6]],
                    "deleted": [d is not None for d in cols[7]],
                }
            ),
        )
    for rows in _chunks(Product.objects.all(), ("id", "name", "category")):
        cols = list(zip(*rows, strict=True))
        _insert(
            con,
            "products",
            pd.DataFrame(
                {
                    "product_id": np.array(cols[0], dtype=np.int64),
                    "name": list(cols[1]),
                    "category": list(cols[2]),
                }
            ),
        )
    rates = list(ExchangeRate.objects.values_list("currency", "valid_from", "rate"))
    if rates:
        cols = list(zip(*rates, strict=True))
        _insert(
            con,
            "rates",
            pd.DataFrame(
                {
                    "currency": [c.upper() for c in cols[0]],
                    "valid_from": pd.to_datetime(list(cols[1])),
                    "rate": _floats(cols[2]),
                }
            ),
        )
    _load_activity_counts(con, as_of)
    _load_activity_days(con, as_of)
    _load_opportunities(con, tz)


def _load_activity_counts(con: duckdb.DuckDBPyConnection, as_of: datetime.datetime) -> None:
    """Activities that happened up to `as_of`, counted by the database per customer link,
    kind and channel (rows: customers x kinds, not activities)."""
    grouped = (
        Activity.objects.filter(occurred_at__lte=as_of)
        .values("account_id", "contact_id", "opportunity__account_id", "kind", "channel")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("account_id", "contact_id", "opportunity__account_id", "kind", "channel", "n")
    )
    batch: list[tuple] = []

    def flush():
        cols = list(zip(*batch, strict=True))
        _insert(
            con,
            "activity_counts",
            pd.DataFrame(
                {
                    "account_id": _ints(cols[0]),
                    "contact_id": _ints(cols[1]),
                    "opportunity_account_id": _ints(cols[2]),
                    "kind": list(cols[3]),
                    "channel": list(cols[4]),
                    "n": np.array(cols[5], dtype=np.int64),
                }
            ),
        )
        batch.clear()

    for row in grouped.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()


def _load_activity_days(con: duckdb.DuckDBPyConnection, as_of: datetime.datetime) -> None:
    """Activities of accounts (directly or through an opportunity) up to `as_of`, counted by
    the database per account link, kind and local day: the dated engagement the supervised
    churn model needs (activities in the weeks before an account closed)."""
    grouped = (
        Activity.objects.filter(occurred_at__lte=as_of)
        .filter(Q(account__isnull=False) | Q(opportunity__account__isnull=False))
        .annotate(day=TruncDate("occurred_at"))
        .values("account_id", "opportunity__account_id", "kind", "day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("account_id", "opportunity__account_id", "kind", "day", "n")
    )
    batch: list[tuple] = []

    def flush():
        cols = list(zip(*batch, strict=True))
        _insert(
            con,
            "activity_days",
            pd.DataFrame(
                {
                    "account_id": _ints(cols[0]),
                    "opportunity_account_id": _ints(cols[1]),
                    "kind": list(cols[2]),
                    "day": pd.to_datetime(pd.Series(cols[3], dtype=object)),
                    "n": np.array(cols[4], dtype=np.int64),
                }
            ),
        )
        batch.clear()

    for row in grouped.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()


def _load_opportunities(con: duckdb.DuckDBPyConnection, tz: ZoneInfo) -> None:
    fields = (
        "id",
        "account_id",
        "primary_contact_id",
        "stage__kind",
        "amount",
        "currency",
        "created_at",
        "closed_at",
        "owner_id",
    )
    for rows in _chunks(Opportunity.objects.all(), fields):
        cols = list(zip(*rows, strict=True))
        _insert(
            con,
            "opportunities",
            pd.DataFrame(
                {
                    "opportunity_id": np.array(cols[0], dtype=np.int64),
                    "account_id": _ints(cols[1]),
                    "contact_id": _ints(cols[2]),
                    "status": list(cols[3]),
                    "amount": _floats(cols[4]),
                    "currency": [c.upper() for c in cols[5]],
                    "created_at": _local_naive(cols[6], tz),
                    "closed_at": _local_naive(cols[7], tz),
                    "owner_id": _ints(cols[8]),
                }
            ),
        )


# ----- derived tables ----------------------------------------------------------------------


def _kind_columns() -> str:
    return ",\n".join(
        f"coalesce(sum(n) FILTER (WHERE kind = '{kind}'), 0)::BIGINT AS {kind}s"
        for kind in ACTIVITY_KINDS
    )


def derive_tables(con: duckdb.DuckDBPyConnection, *, currency: str) -> dict[str, int]:
    """Rebuild transactions, order_lines and customers from the raw tables; returns counts
    (including orders whose currency had no exchange rate: their amount is NULL, not guessed,
    and they count as purchase occasions with no value)."""
    excluded = ", ".join(f"'{s}'" for s in REVENUE_EXCLUDED_STATUSES)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE transactions AS
        SELECT o.order_id,
               coalesce(o.account_id, -o.contact_id) AS customer_key,
               o.account_id, o.contact_id, o.ordered_at,
               CAST(o.ordered_at AS DATE) AS day,
               CAST(date_trunc('month', o.ordered_at) AS DATE) AS month,
               o.channel, o.status, o.currency, o.total,
               CASE WHEN o.currency = $currency THEN 1.0 ELSE r.rate END AS rate,
               o.total * (CASE WHEN o.currency = $currency THEN 1.0 ELSE r.rate END) AS amount
        FROM orders_raw o
        ASOF LEFT JOIN rates r
          ON o.currency = r.currency AND CAST(o.ordered_at AS DATE) >= r.valid_from
        WHERE o.status NOT IN ({excluded})
        ORDER BY customer_key, day, order_id
        """,  # noqa: S608 - constants only
        {"currency": currency},
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE order_lines AS
        SELECT l.line_id, l.order_id, t.customer_key, t.day, t.month, t.channel,
               l.product_id, coalesce(nullif(p.category, ''), 'uncategorised') AS category,
               l.quantity, l.quantity * l.unit_price * t.rate AS amount
        FROM lines_raw l
        JOIN transactions t USING (order_id)
        LEFT JOIN products p USING (product_id)
        ORDER BY l.order_id, l.line_id
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE customers AS
        WITH tx AS (
            SELECT customer_key, min(day) AS first_purchase, max(day) AS last_purchase,
                   count(*) AS orders, count(DISTINCT day) AS occasions,
                   coalesce(sum(amount), 0) AS revenue
            FROM transactions GROUP BY customer_key
        ),
        act AS (
            SELECT coalesce(account_id, opportunity_account_id, -contact_id) AS customer_key,
                   {_kind_columns()},
                   sum(n)::BIGINT AS activities
            FROM activity_counts
            WHERE coalesce(account_id, opportunity_account_id, contact_id) IS NOT NULL
            GROUP BY 1
        ),
        opp AS (
            SELECT coalesce(account_id, -contact_id) AS customer_key,
                   count(*) FILTER (WHERE status = 'open') AS opps_open,
                   count(*) FILTER (WHERE status = 'won') AS opps_won,
                   count(*) FILTER (WHERE status = 'lost') AS opps_lost
            FROM opportunities
            WHERE coalesce(account_id, contact_id) IS NOT NULL
            GROUP BY 1
        ),
        keys AS (
            SELECT customer_key FROM tx
            UNION SELECT customer_key FROM act
            UNION SELECT customer_key FROM opp
        )
        SELECT k.customer_key,
               CASE WHEN k.customer_key > 0 THEN 'account' ELSE 'contact' END AS kind,
               CASE WHEN k.customer_key > 0 THEN k.customer_key END AS account_id,
               CASE WHEN k.customer_key < 0 THEN -k.customer_key END AS contact_id,
               coalesce(a.name, c.name, '') AS name,
               coalesce(a.owner_id, c.owner_id) AS owner_id,
               coalesce(a.team_id, c.team_id) AS team_id,
               coalesce(nullif(a.country, ''), nullif(c.country, ''), nullif(ca.country, ''))
                   AS territory,
               coalesce(a.deleted, c.deleted, false) AS deleted,
               tx.first_purchase, tx.last_purchase,
               coalesce(tx.orders, 0) AS orders, coalesce(tx.occasions, 0) AS occasions,
               coalesce(tx.revenue, 0) AS revenue,
               {", ".join(f"coalesce(act.{kind}s, 0) AS {kind}s" for kind in ACTIVITY_KINDS)},
               coalesce(act.activities, 0) AS activities,
               coalesce(opp.opps_open, 0) AS opps_open,
               coalesce(opp.opps_won, 0) AS opps_won,
               coalesce(opp.opps_lost, 0) AS opps_lost
        FROM keys k
        LEFT JOIN tx USING (customer_key)
        LEFT JOIN act USING (customer_key)
        LEFT JOIN opp USING (customer_key)
        LEFT JOIN accounts a ON a.account_id = k.customer_key
        LEFT JOIN contacts c ON c.contact_id = -k.customer_key
        LEFT JOIN accounts ca ON ca.account_id = c.account_id
        ORDER BY k.customer_key
        """  # noqa: S608 - constants only
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE opportunity_facts AS
        SELECT o.*, coalesce(o.account_id, -o.contact_id) AS customer_key,
               o.amount * (CASE WHEN o.currency = $currency THEN 1.0 ELSE r.rate END)
                   AS amount_converted
        FROM opportunities o
        ASOF LEFT JOIN rates r
          ON o.currency = r.currency
         AND CAST(coalesce(o.closed_at, o.created_at) AS DATE) >= r.valid_from
        """,
        {"currency": currency},
    )
    one = con.execute(
        """
        SELECT (SELECT count(*) FROM transactions),
               (SELECT count(*) FROM order_lines),
               (SELECT count(*) FROM customers WHERE orders > 0),
               (SELECT count(*) FROM transactions WHERE amount IS NULL),
               (SELECT max(day) FROM transactions)
        """
    ).fetchone()
    return {
        "transactions": int(one[0]),
        "order_lines": int(one[1]),
        "buying_customers": int(one[2]),
        "unconverted_orders": int(one[3]),
        "last_order_day": one[4].isoformat() if one[4] else None,
    }


# ----- a build: a private copy, swapped in when complete -----------------------------------


class WarehouseBuild:
    """A refresh's private copy of the warehouse. Full: a new empty file; incremental: a copy
    of the current one. `publish()` checkpoints and atomically renames it into place."""

    def __init__(self, *, full: bool):
        self.path = warehouse_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".building", dir=self.path.parent
        )
        os.close(fd)
        os.unlink(tmp)  # DuckDB wants to create the file itself
        self.tmp_path = Path(tmp)
        self.full = full or not self._current_is_usable()
        if not self.full:
            shutil.copyfile(self.path, self.tmp_path)
        self.con = duckdb.connect(str(self.tmp_path))
        self.con.execute(_RAW_DDL)

    def _current_is_usable(self) -> bool:
        if not self.path.exists():
            return False
        try:
            with warehouse_reader() as con:
                return snapshot_meta(con).get("schema_version") == SCHEMA_VERSION
        except duckdb.Error:
            return False

    def set_meta(self, values: dict[str, str]) -> None:
        self.con.execute("DELETE FROM meta")
        self.con.executemany("INSERT INTO meta VALUES (?, ?)", list(values.items()))

    def publish(self) -> None:
        self.con.execute("CHECKPOINT")
        self.con.close()
        os.replace(self.tmp_path, self.path)

    def discard(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.close()
        for path in (self.tmp_path, Path(f"{self.tmp_path}.wal")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def build_warehouse(
    build: WarehouseBuild,
    *,
    since: datetime.datetime | None,
    as_of: datetime.datetime,
    progress: Callable[[str], None] = lambda stage: None,
) -> dict[str, int]:
    """Load the raw tables (all orders, or those changed since `since`) and derive the rest."""
    tz = ZoneInfo(settings.TIME_ZONE)
    progress("reading orders")
    if build.full or since is None:
        counts = load_orders_full(build.con, tz)
    else:
        counts = load_orders_since(build.con, tz, since)
    progress("reading customers and activities")
    load_dimensions(build.con, tz, as_of)
    progress("building the warehouse")
    derived = derive_tables(build.con, currency=settings.RAPPORT_CURRENCY.upper())
    return {
        "orders_read": counts.orders,
        "lines_read": counts.lines,
        "orders_deleted": counts.deleted_orders,
        **derived,
    }

"""Reads of analytics, always scoped to what the user may see.

Two kinds of reads:
- per-customer scores (lists, a customer's scores): only customers the user can see, through
  the record visibility of accounts and contacts, for everyone including managers;
- aggregates (segments, CLV distribution, cohorts, KPIs, the cube), computed by DuckDB over the
  snapshot: administrators and managers get the whole organisation's numbers; everyone else
  gets the same numbers computed over the customers they can see (unless the organisation
  makes every account and contact readable, in which case that is everyone).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from django.db.models import Q, QuerySet
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.analytics.models import CustomerScore, ModelFit, ObservationEnd, WarehouseRun
from rapport.analytics.numeric.kpis import clv_distribution, top_share
from rapport.analytics.numeric.rfm import SEGMENT_RULES, segment_grid, segment_rules
from rapport.analytics.scoring import jsonable
from rapport.analytics.services import (
    STALE_HISTORY_DAYS,
    analytics_settings_get,
    can_refresh,
    last_succeeded_run,
)
from rapport.analytics.warehouse import snapshot_meta, warehouse_reader
from rapport.identity.models import Role, User
from rapport.records.exceptions import PermissionDenied, RecordNotFound
from rapport.records.visibility import sees_all, visible

CUBE_DIMENSIONS = ("month", "channel", "category", "segment", "owner", "territory")
CUBE_MAX_ROWS = 5000
# The time unit of the purchase models' parameters (BG/NBD, Pareto/NBD): r/alpha is a
# purchase rate per week.
TIME_UNIT = "weeks"


# ----- who sees which customers --------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The customers a user's aggregates cover: everyone, or these customer keys (account
    ids, and minus contact ids for contact customers)."""

    whole_org: bool
    keys: np.ndarray | None = None


def analytics_scope(user: User) -> Scope:
    if user.is_admin or (user.is_active and user.role == Role.MANAGER):
        return Scope(whole_org=True)
    if sees_all("account", user) and sees_all("contact", user):
        return Scope(whole_org=True)
    accounts = visible(Account.objects.all(), user).values_list("pk", flat=True)
    contacts = visible(Contact.objects.all(), user).values_list("pk", flat=True)
    keys = np.fromiter(
        [
            *accounts.iterator(chunk_size=10_000),
            *(-c for c in contacts.iterator(chunk_size=10_000)),
        ],
        dtype=np.int64,
    )
    return Scope(whole_org=False, keys=keys)


def _scope_filter(con: duckdb.DuckDBPyConnection, scope: Scope, column: str = "customer_key"):
    """SQL condition restricting `column` to the scope (registers the keys if needed)."""
    if scope.whole_org:
        return "TRUE"
    con.register("_visible", pd.DataFrame({"customer_key": scope.keys}))
    return f"{column} IN (SELECT customer_key FROM _visible)"  # noqa: S608 - column is ours


def scores_visible_to(user: User) -> QuerySet[CustomerScore]:
    """Score rows of the (not deleted) accounts and contacts the user can see."""
    accounts = visible(Account.objects.all(), user).values("pk")
    contacts = visible(Contact.objects.all(), user).values("pk")
    return CustomerScore.objects.select_related("account", "contact").filter(
        Q(account__in=accounts) | Q(contact__in=contacts)
    )


def observation(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where the analysed history ends, from a snapshot's meta or a run's summary: the as-of
    day, how it was chosen (the setting), the last order's day, and a warning when that order
    is more than STALE_HISTORY_DAYS before today (the data may be an old export, or orders
    stopped being recorded). Model time is in weeks."""
    if not values or not values.get("as_of"):
        return None
    as_of = datetime.date.fromisoformat(str(values["as_of"]))
    last = values.get("last_order_day")
    last_order = datetime.date.fromisoformat(str(last)) if last else None
    mode = values.get("observation_end") or ""
    today = timezone.localdate()
    days = (today - last_order).days if last_order else None
    warning = None
    if days is not None and days > STALE_HISTORY_DAYS:
        warning = (
            f"The last order is from {last_order.isoformat()}, {days:,} days before today. "
            + (
                "The analysis ends at that day, as for a history exported from elsewhere; if "
                "these customers really have bought nothing since, set the observation end "
                "to today in the analytics settings."
                if as_of == last_order
                else f"The analysis is as of {as_of.isoformat()}: every customer counts as "
                "silent since their last order until then. For a history that ended earlier "
                "(an exported data set), set the observation end to the last order's day."
            )
        )
    return {
        "as_of": as_of,
        "observation_end": mode,
        "observation_end_label": _observation_label(mode, as_of, last_order),
        "last_order_day": last_order,
        "days_since_last_order": days,
        "warning": warning,
        "time_unit": TIME_UNIT,
    }


def _observation_label(mode: str, as_of: datetime.date, last_order: datetime.date | None) -> str:
    """How the as-of day was chosen, in words (for "automatic": which day it chose)."""
    if mode == ObservationEnd.AUTO:
        if last_order and as_of == last_order and as_of < timezone.localdate():
            return "automatic: the day of the last order, over 90 days old"
        return "automatic: today"
    if mode in ObservationEnd:
        return ObservationEnd(mode).label.lower()
    return ""


def observation_latest() -> dict[str, Any] | None:
    """The observation window of the last succeeded refresh (for every analytics page)."""
    run = last_succeeded_run()
    return observation(run.summary) if run else None


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    meta = snapshot_meta(con)
    window = observation(meta) or {}
    return {
        "as_of": meta.get("as_of"),
        "observation_end": window.get("observation_end") or None,
        "last_order_day": window.get("last_order_day"),
        "days_since_last_order": window.get("days_since_last_order"),
        "warning": window.get("warning"),
        "time_unit": TIME_UNIT,
        "built_at": meta.get("built_at"),
        "currency": meta.get("currency"),
        "run_id": int(meta["run_id"]) if meta.get("run_id") else None,
    }


# ----- segments ----------------------------------------------------------------------------


def _latest_fit(model: str) -> ModelFit | None:
    run = last_succeeded_run()
    if run is None:
        return None
    return ModelFit.objects.filter(run=run, model=model).first()


def segments_summary(*, user: User) -> dict[str, Any]:
    """Customers, revenue and CLV per RFM segment, with the rules, the 5x5 grid and the
    quintile thresholds of the last refresh."""
    scope = analytics_scope(user)
    with warehouse_reader() as con:
        where = _scope_filter(con, scope, "s.customer_key")
        # Revenue up to the observation end, from the scores; a warehouse written before the
        # scores carried it has only the customers' revenue over every order.
        columns = {d[0] for d in con.execute("SELECT * FROM customer_scores LIMIT 0").description}
        revenue = "s.revenue" if "revenue" in columns else "c.revenue"
        rows = con.execute(
            f"""
            SELECT s.segment, count(*) AS customers, sum({revenue}) AS revenue,
                   sum(s.clv) AS clv, avg(s.churn_risk) AS mean_churn_risk,
                   avg(s.r_score) AS mean_r, avg(s.f_score) AS mean_f, avg(s.m_score) AS mean_m
            FROM customer_scores s JOIN customers c USING (customer_key)
            WHERE {where}
            GROUP BY s.segment
            """  # noqa: S608 - the condition is built from constants
        ).df()
        snapshot = _snapshot(con)
    total_customers = int(rows["customers"].sum()) if len(rows) else 0
    total_revenue = float(rows["revenue"].sum()) if len(rows) else 0.0
    by_name = {r.segment: r for r in rows.itertuples()}
    segments = []
    for rule in SEGMENT_RULES:
        r = by_name.get(rule.segment)
        customers = int(r.customers) if r is not None else 0
        revenue = float(r.revenue) if r is not None else 0.0
        segments.append(
            {
                "segment": rule.segment,
                "description": rule.description,
                "customers": customers,
                "share_of_customers": customers / total_customers if total_customers else 0.0,
                "revenue": round(revenue, 2),
                "share_of_revenue": revenue / total_revenue if total_revenue else 0.0,
                "clv": round(float(r.clv), 2) if r is not None else 0.0,
                "mean_churn_risk": float(r.mean_churn_risk) if r is not None else None,
            }
        )
    fit = _latest_fit("rfm")
    grid = segment_grid()
    return jsonable(
        {
            **snapshot,
            "whole_org": scope.whole_org,
            "customers": total_customers,
            "segments": segments,
            "rules": segment_rules().to_dict(orient="records"),
            "grid": [
                {"r": int(r), "fm": [str(grid.loc[r, fm]) for fm in grid.columns]}
                for r in grid.index
            ],
            "thresholds": fit.params.get("thresholds", []) if fit else [],
        }
    )


# ----- CLV -----------------------------------------------------------------------------------


def clv_overview(*, user: User, bins: int = 20, top: int = 10) -> dict[str, Any]:
    """CLV histogram (equal-width bins up to the 99th percentile, then one open bin), the
    distribution summary and the top customers by CLV that the user can see."""
    scope = analytics_scope(user)
    with warehouse_reader() as con:
        where = _scope_filter(con, scope)
        values = con.execute(
            f"SELECT clv FROM customer_scores WHERE {where}"  # noqa: S608
        ).fetchnumpy()["clv"]
        snapshot = _snapshot(con)
    values = np.asarray(values, dtype=np.float64)
    histogram = []
    if values.size:
        upper = float(np.percentile(values, 99)) or float(values.max()) or 1.0
        counts, edges = np.histogram(np.clip(values, 0, upper), bins=bins, range=(0.0, upper))
        over = int((values > upper).sum())
        counts[-1] -= over
        histogram = [
            {"low": float(lo), "high": float(hi), "customers": int(n)}
            for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
        ]
        histogram.append({"low": upper, "high": None, "customers": over})
    top_rows = list(scores_visible_to(user).order_by("-clv", "-id")[:top])
    return jsonable(
        {
            **snapshot,
            "whole_org": scope.whole_org,
            "distribution": clv_distribution(values),
            "histogram": histogram,
            "top": top_rows,
        }
    )


# ----- at risk -------------------------------------------------------------------------------


def at_risk_list(
    *,
    user: User,
    min_churn_risk: float | None = None,
    min_revenue: float | None = None,
) -> QuerySet[CustomerScore]:
    """Visible customers with a churn risk at least `min_churn_risk` and revenue at least
    `min_revenue`; sort by value at risk. Without either, the customers the last refresh
    flagged at risk (its thresholds, the same predicate as the run summary's count); with
    one, the other defaults to that refresh's threshold (from its summary). Closed accounts
    are never at risk."""
    scores = scores_visible_to(user).exclude(churn_source="closed")
    if min_churn_risk is None and min_revenue is None:
        return scores.filter(at_risk=True)
    run = last_succeeded_run()
    summary = (run.summary or {}) if run else {}
    if min_churn_risk is None:
        min_churn_risk = summary.get("at_risk_min_churn")
        if min_churn_risk is None:
            min_churn_risk = analytics_settings_get().at_risk_min_churn
    if min_revenue is None:
        min_revenue = float(summary.get("at_risk_value_cutoff") or 0)
    return scores.filter(churn_risk__gte=min_churn_risk, revenue__gte=round(min_revenue, 2))


# ----- cohorts -------------------------------------------------------------------------------


def cohort_retention(*, user: User, months: int = 12) -> dict[str, Any]:
    """Monthly cohorts by first-purchase month (the last `months` cohorts): cohort size and
    the share of it buying in each month since; months not yet observed are null. The month
    of the observation end is partial unless that day ends it (`partial_month`). Customers
    of earlier cohorts who bought in the period are counted per calendar month (`earlier`),
    so that a period without new customers still shows its activity."""
    scope = analytics_scope(user)
    with warehouse_reader() as con:
        where = _scope_filter(con, scope)
        snapshot = _snapshot(con)
        as_of = datetime.date.fromisoformat(snapshot["as_of"])
        last_month = as_of.replace(day=1)
        first_cohort = (pd.Timestamp(last_month) - pd.DateOffset(months=months - 1)).date()
        params = {"first": first_cohort, "as_of": as_of}
        cells = con.execute(
            f"""
            WITH occ AS (
                SELECT DISTINCT customer_key, month FROM transactions
                WHERE day <= $as_of AND {where}
            ),
            first AS (SELECT customer_key, min(month) AS cohort FROM occ GROUP BY 1)
            SELECT f.cohort, date_diff('month', f.cohort, o.month) AS age,
                   count(*) AS active
            FROM occ o JOIN first f USING (customer_key)
            WHERE f.cohort >= $first
            GROUP BY 1, 2 ORDER BY 1, 2
            """,  # noqa: S608
            params,
        ).fetchall()
        earlier_rows = con.execute(
            f"""
            WITH occ AS (
                SELECT DISTINCT customer_key, month FROM transactions
                WHERE day <= $as_of AND {where}
            ),
            first AS (SELECT customer_key, min(month) AS cohort FROM occ GROUP BY 1)
            SELECT o.month, count(*) AS active
            FROM occ o JOIN first f USING (customer_key)
            WHERE f.cohort < $first AND o.month >= $first
            GROUP BY 1 ORDER BY 1
            """,  # noqa: S608
            params,
        ).fetchall()
        earlier_size = con.execute(
            f"""
            SELECT count(DISTINCT customer_key) FROM transactions
            WHERE day < $first AND {where}
            """,  # noqa: S608
            {"first": first_cohort},
        ).fetchone()[0]
    by_cohort: dict[datetime.date, dict[int, int]] = {}
    for cohort, age, active in cells:
        by_cohort.setdefault(cohort, {})[int(age)] = int(active)
    rows = []
    for cohort in sorted(by_cohort):
        ages = by_cohort[cohort]
        size = ages.get(0, 0)
        observable = (last_month.year - cohort.year) * 12 + last_month.month - cohort.month
        active = [ages.get(a, 0) for a in range(observable + 1)]
        rows.append(
            {
                "cohort": cohort.strftime("%Y-%m"),
                "customers": size,
                "active": active,
                "retention": [n / size if size else None for n in active],
            }
        )
    month_ends = as_of + datetime.timedelta(days=1)
    partial = last_month.strftime("%Y-%m") if month_ends.month == as_of.month else None
    active_by_month = {m: int(n) for m, n in earlier_rows}
    period = pd.date_range(first_cohort, last_month, freq="MS").date
    earlier = {
        "customers": int(earlier_size),
        "months": [
            {"month": m.strftime("%Y-%m"), "active": active_by_month.get(m, 0)} for m in period
        ],
    }
    return jsonable(
        {
            **snapshot,
            "whole_org": scope.whole_org,
            "months": months,
            "period": {
                "start": first_cohort.strftime("%Y-%m"),
                "end": last_month.strftime("%Y-%m"),
            },
            "partial_month": partial,
            "cohorts": rows,
            "earlier": earlier,
        }
    )


# ----- KPIs ----------------------------------------------------------------------------------


def kpi_overview(*, user: User, months: int = 12) -> dict[str, Any]:
    """Customer-base and CRM KPIs over the last `months` months up to the snapshot date
    (definitions as in numeric.kpis; the churn rate compares with the preceding window of the
    same length)."""
    scope = analytics_scope(user)
    config = analytics_settings_get()
    with warehouse_reader() as con:
        where = _scope_filter(con, scope)
        snapshot = _snapshot(con)
        end = datetime.date.fromisoformat(snapshot["as_of"])
        start = (pd.Timestamp(end) - pd.DateOffset(months=months)).date() + datetime.timedelta(1)
        previous_start = (pd.Timestamp(start) - pd.DateOffset(months=months)).date()
        params = {"start": start, "end": end}
        per_customer = con.execute(
            f"""
            SELECT customer_key, count(DISTINCT order_id) AS orders,
                   coalesce(sum(amount), 0) AS revenue
            FROM transactions
            WHERE day BETWEEN $start AND $end AND {where}
            GROUP BY customer_key
            """,  # noqa: S608
            params,
        ).df()
        churn = con.execute(
            f"""
            WITH prev AS (
                SELECT DISTINCT customer_key FROM transactions
                WHERE day >= $pstart AND day < $start AND {where}
            ),
            cur AS (
                SELECT DISTINCT customer_key FROM transactions
                WHERE day BETWEEN $start AND $end AND {where}
            )
            SELECT (SELECT count(*) FROM prev),
                   (SELECT count(*) FROM prev WHERE customer_key NOT IN (SELECT * FROM cur))
            """,  # noqa: S608
            {**params, "pstart": previous_start},
        ).fetchone()
        new_customers = con.execute(
            f"""
            SELECT count(*) FROM customers
            WHERE first_purchase BETWEEN $start AND $end AND {where}
            """,  # noqa: S608
            {"start": start, "end": end},
        ).fetchone()[0]
        opportunities = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE status = 'won'),
                   count(*) FILTER (WHERE status = 'lost'),
                   coalesce(sum(amount_converted) FILTER (WHERE status = 'won'), 0)
            FROM opportunity_facts
            WHERE status IN ('won', 'lost')
              AND CAST(closed_at AS DATE) BETWEEN $start AND $end AND {where}
            """,  # noqa: S608
            {"start": start, "end": end},
        ).fetchone()
        clv_values = con.execute(
            f"SELECT clv FROM customer_scores WHERE {where}"  # noqa: S608
        ).fetchnumpy()["clv"]
    customers = len(per_customer)
    orders = int(per_customer["orders"].sum()) if customers else 0
    revenue = float(per_customer["revenue"].sum()) if customers else 0.0
    previous, lost = int(churn[0]), int(churn[1])
    won, lost_opps, won_amount = int(opportunities[0]), int(opportunities[1]), opportunities[2]
    marketing = float(config.marketing_cost_per_year) * months / 12.0
    return jsonable(
        {
            **snapshot,
            "whole_org": scope.whole_org,
            "window": {"start": start, "end": end, "months": months},
            "customers": customers,
            "new_customers": int(new_customers),
            "orders": orders,
            "revenue": round(revenue, 2),
            "repeat_customer_rate": (
                float((per_customer["orders"] >= 2).mean()) if customers else None
            ),
            "churn_rate": lost / previous if previous else None,
            "average_order_value": revenue / orders if orders else None,
            "purchase_frequency": orders / customers if customers else None,
            "top20_revenue_share": (
                top_share(per_customer["revenue"].to_numpy()) if customers else None
            ),
            "clv_distribution": clv_distribution(np.asarray(clv_values, dtype=np.float64)),
            "opportunities_won": won,
            "opportunities_lost": lost_opps,
            "close_rate": won / (won + lost_opps) if won + lost_opps else None,
            "won_amount": round(float(won_amount), 2),
            "marketing_cost": round(marketing, 2) if marketing > 0 else None,
            "cost_per_sale": marketing / orders if marketing > 0 and orders else None,
            "cost_per_acquisition": (
                marketing / new_customers if marketing > 0 and new_customers else None
            ),
        }
    )


# ----- cube ----------------------------------------------------------------------------------

_DIMENSION_SQL = {
    "month": "f.month",
    "channel": "f.channel",
    "category": "f.category",
    "segment": "coalesce(s.segment, 'unscored')",
    "owner": "c.owner_id",
    "territory": "c.territory",
}


def cube(
    *,
    user: User,
    by: list[str],
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> dict[str, Any]:
    """Revenue, orders and customers per combination of the `by` dimensions (month, channel,
    product category, RFM segment, customer owner, territory = the customer's country).
    With `category`, revenue is the sum of the category's lines and an order with lines in two
    categories counts in both."""
    dims = list(dict.fromkeys(by))
    unknown = set(dims) - set(CUBE_DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown dimensions: {sorted(unknown)}")
    scope = analytics_scope(user)
    source = "order_lines" if "category" in dims else "transactions"
    select = ", ".join(f"{_DIMENSION_SQL[d]} AS {d}" for d in dims)
    group = ", ".join(str(i + 1) for i in range(len(dims)))
    conditions = []
    params: dict[str, Any] = {}
    if date_from:
        conditions.append("f.day >= $date_from")
        params["date_from"] = date_from
    if date_to:
        conditions.append("f.day <= $date_to")
        params["date_to"] = date_to
    with warehouse_reader() as con:
        conditions.append(_scope_filter(con, scope, "f.customer_key"))
        sql = f"""
            SELECT {select + ", " if select else ""}
                   coalesce(sum(f.amount), 0) AS revenue,
                   count(DISTINCT f.order_id) AS orders,
                   count(DISTINCT f.customer_key) AS customers
            FROM {source} f
            LEFT JOIN customers c USING (customer_key)
            LEFT JOIN customer_scores s USING (customer_key)
            WHERE {" AND ".join(conditions)}
            {"GROUP BY " + group if dims else ""}
            {"ORDER BY " + group if dims else ""}
            LIMIT {CUBE_MAX_ROWS + 1}
        """  # noqa: S608 - dimensions come from a fixed map
        frame = con.execute(sql, params).df()
        snapshot = _snapshot(con)
    truncated = len(frame) > CUBE_MAX_ROWS
    frame = frame.head(CUBE_MAX_ROWS)
    owners: dict[int, str] = {}
    if "owner" in dims:
        ids = [int(v) for v in frame["owner"].dropna().unique()]
        owners = {u.pk: (u.get_full_name() or u.username) for u in User.objects.filter(pk__in=ids)}
    rows = []
    for record in frame.to_dict(orient="records"):
        row: dict[str, Any] = {}
        for d in dims:
            value = record[d]
            if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
                value = None
            elif d == "month":
                value = pd.Timestamp(value).strftime("%Y-%m")
            elif d == "owner":
                value = int(value)
                row["owner_name"] = owners.get(value)
            row[d] = value
        row["revenue"] = round(float(record["revenue"]), 2)
        row["orders"] = int(record["orders"])
        row["customers"] = int(record["customers"])
        rows.append(row)
    return jsonable(
        {
            **snapshot,
            "whole_org": scope.whole_org,
            "by": dims,
            "rows": rows,
            "truncated": truncated,
        }
    )


# ----- single customer, fits, runs ------------------------------------------------------------


def customer_scores_get(
    *, user: User, account_id: int | None = None, contact_id: int | None = None
):
    """(customer, scores or None) for an account or a contact the user can see; 404 else."""
    from rapport.accounts.selectors import account_get_for_user, contact_get_for_user

    if account_id is not None:
        customer = account_get_for_user(pk=account_id, user=user)
        score = CustomerScore.objects.filter(account=customer).first()
    else:
        customer = contact_get_for_user(pk=contact_id, user=user)
        score = CustomerScore.objects.filter(contact=customer).first()
    return customer, score


def model_fits_latest() -> tuple[WarehouseRun | None, list[ModelFit]]:
    run = last_succeeded_run()
    if run is None:
        return None, []
    return run, list(ModelFit.objects.filter(run=run).order_by("id"))


def run_get_for_user(*, pk: int, user: User) -> WarehouseRun:
    """A refresh run, for the managers and administrators who may start them."""
    if not can_refresh(user):
        raise PermissionDenied("Only managers and administrators see refresh runs")
    run = WarehouseRun.objects.filter(pk=pk).first()
    if run is None:
        raise RecordNotFound("run")
    return run


def runs_recent(*, user: User, limit: int = 20) -> list[WarehouseRun]:
    if not can_refresh(user):
        raise PermissionDenied("Only managers and administrators see refresh runs")
    return list(WarehouseRun.objects.order_by("-created_at", "-id")[:limit])


# ----- bundles and up-sell ------------------------------------------------------------------


def _product_refs(ids) -> dict[int, dict[str, Any]]:
    from rapport.sales.models import Product

    return {
        p.pk: {"id": p.pk, "name": p.name, "sku": p.sku, "category": p.category}
        for p in Product.objects.filter(pk__in={int(i) for i in ids})
    }


def bundles_list(*, limit: int = 20) -> dict[str, Any]:
    """Frequently bought-together bundles of the last refresh, best lift first. Product-level
    patterns with no customer data (like the model fits): the same for every user."""
    with warehouse_reader() as con:
        snapshot = _snapshot(con)
        try:
            rows = con.execute(
                "SELECT rank, product_ids, orders, support, confidence, lift FROM bundles "
                "ORDER BY rank LIMIT $limit",
                {"limit": limit},
            ).fetchall()
        except duckdb.CatalogException:  # a snapshot from before bundles existed
            rows = []
    products = _product_refs(i for row in rows for i in row[1])
    fit = _latest_fit("bundles")
    bundles = []
    for rank, ids, orders, support, confidence, lift in rows:
        bundles.append(
            {
                "rank": int(rank),
                "products": [
                    products.get(int(i), {"id": int(i), "name": f"#{i}", "sku": "", "category": ""})
                    for i in ids
                ],
                "orders": int(orders),
                "support": float(support),
                "confidence": float(confidence) if confidence is not None else None,
                "lift": float(lift),
            }
        )
    return jsonable(
        {
            **snapshot,
            "whole_org": True,
            "bundles": bundles,
            "report": fit.report if fit else {},
        }
    )


def upsell_for_customer(
    *, user: User, account_id: int | None = None, contact_id: int | None = None
) -> dict[str, Any]:
    """Up-sell products of one customer the user can see (404 otherwise): pricier products of
    categories the customer buys, bought by customers with similar histories."""
    customer, score = customer_scores_get(user=user, account_id=account_id, contact_id=contact_id)
    key = customer.pk if account_id is not None else -customer.pk
    with warehouse_reader() as con:
        snapshot = _snapshot(con)
        try:
            rows = con.execute(
                "SELECT rank, product_id, category, price, reference_price, score FROM upsell "
                "WHERE customer_key = $key ORDER BY rank",
                {"key": key},
            ).fetchall()
        except duckdb.CatalogException:
            rows = []
    products = _product_refs(row[1] for row in rows)
    fit = _latest_fit("upsell")
    items = []
    for rank, product_id, category, price, reference, value in rows:
        ref = products.get(int(product_id))
        if ref is None:  # the product was deleted since the refresh
            continue
        items.append(
            {
                "rank": int(rank),
                "product": ref,
                "category": category,
                "price": float(price),
                "reference_price": float(reference),
                "score": float(value),
            }
        )
    return jsonable(
        {
            **snapshot,
            "account_id": customer.pk if account_id is not None else None,
            "contact_id": customer.pk if account_id is None else None,
            "scored": score is not None,
            "items": items,
            "quality": fit.report if fit else {},
        }
    )


def upsell_products_of(scores) -> dict[int, list]:
    """{score id: [Product, ...]} of the up-sell ids of these score rows (one query)."""
    from rapport.sales.models import Product

    ids = {int(p) for s in scores for p in s.upsell_products or []}
    by_id = {p.pk: p for p in Product.objects.filter(pk__in=ids)} if ids else {}
    return {
        s.pk: [by_id[int(p)] for p in s.upsell_products or [] if int(p) in by_id] for s in scores
    }


# ----- sBG retention projection ---------------------------------------------------------------


def retention_projection(*, user: User, periods: int = 12) -> dict[str, Any]:
    """Contractual retention of accounts by the month of their first purchase: an account
    stays a customer until it is closed (Account.closed_at). The shifted-beta-geometric model
    (numeric.cohorts.SbgModel) is fitted by maximum likelihood to the monthly survivor counts
    of every cohort (a cohort's last observed count is right-censored) and projects each
    cohort `periods` months ahead. An account closed in the month it started counts as lost
    after one month. Visible-customer scoping as for the other aggregates."""
    from rapport.analytics.numeric.cohorts import SbgModel, survival_counts

    scope = analytics_scope(user)
    with warehouse_reader() as con:
        where = _scope_filter(con, scope, "c.customer_key")
        snapshot = _snapshot(con)
        frame = con.execute(
            f"""
            SELECT c.customer_key, c.first_purchase, a.closed_at
            FROM customers c JOIN accounts a ON a.account_id = c.customer_key
            WHERE c.customer_key > 0 AND c.first_purchase IS NOT NULL AND NOT a.deleted
              AND {where}
            """  # noqa: S608 - the condition is built from constants
        ).df()
    as_of = pd.Timestamp(snapshot["as_of"])
    out: dict[str, Any] = {
        **snapshot,
        "whole_org": scope.whole_org,
        "periods": periods,
        "period": "month",
        "accounts": len(frame),
        "closed_accounts": int(frame["closed_at"].notna().sum()) if len(frame) else 0,
        "fitted": False,
        "note": "",
        "params": {},
        "log_likelihood": None,
        "curve": [],
        "cohorts": [],
    }
    if frame.empty:
        out["note"] = "No account has bought yet."
        return jsonable(out)
    starts = pd.to_datetime(frame["first_purchase"])
    ends = pd.to_datetime(frame["closed_at"])
    start_month = starts.dt.to_period("M")
    end_month = ends.dt.to_period("M")
    # Closed in the start month: lost after one month (sBG churn happens at t >= 1).
    same = end_month.notna() & (end_month <= start_month)
    ends = ends.mask(same, (start_month + 1).dt.to_timestamp())
    ends = ends.mask(ends > as_of, pd.NaT)
    survival = survival_counts(starts, ends, as_of=as_of, period="M")
    try:
        model = SbgModel.fit_cohorts(survival)
    except ValueError as exc:
        out["note"] = (
            "No closed account yet: close accounts that ended to project retention."
            if out["closed_accounts"] == 0
            else str(exc)
        )
        return jsonable(out)
    out.update(
        fitted=True,
        params=model.params,
        log_likelihood=model.log_likelihood,
        converged=model.converged,
    )
    if model.alpha + model.beta > 1e3:
        out["note"] = (
            "Every account seems to have the same monthly chance of closing "
            f"({model.alpha / (model.alpha + model.beta):.1%}): α and β ran off together "
            "(the likelihood is flat along α/(α+β) fixed), so retention decays geometrically."
        )
    values = survival.to_numpy(dtype=np.float64)
    max_age = values.shape[1] - 1
    curve = []
    for age in range(max_age + periods + 1):
        actual = None
        cohorts_observed = 0
        if age <= max_age:
            seen = ~np.isnan(values[:, age])
            cohorts_observed = int(seen.sum())
            base = values[seen, 0].sum()
            if cohorts_observed and base > 0:
                actual = float(values[seen, age].sum() / base)
        curve.append(
            {
                "age": age,
                "actual": actual,
                "projected": float(model.survival(age)),
                "cohorts_observed": cohorts_observed,
            }
        )
    out["curve"] = curve
    cohorts = []
    for label, row in zip(survival.index, values, strict=True):
        observed = row[~np.isnan(row)]
        age = len(observed) - 1
        alive = float(observed[-1])
        size = float(observed[0])
        ratio = float(model.survival(age + periods) / model.survival(age))
        cohorts.append(
            {
                "cohort": str(label),
                "accounts": int(size),
                "age": age,
                "alive": int(alive),
                "retention": alive / size if size else None,
                "projected_alive": alive * ratio,
                "projected_retention": alive * ratio / size if size else None,
            }
        )
    out["cohorts"] = cohorts[::-1]
    out["backtest"] = _sbg_backtest(starts, ends, survival, as_of=as_of, months=periods)
    return jsonable(out)


def _sbg_backtest(starts, ends, survival: pd.DataFrame, *, as_of, months: int):
    """Fit sBG on what was known `months` months ago, project the accounts alive then to
    today, and compare with how many are alive today (None when there is too little
    history: no cohort before the cutoff, or no account closed before it)."""
    from rapport.analytics.numeric.cohorts import SbgModel, survival_counts

    cut = as_of.to_period("M") - months
    known = (starts.dt.to_period("M") <= cut).to_numpy()
    if not known.any():
        return None
    past = survival_counts(starts[known], ends[known], as_of=cut.to_timestamp(), period="M")
    try:
        model = SbgModel.fit_cohorts(past)
    except ValueError:
        return None
    projected = actual = alive_then = 0.0
    for cohort, row in zip(past.index, past.to_numpy(dtype=np.float64), strict=True):
        observed = row[~np.isnan(row)]
        age, alive = len(observed) - 1, float(observed[-1])
        later = survival.loc[cohort].to_numpy(dtype=np.float64)[age + months]
        alive_then += alive
        projected += alive * float(model.survival(age + months) / model.survival(age))
        actual += float(later)
    return {
        "fitted_until": str(cut),
        "months": months,
        "params": model.params,
        "accounts_alive_then": int(alive_then),
        "projected_alive_now": projected,
        "actual_alive_now": int(actual),
        "relative_error": (projected - actual) / actual if actual else None,
    }

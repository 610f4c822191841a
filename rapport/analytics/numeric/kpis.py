"""Customer-base KPIs over a reporting window, from a transactions table.

Definitions (stated once, because every CRM defines these slightly differently):
- an order is a distinct ``order_col`` value, or a transaction row when there is none;
- repeat-customer rate: share of the window's customers with two or more orders in it;
- churn rate: share of customers active in the previous window of equal length who made no
  purchase in this window;
- average order value (AOV): revenue / orders; purchase frequency: orders / customers;
- top-20% revenue share: share of the window's revenue from its top fifth of customers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class KpiSummary:
    """KPIs of one window [start, end] (inclusive days)."""

    start: pd.Timestamp
    end: pd.Timestamp
    customers: int
    orders: int
    revenue: float
    repeat_customer_rate: float
    churn_rate: float
    average_order_value: float
    purchase_frequency: float
    top20_revenue_share: float

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def top_share(values: ArrayLike, fraction: float = 0.2) -> float:
    """Share of the total held by the top ``fraction`` of entries (at least one entry)."""
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = v.sum()
    if v.size == 0 or total <= 0:
        return float("nan")
    n_top = max(1, math.ceil(fraction * v.size))
    return float(v[:n_top].sum() / total)


def gini(values: ArrayLike) -> float:
    """Gini coefficient of non-negative values: 0 = all equal, -> 1 = one holds everything."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size == 0 or v.sum() <= 0:
        return float("nan")
    if (v < 0).any():
        raise ValueError("gini needs non-negative values")
    ranks = np.arange(1, v.size + 1)
    return float((2 * ranks - v.size - 1) @ v / (v.size * v.sum()))


def clv_distribution(clv: ArrayLike) -> dict[str, float]:
    """Summary of a CLV distribution: count, total, mean, percentiles p10..p99, Gini and the
    top-20% share of total value."""
    v = np.asarray(clv, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"count": 0.0}
    percentiles = np.percentile(v, [10, 25, 50, 75, 90, 99])
    return {
        "count": float(v.size),
        "total": float(v.sum()),
        "mean": float(v.mean()),
        **{f"p{p}": float(x) for p, x in zip((10, 25, 50, 75, 90, 99), percentiles, strict=True)},
        "gini": gini(np.maximum(v, 0.0)),
        "top20_share": top_share(v),
    }


def kpi_summary(
    transactions: pd.DataFrame,
    *,
    start: object,
    end: object,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    order_col: str | None = None,
) -> KpiSummary:
    """KPIs for the window [start, end] (whole days); the churn rate also reads the preceding
    window of the same length."""
    start_ts = pd.Timestamp(start).normalize()
    end_ts = pd.Timestamp(end).normalize()
    if end_ts < start_ts:
        raise ValueError("end must not precede start")
    days = pd.to_datetime(transactions[date_col]).dt.normalize()
    if getattr(days.dt, "tz", None) is not None:
        start_ts, end_ts = (
            ts.tz_localize(days.dt.tz) if ts.tzinfo is None else ts for ts in (start_ts, end_ts)
        )
    length = end_ts - start_ts + pd.Timedelta(days=1)
    in_window = (days >= start_ts) & (days <= end_ts)
    in_previous = (days >= start_ts - length) & (days < start_ts)
    window = transactions[in_window]
    customers = window[customer_col]
    order_key = (
        window[order_col]
        if order_col is not None
        else pd.Series(np.arange(len(window)), index=window.index)
    )
    orders_per_customer = (
        pd.DataFrame({"c": customers.to_numpy(), "o": order_key.to_numpy()})
        .drop_duplicates()
        .groupby("c")
        .size()
    )
    revenue_per_customer = window.groupby(customer_col)[amount_col].sum()
    n_customers = int(orders_per_customer.shape[0])
    n_orders = int(orders_per_customer.sum())
    revenue = float(revenue_per_customer.sum())
    previous = set(transactions.loc[in_previous, customer_col])
    current = set(customers)
    churn_rate = len(previous - current) / len(previous) if previous else float("nan")
    nan = float("nan")
    return KpiSummary(
        start=start_ts,
        end=end_ts,
        customers=n_customers,
        orders=n_orders,
        revenue=revenue,
        repeat_customer_rate=float((orders_per_customer >= 2).mean()) if n_customers else nan,
        churn_rate=float(churn_rate),
        average_order_value=revenue / n_orders if n_orders else nan,
        purchase_frequency=n_orders / n_customers if n_customers else nan,
        top20_revenue_share=top_share(revenue_per_customer.to_numpy()),
    )

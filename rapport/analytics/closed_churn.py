"""Supervised churn for accounts with a known end (closed accounts), from a warehouse snapshot.

Each account is described at a cutoff: its closing day if it is closed, else the snapshot
day. Features are what the account looked like at that cutoff (RFM, tenure, orders and
revenue in the 90 days before, activities and interactions overall and in the 90 days
before), so a closed account is compared with open ones "as it looked when it left", and an
open account is scored on how it looks today. The classifier (``numeric.churn``, logistic
regression on standardised features) is trained once enough accounts of both kinds exist; its
holdout AUC is reported beside a recency-only baseline on the same split, and its probability
becomes the churn risk of open accounts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from rapport.analytics.numeric.churn import ChurnModel, train_churn_model

WINDOW_DAYS = 90
FEATURES = (
    "recency_days",
    "frequency",
    "log_revenue",
    "tenure_days",
    "orders_90d",
    "log_revenue_90d",
    "activities",
    "activities_90d",
    "interactions",
    "interactions_90d",
)

_FEATURES_SQL = f"""
WITH cut AS (
    SELECT a.account_id AS customer_key,
           (a.closed_at IS NOT NULL AND a.closed_at <= $as_of) AS closed,
           CASE WHEN a.closed_at IS NOT NULL AND a.closed_at <= $as_of
                THEN a.closed_at ELSE $as_of END AS cutoff
    FROM accounts a
    WHERE NOT a.deleted
),
tx AS (
    SELECT c.customer_key, c.closed, c.cutoff,
           min(t.day) AS first_day, max(t.day) AS last_day,
           count(DISTINCT t.day) AS frequency,
           coalesce(sum(t.amount), 0) AS revenue,
           count(*) FILTER (WHERE t.day > c.cutoff - {WINDOW_DAYS}) AS orders_90d,
           coalesce(sum(t.amount) FILTER (WHERE t.day > c.cutoff - {WINDOW_DAYS}), 0)
               AS revenue_90d
    FROM cut c JOIN transactions t ON t.customer_key = c.customer_key AND t.day <= c.cutoff
    GROUP BY 1, 2, 3
),
act AS (
    SELECT c.customer_key,
           sum(a.n) AS activities,
           sum(a.n) FILTER (WHERE a.day > c.cutoff - {WINDOW_DAYS}) AS activities_90d,
           sum(a.n) FILTER (WHERE a.kind = 'interaction') AS interactions,
           sum(a.n) FILTER (WHERE a.kind = 'interaction' AND a.day > c.cutoff - {WINDOW_DAYS})
               AS interactions_90d
    FROM cut c
    JOIN activity_days a
      ON coalesce(a.account_id, a.opportunity_account_id) = c.customer_key
     AND a.day <= c.cutoff
    GROUP BY 1
)
SELECT tx.customer_key, tx.closed, tx.cutoff,
       date_diff('day', tx.last_day, tx.cutoff)::DOUBLE AS recency_days,
       tx.frequency::DOUBLE AS frequency,
       ln(1 + greatest(tx.revenue, 0)) AS log_revenue,
       date_diff('day', tx.first_day, tx.cutoff)::DOUBLE AS tenure_days,
       tx.orders_90d::DOUBLE AS orders_90d,
       ln(1 + greatest(tx.revenue_90d, 0)) AS log_revenue_90d,
       coalesce(act.activities, 0)::DOUBLE AS activities,
       coalesce(act.activities_90d, 0)::DOUBLE AS activities_90d,
       coalesce(act.interactions, 0)::DOUBLE AS interactions,
       coalesce(act.interactions_90d, 0)::DOUBLE AS interactions_90d
FROM tx LEFT JOIN act USING (customer_key)
ORDER BY tx.customer_key
"""  # noqa: S608 - WINDOW_DAYS is a constant


def churn_features(con: duckdb.DuckDBPyConnection, *, as_of: datetime.date) -> pd.DataFrame:
    """One row per (not deleted) account with a purchase before its cutoff: `closed`, the
    `cutoff` day and the FEATURES, indexed by customer_key (= account id)."""
    frame = con.execute(_FEATURES_SQL, {"as_of": as_of}).df().set_index("customer_key")
    frame["closed"] = frame["closed"].astype(bool)
    return frame


@dataclass
class ClosedChurnResult:
    """What the refresh keeps: the probability for open accounts (empty when no model), the
    closed accounts' keys, the report and why no model was trained (if so)."""

    probability: pd.Series
    closed: pd.Index
    report: dict
    weights: dict
    model: ChurnModel | None = None
    error: str = ""


def closed_churn(
    con: duckdb.DuckDBPyConnection, *, as_of: datetime.date, min_per_class: int
) -> ClosedChurnResult:
    """Train the classifier when at least `min_per_class` closed and open accounts with
    purchases exist; score the open ones."""
    frame = churn_features(con, as_of=as_of)
    closed_keys = frame.index[frame["closed"]]
    n_closed = int(frame["closed"].sum())
    n_open = int(len(frame) - n_closed)
    report = {
        "closed_accounts": n_closed,
        "open_accounts": n_open,
        "min_per_class": int(min_per_class),
        "features": list(FEATURES),
        "window_days": WINDOW_DAYS,
    }
    empty = pd.Series(dtype=np.float64, name="churn_probability")
    if n_closed < min_per_class or n_open < min_per_class:
        return ClosedChurnResult(
            probability=empty,
            closed=closed_keys,
            report=report,
            weights={},
            error=(
                f"needs at least {min_per_class} closed and {min_per_class} open accounts "
                f"with purchases; has {n_closed} closed and {n_open} open"
            ),
        )
    try:
        model = train_churn_model(
            frame[list(FEATURES)],
            frame["closed"].astype(np.int64).to_numpy(),
            method="logistic",
            recency_col="recency_days",
        )
    except ValueError as exc:
        return ClosedChurnResult(
            probability=empty, closed=closed_keys, report=report, weights={}, error=str(exc)
        )
    open_rows = frame.loc[~frame["closed"], list(FEATURES)]
    probability = model.predict_proba(open_rows)
    weights = model.feature_weights()
    report.update(model.as_dict())
    report["beats_baseline"] = bool(model.auc > model.baseline_auc)
    return ClosedChurnResult(
        probability=probability,
        closed=closed_keys,
        report=report,
        weights={} if weights is None else {str(k): float(v) for k, v in weights.items()},
        model=model,
    )

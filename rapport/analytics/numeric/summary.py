"""From a transactions table to the per-customer summary the CLV models consume.

Conventions (those of Fader, Hardie & Lee and of the CDNOW studies):
- transactions on the same calendar day are one purchase occasion (amounts summed);
- ``frequency`` (x) counts repeat occasions: occasions after the first, so a one-time buyer has 0;
- ``recency`` (t_x) is the time from the first to the last occasion, ``T`` the time from the first
  occasion to the end of the calibration period, both in units of ``time_unit_days`` days;
- ``monetary`` is the mean value of the repeat occasions (the first is excluded because it often
  differs, e.g. a sign-up bundle), 0 for one-time buyers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary")
HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_holdout", "duration_holdout")


def _as_timestamp(value: object, like: pd.Series) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    tz = getattr(like.dt, "tz", None)
    if tz is not None and ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts.normalize()


def purchase_occasions(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> pd.DataFrame:
    """One row per (customer, calendar day) with the day's summed amount, sorted by both.

    Columns: ``customer_id``, ``day``, ``amount`` (1.0 per occasion when ``amount_col`` is None).
    """
    missing = {customer_col, date_col} - set(transactions.columns)
    if amount_col is not None and amount_col not in transactions.columns:
        missing.add(amount_col)
    if missing:
        raise ValueError(f"transactions lack columns: {sorted(missing)}")
    days = pd.to_datetime(transactions[date_col]).dt.normalize()
    if days.isna().any():
        raise ValueError("transactions contain missing or unparseable dates")
    amounts = (
        pd.to_numeric(transactions[amount_col], errors="raise").astype(np.float64)
        if amount_col is not None
        else pd.Series(1.0, index=transactions.index)
    )
    frame = pd.DataFrame(
        {"customer_id": transactions[customer_col].to_numpy(), "day": days, "amount": amounts}
    )
    occasions = frame.groupby(["customer_id", "day"], sort=True, as_index=False)["amount"].sum()
    return occasions.reset_index(drop=True)


def customer_summary(
    transactions: pd.DataFrame,
    *,
    calibration_end: object,
    observation_end: object | None = None,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
    time_unit_days: float = 7.0,
) -> pd.DataFrame:
    """Per-customer (frequency, recency, T, monetary), optionally with a holdout period.

    Customers are those whose first purchase falls on or before ``calibration_end``; the
    calibration period runs to the end of that day. When ``observation_end`` is given, the
    frame also has ``frequency_holdout`` (occasions in (calibration_end, observation_end]),
    ``monetary_holdout`` (their mean value, 0 if none) and ``duration_holdout`` (the holdout
    length in time units). Indexed by customer id, sorted.
    """
    if time_unit_days <= 0:
        raise ValueError("time_unit_days must be positive")
    occ = purchase_occasions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=amount_col
    )
    cal_end = _as_timestamp(calibration_end, occ["day"])
    unit = pd.Timedelta(days=time_unit_days)

    cal = occ[occ["day"] <= cal_end]
    grouped = cal.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    count = grouped["day"].size()
    total = grouped["amount"].sum()
    first_amount = cal.loc[grouped["day"].idxmin(), ["customer_id", "amount"]].set_index(
        "customer_id"
    )["amount"]
    repeats = count - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(
            repeats > 0, (total - first_amount) / repeats.where(repeats > 0, 1), 0.0
        )
    summary = pd.DataFrame(
        {
            "frequency": repeats.astype(np.int64),
            "recency": (last - first) / unit,
            "T": (cal_end - first) / unit,
            "monetary": monetary,
        },
        index=first.index,
    )
    summary.index.name = "customer_id"

    if observation_end is not None:
        obs_end = _as_timestamp(observation_end, occ["day"])
        if obs_end < cal_end:
            raise ValueError("observation_end must not precede calibration_end")
        hold = occ[(occ["day"] > cal_end) & (occ["day"] <= obs_end)]
        hold = hold[hold["customer_id"].isin(summary.index)]
        hold_grouped = hold.groupby("customer_id")
        summary["frequency_holdout"] = (
            hold_grouped["day"].size().reindex(summary.index, fill_value=0).astype(np.int64)
        )
        summary["monetary_holdout"] = (
            hold_grouped["amount"].mean().reindex(summary.index, fill_value=0.0)
        )
        summary["duration_holdout"] = (obs_end - cal_end) / unit
    return summary

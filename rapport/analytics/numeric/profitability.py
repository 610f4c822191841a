"""Customer profitability: revenue minus cost to serve minus attributed marketing cost.

Cost to serve is activity counts (calls, meetings, tickets, ...) times configurable cost rates;
marketing cost is each campaign's spend split over the customers it touched. Rates are inputs,
not constants, because they are business configuration.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def cost_to_serve(activity_counts: pd.DataFrame, cost_rates: Mapping[str, float]) -> pd.Series:
    """Per customer (index): sum over activity kinds (columns) of count x rate.

    Raises ``ValueError`` for an activity kind without a rate, so a new kind of activity cannot
    silently cost nothing.
    """
    missing = set(activity_counts.columns) - set(cost_rates)
    if missing:
        raise ValueError(f"no cost rate for activity kinds: {sorted(missing)}")
    rates = pd.Series({kind: float(cost_rates[kind]) for kind in activity_counts.columns})
    costs = activity_counts.fillna(0).astype(np.float64) @ rates
    return costs.rename("cost_to_serve")


def attribute_marketing_cost(
    touches: pd.DataFrame,
    campaign_costs: Mapping[object, float] | pd.Series,
    *,
    customer_col: str = "customer_id",
    campaign_col: str = "campaign_id",
    weight_col: str | None = None,
) -> pd.Series:
    """Per customer: their share of the cost of every campaign that touched them.

    A campaign's cost is split in proportion to ``weight_col`` (equal shares by default) over
    its touches; campaigns without touches are not attributed (their cost is overhead).
    Guarantees the result sums to the cost of the campaigns that have touches.
    """
    costs = pd.Series(campaign_costs, dtype=np.float64)
    frame = touches[[customer_col, campaign_col]].copy()
    frame["weight"] = 1.0 if weight_col is None else touches[weight_col].astype(np.float64)
    if (frame["weight"] < 0).any():
        raise ValueError("touch weights must be non-negative")
    frame = frame[frame[campaign_col].isin(costs.index)]
    totals = frame.groupby(campaign_col)["weight"].transform("sum")
    share = np.where(totals > 0, frame["weight"] / totals.where(totals > 0, 1.0), 0.0)
    frame["cost"] = share * frame[campaign_col].map(costs).to_numpy()
    return frame.groupby(customer_col)["cost"].sum().rename("marketing_cost")


def customer_profitability(
    revenue: pd.Series,
    *,
    activity_counts: pd.DataFrame | None = None,
    cost_rates: Mapping[str, float] | None = None,
    marketing_cost: pd.Series | None = None,
    cost_of_goods: pd.Series | None = None,
) -> pd.DataFrame:
    """Per customer: revenue, cost_of_goods, cost_to_serve, marketing_cost, profit and margin
    (profit / revenue; NaN where revenue is 0). Customers appearing only in a cost input are
    included with zero revenue: serving a non-buyer is a loss worth seeing."""
    parts = {"revenue": revenue.astype(np.float64)}
    if cost_of_goods is not None:
        parts["cost_of_goods"] = cost_of_goods.astype(np.float64)
    if activity_counts is not None:
        if cost_rates is None:
            raise ValueError("activity_counts need cost_rates")
        parts["cost_to_serve"] = cost_to_serve(activity_counts, cost_rates)
    if marketing_cost is not None:
        parts["marketing_cost"] = marketing_cost.astype(np.float64)
    frame = pd.DataFrame(parts).fillna(0.0)
    for column in ("cost_of_goods", "cost_to_serve", "marketing_cost"):
        if column not in frame:
            frame[column] = 0.0
    frame["profit"] = (
        frame["revenue"] - frame["cost_of_goods"] - frame["cost_to_serve"] - frame["marketing_cost"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["margin"] = np.where(
            frame["revenue"] != 0, frame["profit"] / frame["revenue"], np.nan
        )
    frame.index.name = revenue.index.name or "customer_id"
    return frame[
        ["revenue", "cost_of_goods", "cost_to_serve", "marketing_cost", "profit", "margin"]
    ]

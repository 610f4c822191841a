import pandas as pd
import pytest

from rapport.analytics.numeric.profitability import (
    attribute_marketing_cost,
    cost_to_serve,
    customer_profitability,
)


def test_profit_is_revenue_minus_cost_to_serve_minus_marketing():
    revenue = pd.Series({"a": 1000.0, "b": 200.0}, name="revenue")
    activities = pd.DataFrame({"calls": [10, 2, 1], "tickets": [1, 5, 0]}, index=["a", "b", "c"])
    rates = {"calls": 5.0, "tickets": 20.0}
    touches = pd.DataFrame(
        {"customer_id": ["a", "b", "b", "c"], "campaign_id": ["spring", "spring", "vip", "spring"]}
    )
    marketing = attribute_marketing_cost(touches, {"spring": 90.0, "vip": 40.0, "unused": 999.0})
    assert marketing.sum() == pytest.approx(130.0)
    frame = customer_profitability(
        revenue, activity_counts=activities, cost_rates=rates, marketing_cost=marketing
    )
    assert frame.loc["a", "cost_to_serve"] == 70.0
    assert frame.loc["a", "profit"] == pytest.approx(1000 - 70 - 30)
    assert frame.loc["b", "profit"] == pytest.approx(200 - 110 - 70)
    # c never bought: a visible loss, margin undefined.
    assert frame.loc["c", "profit"] == pytest.approx(-5 - 30)
    assert pd.isna(frame.loc["c", "margin"])


def test_weighted_attribution_and_missing_rates():
    touches = pd.DataFrame(
        {"customer_id": ["a", "b"], "campaign_id": ["x", "x"], "weight": [3.0, 1.0]}
    )
    shares = attribute_marketing_cost(touches, {"x": 100.0}, weight_col="weight")
    assert shares["a"] == pytest.approx(75.0)
    with pytest.raises(ValueError):
        cost_to_serve(pd.DataFrame({"visits": [1]}), {"calls": 1.0})

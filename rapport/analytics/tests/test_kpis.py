import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.kpis import clv_distribution, gini, kpi_summary, top_share


def test_kpis_on_a_hand_checked_window():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d", "e", "a"],
            "order_id": [1, 1, 2, 3, 4, 5, 6],
            "date": pd.to_datetime(
                [
                    "2024-02-01",
                    "2024-02-01",
                    "2024-02-10",
                    "2024-02-20",
                    "2024-01-15",
                    "2024-01-20",
                    "2024-02-25",
                ]
            ),
            "amount": [10.0, 5.0, 20.0, 30.0, 99.0, 99.0, 35.0],
        }
    )
    k = kpi_summary(tx, start="2024-02-01", end="2024-02-29", order_col="order_id")
    assert k.customers == 3
    assert k.orders == 4
    assert k.revenue == 100.0
    assert k.repeat_customer_rate == pytest.approx(1 / 3)
    assert k.average_order_value == pytest.approx(25.0)
    assert k.purchase_frequency == pytest.approx(4 / 3)
    # d and e bought in the previous 29 days and not in February: both churned.
    assert k.churn_rate == 1.0
    # Top 20% of 3 customers is 1 customer: a with 50 of 100.
    assert k.top20_revenue_share == pytest.approx(0.5)
    assert k.as_dict()["start"].startswith("2024-02-01")


def test_top_share_and_gini_extremes():
    assert top_share([1, 1, 1, 1, 1]) == pytest.approx(0.2)
    assert top_share([100, 0, 0, 0, 0]) == 1.0
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)


def test_clv_distribution_summary():
    rng = np.random.default_rng(0)
    clv = rng.lognormal(3, 1.2, 10_000)
    d = clv_distribution(np.append(clv, np.nan))
    assert d["count"] == 10_000
    assert d["p10"] < d["p50"] < d["p90"] < d["p99"]
    assert 0.4 < d["top20_share"] < 0.8
    assert 0 < d["gini"] < 1

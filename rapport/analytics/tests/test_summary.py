import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.histories import compress_histories, validate_histories
from rapport.analytics.numeric.summary import customer_summary


def test_cdnow_summary_matches_published_summary(cdnow_summary, cdnow_published_summary):
    ours = cdnow_summary.loc[cdnow_published_summary.index]
    assert len(cdnow_summary) == 2357
    assert (ours["frequency"].to_numpy() == cdnow_published_summary["frequency"].to_numpy()).all()
    # The published file rounds to two decimals.
    np.testing.assert_allclose(ours["recency"], cdnow_published_summary["recency"], atol=0.006)
    np.testing.assert_allclose(ours["T"], cdnow_published_summary["T"], atol=0.006)


def test_cdnow_summary_has_946_repeat_buyers_and_39_week_holdout(cdnow_summary):
    assert (cdnow_summary["frequency"] > 0).sum() == 946
    assert (cdnow_summary["duration_holdout"] == 39.0).all()
    first = cdnow_summary.loc[1]
    assert first["frequency"] == 2
    assert first["monetary"] == pytest.approx((29.73 + 14.96) / 2)
    assert first["frequency_holdout"] == 1


def test_same_day_transactions_are_one_occasion_and_first_purchase_is_not_monetary():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "date": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-08 00:00",
                    "2024-01-15 00:00",
                    "2024-01-10 00:00",
                ]
            ),
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0],
        }
    )
    s = customer_summary(tx, calibration_end="2024-01-15", time_unit_days=1.0)
    assert s.loc["a", "frequency"] == 2
    assert s.loc["a", "recency"] == 14.0
    assert s.loc["a", "T"] == 14.0
    assert s.loc["a", "monetary"] == 30.0
    assert s.loc["b", "frequency"] == 0
    assert s.loc["b", "monetary"] == 0.0
    assert s.loc["b", "T"] == 5.0


def test_customers_first_seen_in_holdout_are_excluded():
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-15"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    s = customer_summary(tx, calibration_end="2024-01-31", observation_end="2024-03-31")
    assert list(s.index) == [1]
    assert s.loc[1, "frequency_holdout"] == 1
    assert s.loc[1, "monetary_holdout"] == 2.0


def test_compression_keeps_weights_and_maps_back():
    x = np.array([0, 1, 1, 0, 2])
    tx = np.array([0.0, 3.0, 3.0, 0.0, 4.0])
    big_t = np.array([5.0, 5.0, 5.0, 5.0, 6.0])
    h = compress_histories(x, tx, big_t)
    assert h.n_distinct == 3
    assert h.weights.sum() == 5
    np.testing.assert_array_equal(h.expand(h.frequency), x)
    np.testing.assert_array_equal(h.expand(h.T), big_t)


@pytest.mark.parametrize(
    ("x", "tx", "big_t"),
    [(-1, 0, 1), (1.5, 1, 2), (1, 3, 2), (1, np.nan, 2), (1, 0, -1)],
)
def test_invalid_histories_are_rejected(x, tx, big_t):
    with pytest.raises(ValueError):
        validate_histories([x], [tx], [big_t])

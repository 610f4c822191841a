import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.rfm import (
    SEGMENT_RULES,
    assign_segments,
    rfm_from_measures,
    rfm_segment,
    score,
    segment_grid,
    segment_rules,
    segment_summary,
)

REQUIRED = {
    "champions",
    "loyal",
    "potential loyalists",
    "at risk",
    "can't lose them",
    "hibernating",
    "lost",
    "new",
}


def test_rules_name_the_eight_segments_and_cover_every_cell():
    rules = segment_rules()
    assert set(rules["segment"]) == REQUIRED
    assert list(rules["order"]) == list(range(1, len(SEGMENT_RULES) + 1))
    grid = segment_grid()
    assert grid.shape == (5, 5)
    assert grid.loc[5, 5] == "champions"
    assert grid.loc[1, 1] == "lost"
    assert grid.loc[1, 5] == "can't lose them"
    assert grid.loc[5, 1] == "new"
    assert set(grid.to_numpy().ravel()) == REQUIRED


def test_scores_follow_cut_points_and_ties_share_a_score():
    cuts = np.array([1.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(
        score([1, 1, 2, 3, 4, 9], cuts, higher_is_better=True), [1, 1, 3, 4, 4, 5]
    )
    np.testing.assert_array_equal(
        score([0, 1, 2, 5], [1, 2, 3, 4], higher_is_better=False), [5, 5, 4, 1]
    )


def test_segments_from_transactions_with_visible_thresholds():
    rng = np.random.default_rng(0)
    n = 500
    rows = []
    for c in range(n):
        k = 1 + rng.poisson(2)
        for _ in range(k):
            rows.append(
                (
                    c,
                    pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 365))),
                    float(rng.gamma(2, 30)),
                )
            )
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    result = rfm_segment(tx, as_of="2024-12-31")
    table, thresholds = result.table, result.thresholds
    assert len(table) == n
    assert set(thresholds["measure"]) == {"recency_days", "frequency", "monetary"}
    assert {"q20", "q40", "q60", "q80"} <= set(thresholds.columns)
    assert table["r_score"].between(1, 5).all() and table["fm_score"].between(1, 5).all()
    # The freshest, most frequent, highest spender is a champion.
    best = table.sort_values(
        ["recency_days", "frequency", "monetary"], ascending=[True, False, False]
    ).index[0]
    assert table.loc[best, "r_score"] == 5
    summary = segment_summary(result)
    assert summary["customers"].sum() == n
    assert summary["share_of_value"].sum() == pytest.approx(1.0)
    # Re-scoring with frozen thresholds reproduces the scores.
    again = rfm_from_measures(
        table[["recency_days", "frequency", "monetary"]], thresholds=thresholds
    )
    assert (again.table["segment"] == table["segment"]).all()


def test_assign_segments_rejects_out_of_range_scores():
    with pytest.raises(ValueError):
        assign_segments(np.array([6]), np.array([1]))


def test_a_one_time_buyer_is_never_at_risk_which_means_bought_often():
    # Skewed data: most customers buy once. An old one-time buyer with a big order has
    # F 1 and M 5, FM 3, R 1: that cell is "at risk" ("bought often, not lately") for
    # repeat buyers only.
    rng = np.random.default_rng(7)
    n = 500
    measures = pd.DataFrame(
        {
            "recency_days": rng.integers(0, 700, n),
            "frequency": np.where(rng.random(n) < 0.7, 1, rng.integers(2, 12, n)),
            "monetary": rng.gamma(2.0, 100.0, n),
        }
    )
    table = rfm_from_measures(measures).table
    at_risk = table[table["segment"] == "at risk"]
    assert len(at_risk) > 0
    assert (at_risk["frequency"] > 1).all()
    one_time_old_big = table[
        (table["frequency"] == 1) & (table["r_score"] <= 2) & (table["fm_score"].between(3, 4))
    ]
    assert len(one_time_old_big) > 0
    assert set(one_time_old_big["segment"]) == {"hibernating"}
    assert segment_rules().set_index("segment").loc["at risk", "f_min"] == 2

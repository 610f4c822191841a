"""Up-sell hit rate on held-out last baskets (numeric core), with a planted answer."""

import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.recommend import upsell_candidates, upsell_hit_rate_at_k


def _world(groups=6, per_group=20):
    """Everyone owns the entry item E (price 10); group g's customers also buy their own
    accessory A_g, and their premium item P_g (price 100 + g): half of each group bought it
    earlier, the other half in their last basket. Many cheap popular items Q_i (category q)
    crowd the popularity baseline."""
    rows, order = [], 0
    for g in range(groups):
        for i in range(per_group):
            c = g * 1000 + i
            baskets = [["E", f"A{g}", "Q0"], [f"A{g}", "Q0"]]
            if i % 2:
                baskets.append([f"P{g}"])
            else:
                baskets = [baskets[0], [f"P{g}"], baskets[1]]
            for day, items in enumerate(baskets):
                order += 1
                rows += [
                    (c, order, item, pd.Timestamp("2025-01-01") + pd.Timedelta(days=day * 30))
                    for item in items
                ]
    for c in range(100_000, 100_012):  # a crowd buying pricier q items (popular, irrelevant)
        for day, items in enumerate([["Q0"], ["Q1", "Q2", "Q3"], ["E"]]):
            order += 1
            rows += [
                (c, order, item, pd.Timestamp("2025-01-01") + pd.Timedelta(days=day * 30))
                for item in items
            ]
    lines = pd.DataFrame(rows, columns=["customer_id", "order_id", "product_id", "date"])
    items = sorted(lines["product_id"].unique())
    price = {i: 10.0 for i in items}
    category = {
        i: "q" if i.startswith("Q") else ("a" if i.startswith("A") else "hw") for i in items
    }
    price.update({f"P{g}": 100.0 + g for g in range(groups)})
    price.update({f"Q{i}": 5.0 + i for i in range(4)})
    catalog = pd.DataFrame(
        {
            "product_id": items,
            "category": [category[i] for i in items],
            "price": [price[i] for i in items],
        }
    )
    return lines, catalog


def test_upsell_hit_rate_beats_popularity_on_planted_groups():
    lines, catalog = _world()
    report = upsell_hit_rate_at_k(lines, catalog, k=2)
    assert report.customers_evaluated == 6 * 10
    assert report.hit_rate == pytest.approx(1.0)
    assert report.popularity_hit_rate < 0.5


def test_upsell_hit_rate_samples_customers():
    lines, catalog = _world()
    report = upsell_hit_rate_at_k(lines, catalog, k=2, max_customers=30, seed=1)
    assert 0 < report.customers_evaluated <= 30


def test_upsell_candidates_for_some_customers_only():
    lines, catalog = _world()
    everyone = upsell_candidates(lines, catalog, k=3)
    some = upsell_candidates(lines, catalog, k=3, customers=pd.Index([2001, 4002, 99999]))
    assert set(some["customer_id"]) <= {2001, 4002}
    expected = everyone[everyone["customer_id"].isin([2001, 4002])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some.reset_index(drop=True), expected)
    assert np.isfinite(some["score"]).all()

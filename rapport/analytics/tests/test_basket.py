import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.basket import (
    association_rules,
    basket_matrix,
    bundles,
    co_occurrence,
    frequently_bought_together,
)
from rapport.analytics.numeric.recommend import (
    hit_rate_at_k,
    next_best_products,
    upsell_candidates,
)

TINY = pd.DataFrame(
    {
        "order_id": [1, 1, 2, 2, 2, 3, 4, 4],
        "product_id": ["bread", "butter", "bread", "butter", "jam", "jam", "bread", "milk"],
    }
)


def test_support_confidence_and_lift_on_a_hand_checked_example():
    co = co_occurrence(basket_matrix(TINY))
    rules = association_rules(co, min_support=0.0, min_lift=0.0).set_index(
        ["antecedent", "consequent"]
    )
    rule = rules.loc[("butter", "bread")]
    assert rule["count"] == 2
    assert rule["support"] == pytest.approx(2 / 4)
    assert rule["confidence"] == pytest.approx(1.0)
    assert rule["lift"] == pytest.approx(1.0 / (3 / 4))
    assert rules.loc[("bread", "butter"), "confidence"] == pytest.approx(2 / 3)
    assert ("bread", "bread") not in rules.index


def _themed_baskets(seed: int = 5) -> pd.DataFrame:
    """Customers each favour one of 12 themes of 10 items; other picks follow a Zipf-like
    global popularity, so popularity is a real but beatable baseline."""
    rng = np.random.default_rng(seed)
    n_items, n_themes = 120, 12
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.1
    popularity /= popularity.sum()
    rows, order = [], 0
    for customer in range(1500):
        theme = rng.integers(n_themes)
        theme_items = np.arange(theme * 10, theme * 10 + 10)
        for b in range(rng.integers(3, 7)):
            order += 1
            size = rng.integers(2, 5)
            from_theme = rng.random(size) < 0.6
            items = np.where(
                from_theme, rng.choice(theme_items, size), rng.choice(n_items, size, p=popularity)
            )
            for item in set(items.tolist()):
                rows.append(
                    (
                        customer,
                        order,
                        pd.Timestamp("2024-01-01") + pd.Timedelta(days=b),
                        f"p{item:03d}",
                    )
                )
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "date", "product_id"])


def test_co_occurrence_beats_popularity_on_held_out_last_baskets():
    lines = _themed_baskets()
    report = hit_rate_at_k(lines, k=5)
    assert report.customers_evaluated > 1000
    assert report.hit_rate > report.popularity_hit_rate + 0.15
    assert report.lift_over_popularity > 1.5


def test_next_best_products_exclude_owned_items_and_stay_in_theme():
    lines = _themed_baskets()
    recs = next_best_products(lines, k=5)
    owned = lines.groupby("customer_id")["product_id"].agg(set)
    assert (recs.groupby("customer_id").size() <= 5).all()
    assert not any(
        p in owned[c] for c, p in zip(recs["customer_id"], recs["product_id"], strict=True)
    )
    # Most top-1 picks come from the customer's dominant theme (first two digits of the id).
    top = recs[recs["rank"] == 1].set_index("customer_id")["product_id"].str[1:3]
    dominant = (
        lines.assign(theme=lines["product_id"].str[1:3])
        .groupby("customer_id")["theme"]
        .agg(lambda s: s.mode().iloc[0])
    )
    assert (top == dominant.loc[top.index]).mean() > 0.6


def test_bundles_surface_planted_pair_and_triple():
    rng = np.random.default_rng(1)
    rows = []
    for order in range(2000):
        items = set(rng.choice([f"x{i}" for i in range(30)], size=2).tolist())
        if rng.random() < 0.2:
            items |= {"tent", "stakes"} | ({"mallet"} if rng.random() < 0.7 else set())
        rows += [(order, item) for item in items]
    lines = pd.DataFrame(rows, columns=["order_id", "product_id"])
    found = bundles(basket_matrix(lines), min_support=0.02, min_lift=2.0, top=5)
    sets = [frozenset(items) for items in found["items"]]
    assert frozenset({"tent", "stakes"}) in sets
    assert frozenset({"tent", "stakes", "mallet"}) in sets
    together = frequently_bought_together(co_occurrence(basket_matrix(lines)), "tent", k=2)
    assert set(together["item_id"]) == {"stakes", "mallet"}


def test_upsell_proposes_pricier_items_in_owned_categories_bought_by_similar_customers():
    catalog = pd.DataFrame(
        {
            "product_id": ["cam-basic", "cam-pro", "cam-ultra", "lens-50", "lens-85", "bag"],
            "category": ["camera", "camera", "camera", "lens", "lens", "bag"],
            "price": [300.0, 900.0, 2000.0, 200.0, 600.0, 50.0],
        }
    )
    rows = []
    for c in range(40):  # enthusiasts: basic body upgraded to pro, with lens-85
        rows += [(f"e{c}", "cam-basic"), (f"e{c}", "cam-pro"), (f"e{c}", "lens-85")]
    rows += [("novice", "cam-basic"), ("novice", "lens-50")]
    rows += [("pro-owner", "cam-pro"), ("pro-owner", "lens-85")]
    lines = pd.DataFrame(rows, columns=["customer_id", "product_id"])
    out = upsell_candidates(lines, catalog, k=3).set_index(["customer_id", "rank"])
    novice = out.loc["novice"]
    assert novice.iloc[0]["product_id"] in {"cam-pro", "lens-85"}
    assert (novice["price"] > novice["reference_price"]).all()
    assert set(novice["product_id"]) <= {"cam-pro", "lens-85", "cam-ultra"}
    assert "bag" not in set(out["product_id"])  # category never owned

"""Bundles and up-sell from a warehouse snapshot's order lines (``numeric.basket`` and
``numeric.recommend`` do the modelling).

- Bundles: product pairs bought in the same order more often than chance (lift >= 1.5,
  at least BUNDLE_MIN_COUNT orders), each grown into the best triple when one qualifies,
  with support, confidence and lift. They are product-level patterns (no customer data).
- Up-sell: per customer, up to UPSELL_PRODUCTS products priced above the dearest product the
  customer bought in the same category, ranked by how much customers with similar purchase
  histories bought them. A product's price is the median unit price it sold at (in the
  organisation's currency), so that it needs no price book.
- Quality: hit rate at 5 of the up-sell lists on held-out last baskets, against the most
  popular pricier products of the customer's categories.

The results go to the DuckDB tables ``bundles`` and ``upsell`` (read by the API) and the
up-sell product ids to each customer's scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from rapport.analytics.numeric import recommend
from rapport.analytics.numeric.basket import basket_matrix, bundles

BUNDLE_MIN_COUNT = 3
BUNDLE_MIN_SUPPORT = 0.0005
BUNDLE_MIN_LIFT = 1.5
BUNDLE_TOP = 30
UPSELL_PRODUCTS = 3
HIT_RATE_K = 5

_BUNDLES_DDL = """
CREATE OR REPLACE TABLE bundles (
    rank INTEGER, product_ids BIGINT[], orders BIGINT, support DOUBLE, confidence DOUBLE,
    lift DOUBLE
)
"""
_UPSELL_DDL = """
CREATE OR REPLACE TABLE upsell (
    customer_key BIGINT, rank INTEGER, product_id BIGINT, category VARCHAR, price DOUBLE,
    reference_price DOUBLE, score DOUBLE
)
"""


@dataclass
class BasketResult:
    upsell: dict[int, list[int]] = field(default_factory=dict)
    bundle_report: dict[str, Any] = field(default_factory=dict)
    upsell_report: dict[str, Any] = field(default_factory=dict)
    bundle_error: str = ""
    upsell_error: str = ""
    bundles_found: int = 0
    upsell_customers: int = 0


def order_lines_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Distinct (customer, order, product, day) rows of the revenue-bearing order lines."""
    return con.execute(
        """
        SELECT DISTINCT customer_key AS customer_id, order_id, product_id, day AS date
        FROM order_lines WHERE product_id IS NOT NULL
        """
    ).df()


def price_catalog(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Products sold, with their category and median unit price (organisation currency)."""
    return con.execute(
        """
        SELECT l.product_id, any_value(l.category) AS category,
               median(l.amount / l.quantity) AS price
        FROM order_lines l
        WHERE l.product_id IS NOT NULL AND l.quantity > 0 AND l.amount IS NOT NULL
        GROUP BY l.product_id
        ORDER BY l.product_id
        """
    ).df()


def _bundle_frame(lines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    baskets = basket_matrix(lines, basket_col="order_id", item_col="product_id")
    n = baskets.n_baskets
    sizes = np.asarray(baskets.matrix.sum(axis=1)).ravel()
    min_support = max(BUNDLE_MIN_COUNT / max(n, 1), BUNDLE_MIN_SUPPORT)
    found = bundles(baskets, min_support=min_support, min_lift=BUNDLE_MIN_LIFT, top=BUNDLE_TOP)
    report = {
        "orders": int(n),
        "orders_with_several_products": int((sizes >= 2).sum()),
        "min_support": min_support,
        "min_lift": BUNDLE_MIN_LIFT,
        "min_orders": BUNDLE_MIN_COUNT,
    }
    if found.empty:
        return found.assign(confidence=pd.Series(dtype=float)), report
    # Confidence of the bundle as the rule "all but the last item -> the last item":
    # P(last | the others), consistent with the lift that grew it.
    b = baskets.matrix.tocsc()
    confidences = []
    for items, count in zip(found["items"], found["count"], strict=True):
        cols = [baskets.items.get_loc(i) for i in items[:-1]]
        holding = b[:, cols[0]]
        for col in cols[1:]:
            holding = holding.multiply(b[:, col])
        antecedent = float(holding.sum())
        confidences.append(count / antecedent if antecedent else float("nan"))
    found = found.assign(confidence=confidences)
    return found.head(BUNDLE_TOP).reset_index(drop=True), report


def basket_analysis(con: duckdb.DuckDBPyConnection, customers: pd.Index) -> BasketResult:
    """Compute bundles and up-sell lists, store them in the snapshot, return the per-customer
    up-sell ids and the fit reports."""
    con.execute(_BUNDLES_DDL)
    con.execute(_UPSELL_DDL)
    result = BasketResult()
    lines = order_lines_frame(con)
    if lines.empty:
        result.bundle_error = result.upsell_error = "no order lines with products"
        return result
    found, report = _bundle_frame(lines)
    result.bundle_report = report
    result.bundles_found = len(found)
    if len(found):
        frame = pd.DataFrame(
            {
                "rank": np.arange(1, len(found) + 1, dtype=np.int32),
                "product_ids": [[int(i) for i in items] for items in found["items"]],
                "orders": found["count"].astype(np.int64),
                "support": found["support"].astype(np.float64),
                "confidence": found["confidence"].astype(np.float64),
                "lift": found["lift"].astype(np.float64),
            }
        )
        con.register("_bundles", frame)
        try:
            con.execute("INSERT INTO bundles BY NAME SELECT * FROM _bundles")
        finally:
            con.unregister("_bundles")

    catalog = price_catalog(con)
    catalog = catalog[np.isfinite(catalog["price"].to_numpy(dtype=np.float64))]
    if catalog.empty:
        result.upsell_error = "no product sold at a known price"
        return result
    picks = recommend.upsell_candidates(lines, catalog, k=UPSELL_PRODUCTS, customers=customers)
    result.upsell_customers = int(picks["customer_id"].nunique()) if len(picks) else 0
    if len(picks):
        picks = picks.sort_values(["customer_id", "rank"])
        result.upsell = {
            int(key): [int(p) for p in ids]
            for key, ids in picks.groupby("customer_id")["product_id"]
        }
        stored = picks.rename(columns={"customer_id": "customer_key"}).astype(
            {"customer_key": np.int64, "rank": np.int32, "product_id": np.int64}
        )
        stored["category"] = stored["category"].astype(str)
        con.register("_upsell", stored)
        try:
            con.execute("INSERT INTO upsell BY NAME SELECT * FROM _upsell")
        finally:
            con.unregister("_upsell")
    try:
        hit = recommend.upsell_hit_rate_at_k(lines, catalog, k=HIT_RATE_K)
        result.upsell_report = {
            "k": hit.k,
            "customers_evaluated": hit.customers_evaluated,
            "hit_rate": hit.hit_rate,
            "popularity_hit_rate": hit.popularity_hit_rate,
            "lift_over_popularity": hit.lift_over_popularity,
            "customers_with_upsell": result.upsell_customers,
        }
    except ValueError as exc:
        result.upsell_report = {
            "hit_rate_error": str(exc),
            "customers_with_upsell": result.upsell_customers,
        }
    return result

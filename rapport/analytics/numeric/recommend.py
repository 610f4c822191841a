"""Cross-sell and up-sell: next-best products per customer and their offline evaluation.

Next-best products are item-to-item collaborative filtering: a candidate's score is the sum of
its similarity to everything the customer owns (cosine of basket co-occurrence by default).
Up-sell looks at customers with similar purchase histories and proposes items they bought that
are pricier than what the customer has in the same category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .basket import CoOccurrence, basket_matrix, co_occurrence

# Customers scored per block: bounds the dense (block x items) score array.
_BLOCK = 2048


def item_similarity(co: CoOccurrence, *, kind: str = "cosine") -> sp.csr_matrix:
    """Item x item similarity with a zero diagonal.

    ``cosine``: C_ij / sqrt(C_ii C_jj); ``confidence``: P(j | i) (row i); ``lift``: P(i, j) /
    (P(i) P(j)). Cosine damps very popular items, which lift over-rewards when counts are small.
    """
    counts = co.counts.tocoo()
    item_counts = np.maximum(co.item_counts, 1e-12)
    if kind == "cosine":
        values = counts.data / np.sqrt(item_counts[counts.row] * item_counts[counts.col])
    elif kind == "confidence":
        values = counts.data / item_counts[counts.row]
    elif kind == "lift":
        values = counts.data * co.n_baskets / (item_counts[counts.row] * item_counts[counts.col])
    else:
        raise ValueError("kind must be 'cosine', 'confidence' or 'lift'")
    off_diagonal = counts.row != counts.col
    return sp.csr_matrix(
        (values[off_diagonal], (counts.row[off_diagonal], counts.col[off_diagonal])),
        shape=counts.shape,
    )


def ownership_matrix(
    lines: pd.DataFrame,
    *,
    items: pd.Index,
    customer_col: str = "customer_id",
    item_col: str = "product_id",
    customers: pd.Index | None = None,
) -> tuple[sp.csr_matrix, pd.Index]:
    """0/1 customers x items matrix (columns in the order of ``items``) and the customer ids."""
    if customers is None:
        customers = pd.Index(pd.unique(lines[customer_col])).sort_values()
    rows = customers.get_indexer(lines[customer_col])
    cols = pd.Index(items).get_indexer(lines[item_col])
    keep = (rows >= 0) & (cols >= 0)
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(customers), len(items))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, customers


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k largest scores per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def recommend_top_k(
    owned: sp.csr_matrix,
    similarity: sp.csr_matrix,
    *,
    k: int = 5,
    popularity: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(item indices, scores), shape (customers, k): the k best items each customer does not
    own. Popularity breaks ties, so customers without history get the most popular items."""
    n_customers, n_items = owned.shape
    tie_break = np.zeros(n_items) if popularity is None else np.asarray(popularity, float)
    if tie_break.max() > 0:
        # Far below any co-occurrence score: only orders items whose scores are equal.
        tie_break = 1e-9 * tie_break / tie_break.max()
    indices = np.empty((n_customers, min(k, n_items)), dtype=np.int64)
    values = np.empty(indices.shape)
    for lo in range(0, n_customers, _BLOCK):
        block = owned[lo : lo + _BLOCK]
        scores = np.asarray((block @ similarity).todense()) + tie_break
        scores[block.nonzero()] = -np.inf
        indices[lo : lo + _BLOCK], values[lo : lo + _BLOCK] = _top_k(scores, k)
    return indices, values


def next_best_products(
    lines: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    basket_col: str = "order_id",
    item_col: str = "product_id",
    k: int = 5,
    kind: str = "cosine",
    customers: pd.Index | None = None,
) -> pd.DataFrame:
    """Top ``k`` products per customer that they have not bought, from order lines.

    Columns: customer_id, rank (1 = best), product_id, score. Items with a score of -inf (the
    customer owns every item) are omitted.
    """
    baskets = basket_matrix(lines, basket_col=basket_col, item_col=item_col)
    co = co_occurrence(baskets)
    owned, customer_ids = ownership_matrix(
        lines,
        items=baskets.items,
        customer_col=customer_col,
        item_col=item_col,
        customers=customers,
    )
    idx, scores = recommend_top_k(
        owned, item_similarity(co, kind=kind), k=k, popularity=co.item_counts
    )
    frame = pd.DataFrame(
        {
            "customer_id": np.repeat(customer_ids.to_numpy(), idx.shape[1]),
            "rank": np.tile(np.arange(1, idx.shape[1] + 1), idx.shape[0]),
            "product_id": baskets.items[idx.ravel()],
            "score": scores.ravel(),
        }
    )
    return frame[np.isfinite(frame["score"])].reset_index(drop=True)


def upsell_candidates(
    lines: pd.DataFrame,
    catalog: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    item_col: str = "product_id",
    category_col: str = "category",
    price_col: str = "price",
    k: int = 3,
    customers: pd.Index | None = None,
) -> pd.DataFrame:
    """Per customer, up to ``k`` items priced above the dearest item they own in the same
    category, ranked by how much customers with similar histories bought them.

    Similar customers: cosine similarity of 0/1 purchase vectors. Columns: customer_id, rank,
    product_id, category, price, reference_price (dearest owned in that category), score.
    ``customers`` limits the rows scored (similarities still use every customer's history).
    """
    items = pd.Index(catalog[item_col])
    price = catalog[price_col].to_numpy(dtype=np.float64)
    category_codes, categories = pd.factorize(catalog[category_col])
    owned, owners = ownership_matrix(
        lines, items=items, customer_col=customer_col, item_col=item_col
    )
    norms = np.sqrt(np.asarray(owned.sum(axis=1)).ravel())
    normalized = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ owned
    # sim(u, .) @ owned  ==  normalized[u] @ (normalized.T @ owned): an items x items product
    # instead of a customers x customers one.
    item_bridge = (normalized.T @ owned).tocsr()
    n_categories = len(categories)
    # One-hot item -> category, to get each customer's dearest owned price per category.
    category_onehot = sp.csr_matrix(
        (np.ones(len(items)), (np.arange(len(items)), category_codes)),
        shape=(len(items), n_categories),
    )
    out = []
    if customers is None:
        positions = np.arange(owned.shape[0])
    else:
        positions = owners.get_indexer(pd.Index(customers))
        positions = positions[positions >= 0]
    for lo in range(0, len(positions), _BLOCK):
        rows_at = positions[lo : lo + _BLOCK]
        block = owned[rows_at]
        scores = np.asarray((normalized[rows_at] @ item_bridge).todense())
        # Dearest owned price per (customer, category); -inf where the category is not owned.
        priced = block.multiply(price[None, :]).tocsr()
        reference = np.full((block.shape[0], n_categories), -np.inf)
        rows, cols = priced.nonzero()
        np.maximum.at(reference, (rows, category_codes[cols]), price[cols])
        has_category = np.asarray((block @ category_onehot).todense()) > 0
        ref_per_item = reference[:, category_codes]
        eligible = has_category[:, category_codes] & (price[None, :] > ref_per_item) & (scores > 0)
        eligible[block.nonzero()] = False
        scores = np.where(eligible, scores, -np.inf)
        idx, vals = _top_k(scores, k)
        for r in range(idx.shape[0]):
            for rank, (col, val) in enumerate(zip(idx[r], vals[r], strict=True), start=1):
                if not np.isfinite(val):
                    break
                out.append(
                    (
                        owners[rows_at[r]],
                        rank,
                        items[col],
                        categories[category_codes[col]],
                        price[col],
                        ref_per_item[r, col],
                        val,
                    )
                )
    return pd.DataFrame(
        out,
        columns=[
            "customer_id",
            "rank",
            "product_id",
            "category",
            "price",
            "reference_price",
            "score",
        ],
    )


@dataclass(frozen=True)
class HitRateReport:
    """Hit rate@k on held-out last baskets for the recommender and the popularity baseline."""

    k: int
    customers_evaluated: int
    hit_rate: float
    popularity_hit_rate: float

    @property
    def lift_over_popularity(self) -> float:
        if self.popularity_hit_rate == 0:
            return float("inf") if self.hit_rate > 0 else float("nan")
        return self.hit_rate / self.popularity_hit_rate


def hit_rate_at_k(
    lines: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    basket_col: str = "order_id",
    date_col: str = "date",
    item_col: str = "product_id",
    k: int = 5,
    kind: str = "cosine",
) -> HitRateReport:
    """Hold out each customer's last basket; train on everything else; a hit is any of the
    top ``k`` recommendations (excluding items already owned) appearing among the last
    basket's new items. Customers whose last basket holds no new item are not evaluated.
    The baseline recommends the most popular items (by training baskets) not yet owned.
    """
    baskets_by_customer = (
        lines[[customer_col, basket_col, date_col]]
        .drop_duplicates(basket_col)
        .sort_values([customer_col, date_col, basket_col])
    )
    last = baskets_by_customer.groupby(customer_col).tail(1)
    multi = baskets_by_customer.groupby(customer_col)[basket_col].transform("size") > 1
    held_out = set(last.loc[multi.loc[last.index], basket_col])
    is_test = lines[basket_col].isin(held_out)
    train, test = lines[~is_test], lines[is_test]
    train_baskets = basket_matrix(train, basket_col=basket_col, item_col=item_col)
    co = co_occurrence(train_baskets)
    customers = pd.Index(pd.unique(test[customer_col])).sort_values()
    owned, _ = ownership_matrix(
        train, items=co.items, customer_col=customer_col, item_col=item_col, customers=customers
    )
    target, _ = ownership_matrix(
        test, items=co.items, customer_col=customer_col, item_col=item_col, customers=customers
    )
    new_items = (target - target.multiply(owned)).tocsr()
    new_items.eliminate_zeros()
    evaluable = np.asarray(new_items.sum(axis=1)).ravel() > 0
    owned, new_items = owned[evaluable], new_items[evaluable]
    if owned.shape[0] == 0:
        return HitRateReport(
            k=k, customers_evaluated=0, hit_rate=float("nan"), popularity_hit_rate=float("nan")
        )
    popularity = co.item_counts
    model_idx, _ = recommend_top_k(
        owned, item_similarity(co, kind=kind), k=k, popularity=popularity
    )
    empty = sp.csr_matrix((co.counts.shape[0], co.counts.shape[0]))
    popular_idx, _ = recommend_top_k(owned, empty, k=k, popularity=popularity)
    return HitRateReport(
        k=k,
        customers_evaluated=int(owned.shape[0]),
        hit_rate=_hits(model_idx, new_items),
        popularity_hit_rate=_hits(popular_idx, new_items),
    )


def _hits(recommended: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Share of rows where any recommended column is non-zero in ``relevant``."""
    n, k = recommended.shape
    picked = sp.csr_matrix(
        (np.ones(n * k), (np.repeat(np.arange(n), k), recommended.ravel())), shape=relevant.shape
    )
    return float((np.asarray(picked.multiply(relevant).sum(axis=1)).ravel() > 0).mean())


def upsell_hit_rate_at_k(
    lines: pd.DataFrame,
    catalog: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    basket_col: str = "order_id",
    date_col: str = "date",
    item_col: str = "product_id",
    category_col: str = "category",
    price_col: str = "price",
    k: int = 5,
    max_customers: int | None = 5000,
    seed: int = 0,
) -> HitRateReport:
    """Up-sell judged like next-best products: hold out each customer's last basket, compute
    up-sell candidates from the rest, and count a hit when one of the top ``k`` is bought in
    the last basket. Only customers whose last basket holds an up-sell (a new item pricier
    than the dearest they owned in one of their categories) are evaluated. The baseline
    proposes the most popular such items (by training baskets). At most ``max_customers``
    customers with a held-out basket (a seeded random sample) are evaluated."""
    baskets_by_customer = (
        lines[[customer_col, basket_col, date_col]]
        .drop_duplicates(basket_col)
        .sort_values([customer_col, date_col, basket_col])
    )
    last = baskets_by_customer.groupby(customer_col).tail(1)
    multi = baskets_by_customer.groupby(customer_col)[basket_col].transform("size") > 1
    held_out = set(last.loc[multi.loc[last.index], basket_col])
    is_test = lines[basket_col].isin(held_out)
    train, test = lines[~is_test], lines[is_test]
    nan = float("nan")
    if train.empty or test.empty:
        return HitRateReport(k=k, customers_evaluated=0, hit_rate=nan, popularity_hit_rate=nan)
    items = pd.Index(catalog[item_col])
    price = catalog[price_col].to_numpy(dtype=np.float64)
    category_codes, _ = pd.factorize(catalog[category_col])
    customers = pd.Index(pd.unique(test[customer_col])).sort_values()
    if max_customers is not None and len(customers) > max_customers:
        rng = np.random.default_rng(seed)
        customers = customers[np.sort(rng.choice(len(customers), max_customers, replace=False))]
    owned, _ = ownership_matrix(
        train, items=items, customer_col=customer_col, item_col=item_col, customers=customers
    )
    target, _ = ownership_matrix(
        test, items=items, customer_col=customer_col, item_col=item_col, customers=customers
    )
    # Eligible items per customer: not owned, pricier than the dearest owned in its category.
    n_categories = int(category_codes.max()) + 1 if len(category_codes) else 0
    reference = np.full((owned.shape[0], n_categories), -np.inf)
    rows, cols = owned.nonzero()
    np.maximum.at(reference, (rows, category_codes[cols]), price[cols])
    ref_per_item = reference[:, category_codes]
    eligible = np.isfinite(ref_per_item) & (price[None, :] > ref_per_item)
    eligible[owned.nonzero()] = False
    relevant = sp.csr_matrix(target.multiply(sp.csr_matrix(eligible)))
    relevant.eliminate_zeros()
    evaluable = np.asarray(relevant.sum(axis=1)).ravel() > 0
    if not evaluable.any():
        return HitRateReport(k=k, customers_evaluated=0, hit_rate=nan, popularity_hit_rate=nan)
    picks = upsell_candidates(
        train,
        catalog,
        customer_col=customer_col,
        item_col=item_col,
        category_col=category_col,
        price_col=price_col,
        k=k,
        customers=customers[evaluable],
    )
    recommended = np.zeros(relevant.shape, dtype=bool)
    recommended[
        customers.get_indexer(picks["customer_id"]), items.get_indexer(picks["product_id"])
    ] = True
    hits = (recommended & relevant.toarray().astype(bool)).any(axis=1)[evaluable]
    train_counts = (
        train.drop_duplicates([basket_col, item_col])[item_col].value_counts().reindex(items)
    )
    popularity = train_counts.fillna(0).to_numpy(dtype=np.float64)
    scores = np.where(eligible, popularity[None, :] + 1e-9, -np.inf)[evaluable]
    top, values = _top_k(scores, k)
    chosen = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(chosen, top, np.isfinite(values), axis=1)
    popular_hits = (chosen & relevant.toarray().astype(bool)[evaluable]).any(axis=1)
    return HitRateReport(
        k=k,
        customers_evaluated=int(evaluable.sum()),
        hit_rate=float(hits.mean()),
        popularity_hit_rate=float(popular_hits.mean()),
    )

"""Market-basket analysis: item co-occurrence, pairwise association rules and bundles.

Pairs come from one sparse product B^T B of the (baskets x items) 0/1 matrix: cheaper than
apriori/fp-growth when only pairs (and triples grown from the best pairs) are wanted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class BasketMatrix:
    """0/1 matrix of baskets (rows) by items (columns) with their ids."""

    matrix: sp.csr_matrix
    baskets: pd.Index
    items: pd.Index

    @property
    def n_baskets(self) -> int:
        return int(self.matrix.shape[0])


def basket_matrix(
    lines: pd.DataFrame,
    *,
    basket_col: str = "order_id",
    item_col: str = "product_id",
    items: pd.Index | None = None,
) -> BasketMatrix:
    """Sparse baskets x items matrix from order lines (one row per item in a basket).

    Quantities and repeated lines collapse to 1. Pass ``items`` to fix the column order (items
    not in it are dropped), e.g. to align with a catalogue.
    """
    if lines.empty:
        raise ValueError("no order lines")
    basket_codes, basket_ids = pd.factorize(lines[basket_col], sort=True)
    if items is None:
        item_codes, item_ids = pd.factorize(lines[item_col], sort=True)
        item_index = pd.Index(item_ids)
    else:
        item_index = pd.Index(items)
        item_codes = item_index.get_indexer(lines[item_col])
    keep = item_codes >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (basket_codes[keep], item_codes[keep])),
        shape=(len(basket_ids), len(item_index)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return BasketMatrix(matrix=matrix, baskets=pd.Index(basket_ids), items=item_index)


@dataclass(frozen=True)
class CoOccurrence:
    """Item x item basket counts: ``counts[i, j]`` baskets holding both, diagonal = item count."""

    counts: sp.csr_matrix
    n_baskets: int
    items: pd.Index

    @property
    def item_counts(self) -> np.ndarray:
        return self.counts.diagonal()

    @property
    def item_support(self) -> np.ndarray:
        return self.item_counts / max(self.n_baskets, 1)


def co_occurrence(baskets: BasketMatrix) -> CoOccurrence:
    """Co-occurrence counts C = B^T B."""
    b = baskets.matrix
    counts = (b.T @ b).tocsr()
    return CoOccurrence(counts=counts, n_baskets=baskets.n_baskets, items=baskets.items)


def association_rules(
    co: CoOccurrence,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.0,
    min_lift: float = 1.0,
    min_count: int = 1,
) -> pd.DataFrame:
    """All pairwise rules A -> B passing the thresholds, best lift first.

    support = P(A and B), confidence = P(B | A), lift = confidence / P(B); ``count`` is the
    number of baskets with both. Both directions of a pair appear (their confidences differ).
    """
    coo = sp.triu(co.counts, k=1).tocoo()
    n = max(co.n_baskets, 1)
    item_counts = co.item_counts
    i = np.concatenate([coo.row, coo.col])
    j = np.concatenate([coo.col, coo.row])
    both = np.concatenate([coo.data, coo.data])
    support = both / n
    confidence = both / item_counts[i]
    lift = confidence / (item_counts[j] / n)
    keep = (
        (support >= min_support)
        & (confidence >= min_confidence)
        & (lift >= min_lift)
        & (both >= min_count)
    )
    rules = pd.DataFrame(
        {
            "antecedent": co.items[i[keep]],
            "consequent": co.items[j[keep]],
            "count": both[keep].astype(np.int64),
            "support": support[keep],
            "confidence": confidence[keep],
            "lift": lift[keep],
        }
    )
    return rules.sort_values(
        ["lift", "support", "antecedent", "consequent"], ascending=[False, False, True, True]
    ).reset_index(drop=True)


def frequently_bought_together(
    co: CoOccurrence, item: object, *, k: int = 5, min_count: int = 2
) -> pd.DataFrame:
    """Items most often bought with ``item``: top ``k`` by lift among pairs seen
    ``min_count`` times or more. Columns item_id, count, confidence, lift."""
    position = co.items.get_loc(item)
    row = co.counts.getrow(position).tocoo()
    mask = (row.col != position) & (row.data >= min_count)
    cols, counts = row.col[mask], row.data[mask]
    item_counts = co.item_counts
    confidence = counts / item_counts[position]
    lift = confidence / (item_counts[cols] / max(co.n_baskets, 1))
    frame = pd.DataFrame(
        {
            "item_id": co.items[cols],
            "count": counts.astype(np.int64),
            "confidence": confidence,
            "lift": lift,
        }
    )
    return frame.sort_values(["lift", "count"], ascending=False).head(k).reset_index(drop=True)


def bundles(
    baskets: BasketMatrix,
    *,
    min_support: float = 0.01,
    min_lift: float = 1.5,
    top: int = 20,
    grow_to_triples: bool = True,
) -> pd.DataFrame:
    """Candidate bundles: item pairs bought together more than chance (lift >= ``min_lift``)
    with support >= ``min_support``, each optionally grown into the triple whose third item has
    the highest lift given the pair. Columns: items (tuple), count, support, lift.

    For a triple, lift = P(A, B, C) / (P(A, B) P(C)): how much the pair raises C's odds.
    """
    co = co_occurrence(baskets)
    rules = association_rules(co, min_support=min_support, min_lift=min_lift)
    pairs = rules[
        rules["antecedent"].map(co.items.get_loc) < rules["consequent"].map(co.items.get_loc)
    ]
    pairs = pairs.head(top)
    n = max(baskets.n_baskets, 1)
    b = baskets.matrix.tocsc()
    item_counts = co.item_counts
    rows = []
    for pair in pairs.itertuples():
        a, c = co.items.get_loc(pair.antecedent), co.items.get_loc(pair.consequent)
        rows.append(
            {
                "items": (pair.antecedent, pair.consequent),
                "count": int(pair.count),
                "support": pair.support,
                "lift": pair.lift,
            }
        )
        if not grow_to_triples:
            continue
        both = b[:, a].multiply(b[:, c])  # baskets holding the pair
        triple_counts = np.asarray((both.T @ b).todense()).ravel()
        triple_counts[[a, c]] = 0
        lift = triple_counts * n / (pair.count * np.maximum(item_counts, 1))
        eligible = (triple_counts / n >= min_support) & (lift >= min_lift)
        if eligible.any():
            third = int(np.argmax(np.where(eligible, lift, -np.inf)))
            rows.append(
                {
                    "items": (pair.antecedent, pair.consequent, co.items[third]),
                    "count": int(triple_counts[third]),
                    "support": triple_counts[third] / n,
                    "lift": float(lift[third]),
                }
            )
    frame = pd.DataFrame(rows, columns=["items", "count", "support", "lift"])
    return frame.sort_values(["lift", "count"], ascending=False).reset_index(drop=True)

"""Purchase histories (x, t_x, T): validation and compression into weighted distinct rows.

Customers with identical (x, t_x, T) contribute identical likelihood terms, so the purchase
models fit and score on the distinct rows with their counts as weights: on realistic data with
day-resolution dates a million customers collapse to a few hundred thousand rows, and the work
per likelihood evaluation shrinks accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# Relative slack when checking recency <= T: summaries computed in floating point (days / 7)
# can put t_x a rounding error above T for a customer who bought on the last day.
_RECENCY_SLACK = 1e-9


@dataclass(frozen=True)
class Histories:
    """Distinct purchase histories with multiplicities.

    ``frequency[k], recency[k], T[k]`` is the k-th distinct history, ``weights[k]`` how many
    customers share it, and ``inverse[i]`` the distinct row of input customer ``i``.
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    inverse: np.ndarray

    @property
    def n_customers(self) -> int:
        return int(self.inverse.shape[0])

    @property
    def n_distinct(self) -> int:
        return int(self.frequency.shape[0])

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Map per-distinct-row values back to one value per input customer, in input order."""
        return np.asarray(values)[self.inverse]


def validate_histories(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return float64 arrays (x, t_x, T) after checking they form valid purchase histories.

    Guarantees: equal 1-d shapes (scalars broadcast), finite values, integral x >= 0,
    0 <= t_x <= T. Raises ``ValueError`` otherwise. ``t_x`` is set to 0 where ``x == 0`` since
    no model reads it there.
    """
    x, tx, big_t = np.broadcast_arrays(
        np.atleast_1d(np.asarray(frequency, dtype=np.float64)),
        np.atleast_1d(np.asarray(recency, dtype=np.float64)),
        np.atleast_1d(np.asarray(T, dtype=np.float64)),
    )
    if x.ndim != 1:
        raise ValueError("frequency, recency and T must be one-dimensional")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(big_t).all()):
        raise ValueError("frequency, recency and T must be finite")
    if (x < 0).any() or (np.floor(x) != x).any():
        raise ValueError("frequency must hold non-negative integers (repeat purchase counts)")
    if (tx < 0).any() or (big_t < 0).any():
        raise ValueError("recency and T must be non-negative")
    if (tx > big_t * (1 + _RECENCY_SLACK) + _RECENCY_SLACK).any():
        raise ValueError("recency (time of last purchase) cannot exceed T (age of the customer)")
    tx = np.where(x == 0, 0.0, np.minimum(tx, big_t))
    return x.copy(), tx, big_t.copy()


def compress_histories(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> Histories:
    """Validate histories and collapse identical (x, t_x, T) rows, summing their weights.

    Guarantees: ``result.expand(result.frequency)`` equals the validated input frequency, and
    ``result.weights.sum()`` equals the input weight total (number of customers by default).
    """
    x, tx, big_t = validate_histories(frequency, recency, T)
    n = x.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite, non-negative and one per customer")
    if n == 0:
        empty = np.empty(0)
        return Histories(empty, empty, empty, empty, np.empty(0, dtype=np.intp))
    # A hash group-by is ~25% faster than a lexsort and 6x faster than MultiIndex.factorize
    # on a million rows (measured); row order of the groups does not matter to the models.
    frame = pd.DataFrame({"x": x, "tx": tx, "T": big_t})
    inverse = frame.groupby(["x", "tx", "T"], sort=False).ngroup().to_numpy(dtype=np.intp)
    k = int(inverse.max()) + 1
    first = np.empty(k, dtype=np.intp)
    # Reversed assignment leaves each group's first occurrence as its representative.
    first[inverse[::-1]] = np.arange(n, dtype=np.intp)[::-1]
    return Histories(
        frequency=x[first],
        recency=tx[first],
        T=big_t[first],
        weights=np.bincount(inverse, weights=w, minlength=k),
        inverse=inverse,
    )

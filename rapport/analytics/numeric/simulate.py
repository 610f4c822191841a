"""Synthetic customer bases with known parameters, for tests and benchmarks.

Simulating from a model and fitting it back is the check that an estimator is unbiased where
no published data set exists; the benchmark uses the same generator at a million customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_bg_nbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    max_age_days: int = 364,
    days_per_unit: float = 7.0,
    whole_days: bool = True,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """(frequency, recency, T) for ``n`` customers drawn from a BG/NBD process.

    Ages T are whole days (uniform on 1..``max_age_days``) and, with ``whole_days``, purchase
    times are rounded down to whole days as in real order data (which is what lets a million
    customers compress to far fewer distinct histories); times are in units of
    ``days_per_unit``.
    Vectorised: given N(T) ~ Poisson(lambda T) potential purchases, the customer makes
    x = min(K, N) of them where K ~ Geometric(p) is the purchase after which they drop out, and
    the x-th of N uniform arrival times is T * Beta(x, N - x + 1).
    """
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    age_days = rng.integers(1, max_age_days + 1, size=n)
    big_t = age_days / days_per_unit
    potential = rng.poisson(lam * big_t)
    dropout_after = rng.geometric(p)
    x = np.minimum(potential, dropout_after)
    has_repeat = x > 0
    fraction = np.zeros(n)
    fraction[has_repeat] = rng.beta(x[has_repeat], potential[has_repeat] - x[has_repeat] + 1)
    recency_days = np.floor(fraction * age_days) if whole_days else fraction * age_days
    return pd.DataFrame(
        {
            "frequency": x.astype(np.int64),
            "recency": recency_days / days_per_unit,
            "T": big_t,
        }
    )


def simulate_spend(
    frequency: np.ndarray, *, p: float, q: float, gamma: float, rng: np.random.Generator
) -> np.ndarray:
    """Average repeat-transaction value per customer from a Gamma-Gamma process (0 if x = 0).

    nu ~ Gamma(q, rate gamma); the mean of x values ~ Gamma(p, rate nu) is Gamma(p x, rate nu x).
    """
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(shape=q, scale=1.0 / gamma, size=x.shape[0])
    out = np.zeros(x.shape[0])
    repeat = x > 0
    out[repeat] = rng.gamma(shape=p * x[repeat], scale=1.0 / (nu[repeat] * x[repeat]))
    return out

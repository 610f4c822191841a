"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase
they drop out with probability p ~ Beta(a, b). Inputs per customer are x (repeat purchases in
the calibration period), t_x (time of the last purchase, measured from the first) and T (time
from the first purchase to the end of calibration), all in one time unit.

Everything is computed in log space (gammaln, logaddexp, expit) so that extreme histories
(x = 0, x in the hundreds, t_x = T, T far beyond alpha) give finite answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, hyp2f1

from .histories import Histories, compress_histories, validate_histories
from .optimize import maximize_log_likelihood, weighted_sum

# The conditional expectation divides by (a - 1); at a == 1 exactly the expression has a
# removable singularity, so we evaluate a hair away from it (the function is smooth in a).
_A_ONE_GUARD = 1e-9


@dataclass(frozen=True)
class _Prepared:
    """Compressed histories plus the per-distinct-x bookkeeping the likelihood reuses."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    w: np.ndarray
    repeat: np.ndarray
    x_unique: np.ndarray
    x_weight: np.ndarray
    x_index: np.ndarray
    total_weight: float


def _prepare(h: Histories) -> _Prepared:
    x_unique, x_index = np.unique(h.frequency, return_inverse=True)
    return _Prepared(
        x=h.frequency,
        tx=h.recency,
        T=h.T,
        w=h.weights,
        repeat=h.frequency > 0,
        x_unique=x_unique,
        x_weight=np.bincount(x_index, weights=h.weights, minlength=x_unique.shape[0]),
        x_index=x_index,
        total_weight=float(h.weights.sum()),
    )


def _row_terms(params: np.ndarray, d: _Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row log terms: A3 (still alive at T), A4 (dropped after the last purchase), their
    log-sum. A4 is -inf for x = 0, where dropping out before T is not an option."""
    r, alpha, a, b = params
    log_alpha_T = np.log(alpha + d.T)
    a3 = -(r + d.x) * log_alpha_T
    # b + x - 1 > 0 whenever x >= 1; substitute 1 for x == 0 rows so log() stays quiet.
    b_x_1 = np.where(d.repeat, b + d.x - 1.0, 1.0)
    a4 = np.where(d.repeat, np.log(a) - np.log(b_x_1) - (r + d.x) * np.log(alpha + d.tx), -np.inf)
    return a3, a4, np.logaddexp(a3, a4)


def _log_likelihood(params: np.ndarray, d: _Prepared) -> tuple[float, np.ndarray]:
    """Total weighted log-likelihood and its analytic gradient w.r.t. (r, alpha, a, b)."""
    r, alpha, a, b = params
    xu, wx = d.x_unique, d.x_weight
    # Terms that depend on x only are evaluated once per distinct x (a few hundred values).
    x_terms = (
        gammaln(r + xu)
        - gammaln(r)
        + gammaln(a + b)
        + gammaln(b + xu)
        - gammaln(b)
        - gammaln(a + b + xu)
    )
    a3, a4, mix = _row_terms(params, d)
    ll = d.total_weight * r * np.log(alpha) + weighted_sum(wx, x_terms) + weighted_sum(d.w, mix)

    share_alive = np.exp(a3 - mix)  # posterior weight of "alive at T"
    share_dead = np.exp(a4 - mix)  # 0 where x == 0
    ws_alive, ws_dead = d.w * share_alive, d.w * share_dead
    log_alpha_T = np.log(alpha + d.T)
    log_alpha_tx = np.log(alpha + d.tx)
    rx = r + d.x
    b_x_1 = np.where(d.repeat, b + d.x - 1.0, 1.0)
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + xu)
    grad_r = (
        weighted_sum(wx, digamma(r + xu) - digamma(r))
        + d.total_weight * np.log(alpha)
        - weighted_sum(ws_alive, log_alpha_T)
        - weighted_sum(ws_dead, log_alpha_tx)
    )
    grad_alpha = (
        d.total_weight * r / alpha
        - weighted_sum(ws_alive, rx / (alpha + d.T))
        - weighted_sum(ws_dead, rx / (alpha + d.tx))
    )
    grad_a = weighted_sum(wx, psi_ab - psi_abx) + ws_dead.sum() / a
    grad_b = weighted_sum(wx, psi_ab + digamma(b + xu) - digamma(b) - psi_abx) - weighted_sum(
        ws_dead, 1.0 / b_x_1
    )
    return float(ll), np.array([grad_r, grad_alpha, grad_a, grad_b])


@dataclass(frozen=True)
class BgNbdModel:
    """Fitted (or given) BG/NBD parameters and the fit's diagnostics."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    n_distinct: int = 0
    converged: bool = True
    iterations: int = 0
    name: str = field(default="BG/NBD", repr=False)

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @classmethod
    def fit(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        weights: ArrayLike | None = None,
        initial: ArrayLike | None = None,
    ) -> BgNbdModel:
        """Maximum-likelihood fit on (x, t_x, T) histories.

        Identical histories are compressed into weighted rows before fitting. Guarantees a model
        with positive finite parameters; ``converged`` is False if L-BFGS-B stopped early.
        """
        h = compress_histories(frequency, recency, T, weights)
        if h.n_distinct == 0:
            raise ValueError("cannot fit BG/NBD on zero customers")
        d = _prepare(h)
        if initial is None:
            # r/alpha is the mean purchase rate; starting near it saves iterations.
            mean_rate = max(weighted_sum(d.w, d.x) / max(weighted_sum(d.w, d.T), 1e-12), 1e-6)
            initial = np.array([1.0, 1.0 / mean_rate, 1.0, 1.0])
        result = maximize_log_likelihood(
            lambda p: _log_likelihood(p, d),
            np.asarray(initial, dtype=np.float64),
            scale=d.total_weight,
        )
        r, alpha, a, b = (float(v) for v in result.params)
        return cls(
            r=r,
            alpha=alpha,
            a=a,
            b=b,
            log_likelihood=result.log_likelihood,
            n_customers=h.n_customers,
            n_distinct=h.n_distinct,
            converged=result.converged,
            iterations=result.iterations,
        )

    def _array(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=np.float64)

    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
        """Total log-likelihood of the given histories under these parameters."""
        d = _prepare(compress_histories(frequency, recency, T))
        return _log_likelihood(self._array(), d)[0]

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T), in [0, 1]; exactly 1 where x == 0."""
        x, tx, big_t = validate_histories(frequency, recency, T)
        return expit(-self._log_odds_dropped(x, tx, big_t))

    def _log_odds_dropped(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._array()
        repeat = x > 0
        b_x_1 = np.where(repeat, b + x - 1.0, 1.0)
        log_odds = (
            np.log(a) - np.log(b_x_1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
        )
        return np.where(repeat, log_odds, -np.inf)

    def expected_purchases(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, t: ArrayLike
    ) -> np.ndarray:
        """E[number of purchases in (T, T + t] | x, t_x, T]: finite and >= 0 for t >= 0.

        ``t`` broadcasts against the customers (a scalar horizon, or one per customer).
        """
        x, tx, big_t = validate_histories(frequency, recency, T)
        t_arr = np.asarray(t, dtype=np.float64)
        if (t_arr < 0).any():
            raise ValueError("horizon t must be non-negative")
        r, alpha, a, b = self._array()
        if abs(a - 1.0) < _A_ONE_GUARD:
            a = 1.0 + _A_ONE_GUARD
        # Euler's transformation 2F1(r+x, b+x; c; z) = (1-z)^(a-1-r-x) 2F1(a+b-1-r, a-1; c; z)
        # cancels the ((alpha+T)/(alpha+T+t))^(r+x) factor of the published formula; the
        # transformed series has bounded parameters and stays near 1 even for x in the
        # thousands, where the original 2F1 overflows.
        c = a + b + x - 1.0
        log_1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t_arr)
        z = -np.expm1(log_1mz)
        f = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
        q = np.exp((a - 1.0) * log_1mz)
        # 1 - q*f written as (1 - q) - q*(f - 1) keeps precision when both are near 1.
        bracket = (c / (a - 1.0)) * (-np.expm1((a - 1.0) * log_1mz) - q * (f - 1.0))
        p_alive = expit(-self._log_odds_dropped(x, tx, big_t))
        return np.maximum(bracket * p_alive, 0.0)

    def expected_purchases_new_customer(self, t: ArrayLike) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in (0, t] for a customer just acquired."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        zeros = np.zeros_like(t_arr)
        return self.expected_purchases(zeros, zeros, zeros, t_arr)

    def score(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, t: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability alive, expected purchases in the next t) for every customer.

        Computed once per distinct history and expanded, which is what makes scoring a million
        customers cheap.
        """
        h = compress_histories(frequency, recency, T)
        alive = self.probability_alive(h.frequency, h.recency, h.T)
        expected = self.expected_purchases(h.frequency, h.recency, h.T, t)
        return h.expand(alive), h.expand(expected)

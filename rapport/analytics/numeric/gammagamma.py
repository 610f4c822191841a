"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013 note).

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers,
so their mean value is p * gamma / (q - 1) on average. Fitted on repeat buyers only: the input
is x >= 1 (number of repeat transactions) and z (their average value). The model assumes spend
is independent of purchase frequency; ``frequency_spend_correlation`` lets callers check that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from .optimize import maximize_log_likelihood, weighted_sum


@dataclass(frozen=True)
class _Prepared:
    x: np.ndarray
    xz: np.ndarray
    w: np.ndarray
    x_unique: np.ndarray
    x_weight: np.ndarray
    sum_w_log_z: float
    sum_wx_log_z: float
    total_weight: float


def _repeat_buyers(
    frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (x, z, w) of the customers with x >= 1; others carry no spend information."""
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    z = np.atleast_1d(np.asarray(monetary, dtype=np.float64))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (x.shape == z.shape == w.shape) or x.ndim != 1:
        raise ValueError("frequency, monetary and weights must be one-dimensional, same length")
    if not (np.isfinite(x).all() and np.isfinite(w).all()) or (x < 0).any():
        raise ValueError("frequency must be finite and non-negative, weights finite")
    keep = x > 0
    if not np.isfinite(z[keep]).all() or (z[keep] <= 0).any():
        raise ValueError("repeat buyers need a positive, finite average spend")
    return x[keep], z[keep], w[keep]


def _prepare(x: np.ndarray, z: np.ndarray, w: np.ndarray) -> _Prepared:
    x_unique, x_index = np.unique(x, return_inverse=True)
    log_z = np.log(z)
    return _Prepared(
        x=x,
        xz=x * z,
        w=w,
        x_unique=x_unique,
        x_weight=np.bincount(x_index, weights=w, minlength=x_unique.shape[0]),
        sum_w_log_z=weighted_sum(w, log_z),
        sum_wx_log_z=weighted_sum(w * x, log_z),
        total_weight=float(w.sum()),
    )


def _log_likelihood(params: np.ndarray, d: _Prepared) -> tuple[float, np.ndarray]:
    """Weighted log-likelihood of average spends and its gradient w.r.t. (p, q, gamma).

    Per customer: lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + px ln(x) + (px-1) ln(z)
    - (px+q) ln(gamma + x z). Only the last term needs a pass over customers; the rest is
    summed once per distinct x or precomputed, which keeps a million-row fit fast.
    """
    p, q, gamma = params
    xu, wx = d.x_unique, d.x_weight
    pxu = p * xu
    log_gxz = np.log(gamma + d.xz)
    coef = p * d.x + q
    ll = (
        weighted_sum(wx, gammaln(pxu + q) - gammaln(pxu) + pxu * np.log(xu))
        + d.total_weight * (q * np.log(gamma) - gammaln(q))
        + p * d.sum_wx_log_z
        - d.sum_w_log_z
        - weighted_sum(d.w, coef * log_gxz)
    )
    psi_pxq = digamma(pxu + q)
    grad_p = (
        weighted_sum(wx, xu * (psi_pxq - digamma(pxu) + np.log(xu)))
        + d.sum_wx_log_z
        - weighted_sum(d.w * d.x, log_gxz)
    )
    grad_q = (
        weighted_sum(wx, psi_pxq)
        + d.total_weight * (np.log(gamma) - digamma(q))
        - weighted_sum(d.w, log_gxz)
    )
    grad_gamma = d.total_weight * q / gamma - weighted_sum(d.w / (gamma + d.xz), coef)
    return float(ll), np.array([grad_p, grad_q, grad_gamma])


@dataclass(frozen=True)
class GammaGammaModel:
    """Fitted (or given) Gamma-Gamma parameters and the fit's diagnostics."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = True
    iterations: int = 0

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @classmethod
    def fit(
        cls,
        frequency: ArrayLike,
        monetary: ArrayLike,
        *,
        weights: ArrayLike | None = None,
        initial: ArrayLike | None = None,
    ) -> GammaGammaModel:
        """Maximum-likelihood fit on the repeat buyers (rows with frequency >= 1).

        ``monetary`` is each customer's average repeat-transaction value. Rows with frequency 0
        are ignored. Guarantees positive finite parameters.
        """
        x, z, w = _repeat_buyers(frequency, monetary, weights)
        if x.shape[0] == 0:
            raise ValueError("Gamma-Gamma needs at least one repeat buyer")
        d = _prepare(x, z, w)
        if initial is None:
            # p = 1, q = 2 puts the population mean spend p*gamma/(q-1) at gamma = mean(z).
            initial = np.array([1.0, 2.0, weighted_sum(w, z) / d.total_weight])
        result = maximize_log_likelihood(
            lambda prm: _log_likelihood(prm, d),
            np.asarray(initial, dtype=np.float64),
            scale=d.total_weight,
        )
        p, q, gamma = (float(v) for v in result.params)
        return cls(
            p=p,
            q=q,
            gamma=gamma,
            log_likelihood=result.log_likelihood,
            n_customers=int(x.shape[0]),
            converged=result.converged,
            iterations=result.iterations,
        )

    @property
    def population_mean_spend(self) -> float:
        """E[average transaction value] across customers; inf when q <= 1 (heavy tail)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")

    def expected_average_spend(self, frequency: ArrayLike, monetary: ArrayLike) -> np.ndarray:
        """E[average transaction value | x, z] = p (gamma + x z) / (p x + q - 1) per customer.

        A weighted mix of the population mean and the customer's own average, leaning on the
        latter as x grows. Customers with x == 0 get the population mean (their z is ignored).
        """
        x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
        z = np.atleast_1d(np.asarray(monetary, dtype=np.float64))
        x, z = np.broadcast_arrays(x, z)
        z = np.where(x > 0, z, 0.0)
        denominator = self.p * x + self.q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = self.p * (self.gamma + x * z) / denominator
        return np.where(denominator > 0, value, np.inf)


def frequency_spend_correlation(frequency: ArrayLike, monetary: ArrayLike) -> float:
    """Pearson correlation of x and z among repeat buyers; near 0 supports the model."""
    x, z, _ = _repeat_buyers(frequency, monetary, None)
    if x.shape[0] < 3 or np.std(x) == 0 or np.std(z) == 0:
        return float("nan")
    return float(np.corrcoef(x, z)[0, 1])

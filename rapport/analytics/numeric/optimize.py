"""Maximum-likelihood driver shared by the purchase, spend and retention models.

Every model maximises a log-likelihood over strictly positive parameters. We optimise their
logarithms with L-BFGS-B: positivity then needs no constraint, the scales of r (~0.1) and
alpha (~10) stop mattering, and analytic gradients pass through the chain rule
d/dlog(p) = p * d/dp.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

# exp(+-30) spans 1e-13..1e13: wider than any meaningful parameter, narrow enough that exp()
# inside a likelihood never overflows while the optimiser explores.
_LOG_BOUND = 30.0
# Max |d(mean log-likelihood)/d(log param)| accepted as converged when L-BFGS-B stops early.
_GRADIENT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class MleResult:
    """Maximum-likelihood estimate: positive parameters, the maximised log-likelihood."""

    params: np.ndarray
    log_likelihood: float
    converged: bool
    iterations: int
    message: str


def maximize_log_likelihood(
    log_likelihood: Callable[[np.ndarray], tuple[float, np.ndarray]],
    initial: np.ndarray,
    *,
    scale: float,
    max_iterations: int = 2000,
) -> MleResult:
    """Maximise ``log_likelihood(params)`` over positive params starting from ``initial``.

    ``log_likelihood`` returns ``(ll, gradient)`` with the analytic gradient w.r.t. the positive
    params. ``scale`` (usually the number of customers) divides the objective so
    that tolerances mean "per customer".
    Guarantees: returned params are positive and finite; ``log_likelihood`` is the value there.
    """
    theta0 = np.log(np.asarray(initial, dtype=np.float64))
    dim = theta0.shape[0]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = log_likelihood(params)
        g = -np.asarray(grad) * params / scale
        if not (np.isfinite(ll) and np.isfinite(g).all()):
            # Returning a large finite value lets L-BFGS-B back off instead of aborting.
            return 1e100, np.zeros(dim)
        return -ll / scale, g

    result = minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * dim,
        options={"maxiter": max_iterations, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20},
    )
    params = np.exp(result.x)
    ll, _ = log_likelihood(params)
    # L-BFGS-B reports "ABNORMAL" when its line search cannot improve on an optimum that is
    # already flat to rounding noise (we ask for ftol 1e-14); a near-zero gradient per customer
    # is the real test of convergence.
    _, final_gradient = objective(result.x)
    flat = bool(np.max(np.abs(final_gradient)) <= _GRADIENT_TOLERANCE)
    return MleResult(
        params=params,
        log_likelihood=float(ll),
        converged=(bool(result.success) or flat) and bool(np.isfinite(ll)),
        iterations=int(result.nit),
        message=str(result.message),
    )


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * values) for 1-d arrays, computed on one thread.

    numpy's ``@`` hands long vectors to OpenBLAS, which splits a dot product over its threads;
    on a busy 2-core host those threads spin-wait for each other and a 1M-customer BG/NBD fit
    measured 7x slower (2.6 s vs 0.35 s). einsum's own loop is single-threaded and just as fast
    on an idle machine.
    """
    return float(np.einsum("i,i->", weights, values))

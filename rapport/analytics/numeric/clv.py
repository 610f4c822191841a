"""Customer lifetime value from a purchase model and a spend model, and model-fit reports.

Discounting follows Fader, Hardie & Lee: expected purchases in each future period, valued at the
customer's expected average spend, discounted per period:
    CLV = margin * E[spend] * sum_{k=1..H} (E[X(k L)] - E[X((k-1) L)]) / (1 + d)^k
with L the period length in model time units (4.345 weeks in a month) and d the per-period
discount rate. ``ParetoNbdModel.discounted_expected_residual_transactions`` gives the
continuous-discounting, infinite-horizon counterpart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .gammagamma import GammaGammaModel
from .histories import compress_histories

WEEKS_PER_MONTH = 365.25 / 12 / 7


class PurchaseModel(Protocol):
    """What CLV and the fit report need from BG/NBD or Pareto/NBD."""

    name: str
    log_likelihood: float
    n_customers: int
    converged: bool

    @property
    def params(self) -> dict[str, float]: ...

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray: ...

    def expected_purchases(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, t: ArrayLike
    ) -> np.ndarray: ...


def discounted_expected_purchases(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    periods: int = 12,
    period_length: float = WEEKS_PER_MONTH,
    discount_rate: float = 0.01,
) -> np.ndarray:
    """Per customer: expected purchases in each of the next ``periods`` periods, discounted by
    (1 + discount_rate)^k and summed. Computed once per distinct history."""
    if periods < 1 or period_length <= 0 or discount_rate <= -1:
        raise ValueError("need periods >= 1, period_length > 0 and discount_rate > -1")
    h = compress_histories(frequency, recency, T)
    k = np.arange(periods + 1, dtype=np.float64)
    cumulative = np.column_stack(
        [model.expected_purchases(h.frequency, h.recency, h.T, t) for t in k * period_length]
    )
    per_period = np.diff(cumulative, axis=1)
    discount = (1.0 + discount_rate) ** -k[1:]
    # einsum rather than @: BLAS threads spin on a busy host (see optimize.weighted_sum).
    return h.expand(np.einsum("ij,j->i", per_period, discount))


def customer_value(
    summary: pd.DataFrame,
    purchase_model: PurchaseModel,
    spend_model: GammaGammaModel,
    *,
    periods: int = 12,
    period_length: float = WEEKS_PER_MONTH,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> pd.DataFrame:
    """Per customer of ``summary`` (columns frequency, recency, T, monetary): probability alive,
    expected purchases over the horizon, expected average spend and discounted CLV.

    The horizon is ``periods`` x ``period_length`` model time units; ``clv`` is
    margin x expected spend x discounted expected purchases, in the currency of ``monetary``.
    Same index as ``summary``.
    """
    x = summary["frequency"].to_numpy(dtype=np.float64)
    tx = summary["recency"].to_numpy(dtype=np.float64)
    big_t = summary["T"].to_numpy(dtype=np.float64)
    h = compress_histories(x, tx, big_t)
    alive = h.expand(purchase_model.probability_alive(h.frequency, h.recency, h.T))
    horizon = periods * period_length
    expected = h.expand(purchase_model.expected_purchases(h.frequency, h.recency, h.T, horizon))
    spend = spend_model.expected_average_spend(x, summary["monetary"].to_numpy(dtype=np.float64))
    discounted = discounted_expected_purchases(
        purchase_model,
        x,
        tx,
        big_t,
        periods=periods,
        period_length=period_length,
        discount_rate=discount_rate,
    )
    return pd.DataFrame(
        {
            "probability_alive": alive,
            "expected_purchases": expected,
            "expected_average_spend": spend,
            "clv": margin * spend * discounted,
        },
        index=summary.index,
    )


@dataclass(frozen=True)
class FitReport:
    """Parameters, log-likelihood and holdout calibration of a fitted purchase model.

    ``calibration`` has one row per calibration-frequency bin (0, 1, ..., ``max_bin``+): the
    number of customers and their mean actual and predicted holdout purchases.
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    calibration: pd.DataFrame | None = None
    holdout_actual: float = float("nan")
    holdout_predicted: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python form for JSON APIs and templates."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "log_likelihood": self.log_likelihood,
            "n_customers": self.n_customers,
            "converged": self.converged,
            "holdout_actual": self.holdout_actual,
            "holdout_predicted": self.holdout_predicted,
            "calibration": (
                [] if self.calibration is None else self.calibration.to_dict(orient="records")
            ),
            **self.extra,
        }


def fit_report(model: PurchaseModel, summary: pd.DataFrame, *, max_bin: int = 7) -> FitReport:
    """Report on ``model`` against ``summary``; calibration vs holdout when the summary has
    ``frequency_holdout`` and ``duration_holdout`` columns (see ``customer_summary``)."""
    report = FitReport(
        model=model.name,
        params=dict(model.params),
        log_likelihood=float(model.log_likelihood),
        n_customers=int(model.n_customers),
        converged=bool(model.converged),
    )
    if not {"frequency_holdout", "duration_holdout"} <= set(summary.columns):
        return report
    table = holdout_calibration(model, summary, max_bin=max_bin)
    return FitReport(
        model=report.model,
        params=report.params,
        log_likelihood=report.log_likelihood,
        n_customers=report.n_customers,
        converged=report.converged,
        calibration=table,
        holdout_actual=float(summary["frequency_holdout"].sum()),
        holdout_predicted=float((table["predicted"] * table["customers"]).sum()),
    )


def holdout_calibration(
    model: PurchaseModel, summary: pd.DataFrame, *, max_bin: int = 7
) -> pd.DataFrame:
    """Mean actual vs predicted holdout purchases per calibration frequency (last bin: x >= max_bin).

    Columns: ``bin`` (label), ``customers``, ``actual``, ``predicted``.
    """
    x = summary["frequency"].to_numpy(dtype=np.float64)
    h = compress_histories(x, summary["recency"], summary["T"])
    durations = summary["duration_holdout"].to_numpy(dtype=np.float64)
    if np.ptp(durations) == 0:
        predicted_rows = model.expected_purchases(h.frequency, h.recency, h.T, durations[0])
        predicted = h.expand(predicted_rows)
    else:
        predicted = model.expected_purchases(x, summary["recency"], summary["T"], durations)
    bins = np.minimum(x, max_bin).astype(np.int64)
    frame = pd.DataFrame(
        {"bin": bins, "actual": summary["frequency_holdout"].to_numpy(), "predicted": predicted}
    )
    table = frame.groupby("bin").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    table = table.reset_index()
    table["bin"] = [f"{b}+" if b == max_bin else str(b) for b in table["bin"]]
    return table

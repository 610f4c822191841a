"""Cohort retention: matrices by first-purchase period and the shifted-beta-geometric model.

The sBG model (Fader & Hardie 2007, "How to project customer retention") is for contractual
settings: each customer churns at the end of every period with probability theta, and theta is
Beta(alpha, beta) across customers. Survival is S(t) = B(alpha, beta + t) / B(alpha, beta) and
retention rates rise over time as the high-churn customers leave first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, hyp2f1

from .optimize import maximize_log_likelihood
from .summary import purchase_occasions


@dataclass(frozen=True)
class RetentionMatrix:
    """Cohorts by first-purchase period.

    ``active`` counts the cohort's customers with a purchase in each period since their first
    (column 0 is the cohort size); ``retention`` divides by the cohort size. Cells the data
    cannot have observed yet are NaN, not 0.
    """

    sizes: pd.Series
    active: pd.DataFrame
    retention: pd.DataFrame


def retention_matrix(
    transactions: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    period: str = "M",
    as_of: object | None = None,
) -> RetentionMatrix:
    """Retention matrix of customers by first-purchase period (monthly by default).

    ``as_of`` (default: the last transaction date) bounds what could have been observed.
    """
    occ = purchase_occasions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=None
    )
    days = occ["day"]
    if getattr(days.dt, "tz", None) is not None:
        days = days.dt.tz_localize(None)
    ordinal = pd.PeriodIndex(days.dt.to_period(period)).asi8
    last = (
        int(pd.PeriodIndex([pd.Timestamp(as_of).to_period(period)]).asi8[0])
        if as_of is not None
        else int(ordinal.max())
    )
    frame = pd.DataFrame({"customer_id": occ["customer_id"].to_numpy(), "ordinal": ordinal})
    frame = frame[frame["ordinal"] <= last]
    frame["cohort"] = frame.groupby("customer_id")["ordinal"].transform("min")
    frame["age"] = frame["ordinal"] - frame["cohort"]
    active = (
        frame.drop_duplicates(["customer_id", "age"])
        .groupby(["cohort", "age"])
        .size()
        .unstack("age", fill_value=0)
        .astype(np.float64)
    )
    ages = np.arange(active.columns.max() + 1 if len(active.columns) else 1)
    active = active.reindex(columns=ages, fill_value=0.0)
    observable = (last - active.index.to_numpy())[:, None] >= ages[None, :]
    active = active.where(observable)
    labels = pd.PeriodIndex.from_ordinals(active.index.to_numpy(), freq=period)
    active.index = pd.Index(labels, name="cohort")
    active.columns = pd.Index(ages, name="period")
    sizes = active[0].astype(np.int64).rename("customers")
    return RetentionMatrix(sizes=sizes, active=active, retention=active.div(active[0], axis=0))


def survival_counts(
    starts: ArrayLike,
    ends: ArrayLike,
    *,
    as_of: object,
    period: str = "M",
) -> pd.DataFrame:
    """Contract survival by start cohort: customers still subscribed t periods after starting.

    ``ends`` holds each contract's end date or NaT if still active. A customer counts as alive
    at age t when their end period is later than start period + t. Unobservable cells are NaN.
    Rows are cohorts (Period), columns ages 0, 1, ...; feed it to ``SbgModel.fit_cohorts``.
    """
    start_ord = pd.PeriodIndex(pd.to_datetime(pd.Series(starts)).dt.to_period(period)).asi8
    end_series = pd.to_datetime(pd.Series(ends))
    end_ord = np.where(
        end_series.isna(),
        np.iinfo(np.int64).max,
        pd.PeriodIndex(end_series.dt.to_period(period)).asi8,
    )
    last = int(pd.PeriodIndex([pd.Timestamp(as_of).to_period(period)]).asi8[0])
    if (start_ord > last).any():
        raise ValueError("a contract starts after as_of")
    lifetime = np.minimum(end_ord, last + 1) - start_ord  # periods survived, censored at as_of
    cohorts = np.unique(start_ord)
    max_age = int(last - cohorts.min())
    ages = np.arange(max_age + 1)
    rows = []
    for cohort in cohorts:
        alive = lifetime[start_ord == cohort]
        counts = (alive[:, None] > ages[None, :]).sum(axis=0).astype(np.float64)
        counts[ages > last - cohort] = np.nan
        rows.append(counts)
    index = pd.Index(pd.PeriodIndex.from_ordinals(cohorts, freq=period), name="cohort")
    return pd.DataFrame(rows, index=index, columns=pd.Index(ages, name="period"))


def _churn_and_censored(alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per age t >= 1: customers lost in period t; per age k: customers still alive when
    observation stopped (right-censored). ``alive`` is cohorts x ages with NaN after the end."""
    alive = np.atleast_2d(np.asarray(alive, dtype=np.float64))
    n_ages = alive.shape[1]
    churned = np.zeros(n_ages)
    censored = np.zeros(n_ages)
    for row in alive:
        observed = row[~np.isnan(row)]
        if observed.size == 0:
            continue
        if np.isnan(row[: observed.size]).any():
            raise ValueError("each cohort's counts must be contiguous from age 0")
        if (np.diff(observed) > 0).any() or (observed < 0).any():
            raise ValueError("survivor counts must be non-negative and non-increasing")
        churned[1 : observed.size] += -np.diff(observed)
        censored[observed.size - 1] += observed[-1]
    return churned, censored


def _sbg_log_likelihood(
    params: np.ndarray, churned: np.ndarray, censored: np.ndarray
) -> tuple[float, np.ndarray]:
    alpha, beta = params
    t = np.arange(churned.shape[0], dtype=np.float64)
    base = betaln(alpha, beta)
    d_base_a = digamma(alpha) - digamma(alpha + beta)
    d_base_b = digamma(beta) - digamma(alpha + beta)
    # P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta), t >= 1.
    tc = t[1:]
    log_p = betaln(alpha + 1.0, beta + tc - 1.0) - base
    dp_a = digamma(alpha + 1.0) - digamma(alpha + beta + tc) - d_base_a
    dp_b = digamma(beta + tc - 1.0) - digamma(alpha + beta + tc) - d_base_b
    # S(k) = B(alpha, beta + k) / B(alpha, beta).
    log_s = betaln(alpha, beta + t) - base
    ds_a = digamma(alpha) - digamma(alpha + beta + t) - d_base_a
    ds_b = digamma(beta + t) - digamma(alpha + beta + t) - d_base_b
    c = churned[1:]
    ll = c @ log_p + censored @ log_s
    grad = np.array([c @ dp_a + censored @ ds_a, c @ dp_b + censored @ ds_b])
    return float(ll), grad


@dataclass(frozen=True)
class SbgModel:
    """Shifted-beta-geometric retention model: churn probability theta ~ Beta(alpha, beta)."""

    alpha: float
    beta: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = True

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta}

    @classmethod
    def fit(cls, alive: ArrayLike) -> SbgModel:
        """Fit on one cohort's survivor counts n_0 >= n_1 >= ... (n_t alive after t periods).

        Percentages work too when scaled by the cohort size (e.g. 1000 x survival rates).
        """
        return cls.fit_cohorts(np.atleast_2d(np.asarray(alive, dtype=np.float64)))

    @classmethod
    def fit_cohorts(cls, alive: pd.DataFrame | np.ndarray) -> SbgModel:
        """Fit on several cohorts (rows, NaN where not yet observed), e.g. ``survival_counts``.

        Guarantees positive finite (alpha, beta); cohorts observed for different lengths are
        combined correctly because each row's last count is treated as right-censored.
        """
        values = alive.to_numpy(dtype=np.float64) if isinstance(alive, pd.DataFrame) else alive
        churned, censored = _churn_and_censored(values)
        n = float(churned.sum() + censored.sum())
        if n <= 0 or churned.sum() == 0:
            raise ValueError("need at least one churned customer to fit sBG")
        result = maximize_log_likelihood(
            lambda p: _sbg_log_likelihood(p, churned, censored), np.array([1.0, 1.0]), scale=n
        )
        alpha, beta = (float(v) for v in result.params)
        return cls(
            alpha=alpha,
            beta=beta,
            log_likelihood=result.log_likelihood,
            n_customers=int(round(n)),
            converged=result.converged,
        )

    def survival(self, t: ArrayLike) -> np.ndarray:
        """S(t): share of a starting cohort still a customer after t periods; S(0) = 1."""
        t_arr = np.asarray(t, dtype=np.float64)
        return np.exp(betaln(self.alpha, self.beta + t_arr) - betaln(self.alpha, self.beta))

    def churn_probability(self, t: ArrayLike) -> np.ndarray:
        """P(T = t): probability a new customer churns exactly at the end of period t >= 1."""
        t_arr = np.asarray(t, dtype=np.float64)
        return np.exp(
            betaln(self.alpha + 1.0, self.beta + t_arr - 1.0) - betaln(self.alpha, self.beta)
        )

    def retention_rate(self, t: ArrayLike) -> np.ndarray:
        """r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), for t >= 1."""
        t_arr = np.asarray(t, dtype=np.float64)
        return (self.beta + t_arr - 1.0) / (self.alpha + self.beta + t_arr - 1.0)

    def project(self, cohort_size: float, periods: int) -> np.ndarray:
        """Expected survivors at t = 0..periods for a cohort of ``cohort_size``."""
        return cohort_size * self.survival(np.arange(periods + 1))

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL = sum_t S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d)): the present
        value, in periods of revenue, of a customer just acquired (Fader & Hardie 2010)."""
        if discount_rate <= 0:
            raise ValueError("discount_rate must be positive")
        return float(hyp2f1(1.0, self.beta, self.alpha + self.beta, 1.0 / (1.0 + discount_rate)))

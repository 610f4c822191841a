"""Demand forecast: daily case volume weeks ahead with 80 % / 95 % prediction intervals.

Holt-Winters exponential smoothing with an additive weekly season (statsmodels; a
damped additive trend is added when it lowers the AIC and there are at least eight weeks),
checked by a rolling-origin backtest against the seasonal-naive baseline (next week = the
same weekday last week): MAE and MASE, the latter scaled by the in-sample seasonal-naive
error, so MASE < 1 means better than repeating last week.
"""

from __future__ import annotations

import datetime
import hashlib
import warnings

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate

from rapport.cases.models import Case

SEASON = 7
MIN_HISTORY_DAYS = 28
TREND_MIN_DAYS = 56
MAX_HISTORY_DAYS = 730
BACKTEST_HORIZON = 7
BACKTEST_ORIGINS = 4
LEVELS = (80, 95)
SIMULATIONS = 2000
SIMULATION_SEED = 12
CACHE_SECONDS = 3600


class TooLittleHistory(ValueError):
    def __init__(self, days: int):
        super().__init__(f"too little history: {days} days, need {MIN_HISTORY_DAYS}")
        self.days = days


# ----- the models ------------------------------------------------------------------------


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last full week repeated."""
    last = history[-SEASON:]
    return np.array([last[i % SEASON] for i in range(horizon)], dtype=float)


def _fit(history: np.ndarray, trend: bool):
    import pandas as pd
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(
        pd.Series(history.astype(float)),
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="add",
        seasonal_periods=SEASON,
        initialization_method="estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat series
        return model.fit(use_brute=False)


def _choose_trend(history: np.ndarray):
    """(trend?, the chosen fit): a damped trend only when it lowers the AIC."""
    flat = _fit(history, False)
    if history.size < TREND_MIN_DAYS:
        return False, flat
    try:
        trended = _fit(history, True)
    except (ValueError, np.linalg.LinAlgError):
        return False, flat
    return (True, trended) if trended.aic < flat.aic else (False, flat)


def ets_forecast(history: np.ndarray, horizon: int, *, trend: bool = False, fit=None) -> dict:
    """Point forecast and the 80 / 95 % intervals (never below zero). The intervals are
    quantiles of simulated future paths with additive errors (the state-space form of the
    fitted Holt-Winters model), seeded so that a page and the API agree."""
    fit = fit if fit is not None else _fit(history, trend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = np.asarray(fit.forecast(horizon), dtype=float)
        paths = np.asarray(
            fit.simulate(
                horizon, repetitions=SIMULATIONS, error="add", random_state=SIMULATION_SEED
            ),
            dtype=float,
        ).reshape(horizon, -1)
    out = {"mean": np.clip(mean, 0, None)}
    for level in LEVELS:
        tail = (100 - level) / 2
        out[f"lower{level}"] = np.clip(np.percentile(paths, tail, axis=1), 0, None)
        out[f"upper{level}"] = np.clip(np.percentile(paths, 100 - tail, axis=1), 0, None)
    return out


def backtest(history: np.ndarray, *, trend: bool = False) -> dict | None:
    """Rolling origin: up to four origins a week apart, each forecasting the next 7 days
    from the history before it; the model's and seasonal-naive's MAE and MASE."""
    n = history.size
    origins = min(BACKTEST_ORIGINS, (n - MIN_HISTORY_DAYS) // BACKTEST_HORIZON)
    if origins < 1:
        return None
    model_errors, naive_errors = [], []
    for k in range(origins, 0, -1):
        cut = n - k * BACKTEST_HORIZON
        train, test = history[:cut], history[cut : cut + BACKTEST_HORIZON]
        model_errors.append(np.abs(ets_forecast(train, test.size, trend=trend)["mean"] - test))
        naive_errors.append(np.abs(seasonal_naive(train, test.size) - test))
    scale = float(np.mean(np.abs(history[SEASON:] - history[:-SEASON])))
    model_mae = float(np.mean(np.concatenate(model_errors)))
    naive_mae = float(np.mean(np.concatenate(naive_errors)))
    return {
        "origins": origins,
        "horizon_days": BACKTEST_HORIZON,
        "model": {
            "mae": round(model_mae, 3),
            "mase": round(model_mae / scale, 3) if scale else None,
        },
        "seasonal_naive": {
            "mae": round(naive_mae, 3),
            "mase": round(naive_mae / scale, 3) if scale else None,
        },
    }


def forecast_series(history: np.ndarray, first_day: datetime.date, horizon: int) -> dict:
    """The forecast of a daily series whose next day is `first_day`, with its backtest.
    Raises TooLittleHistory under four weeks."""
    history = np.asarray(history, dtype=float)
    if history.size < MIN_HISTORY_DAYS:
        raise TooLittleHistory(int(history.size))
    trend, fit = _choose_trend(history)
    result = ets_forecast(history, horizon, trend=trend, fit=fit)
    naive = seasonal_naive(history, horizon)
    days = [first_day + datetime.timedelta(days=i) for i in range(horizon)]
    return {
        "model": "Holt-Winters, damped trend, weekly season"
        if trend
        else "Holt-Winters, weekly season",
        "history_days": int(history.size),
        "points": [
            {
                "date": day,
                "mean": round(float(result["mean"][i]), 2),
                "lower80": round(float(result["lower80"][i]), 2),
                "upper80": round(float(result["upper80"][i]), 2),
                "lower95": round(float(result["lower95"][i]), 2),
                "upper95": round(float(result["upper95"][i]), 2),
                "seasonal_naive": float(naive[i]),
            }
            for i, day in enumerate(days)
        ],
        "backtest": backtest(history, trend=trend),
    }


# ----- reading the history ---------------------------------------------------------------


def daily_volume(cases: QuerySet[Case], start: datetime.date, end: datetime.date) -> np.ndarray:
    """Cases created per local day from `start` to `end` inclusive (zeros filled in)."""
    from rapport.analytics.service.metrics import _day_start

    counts = dict(
        cases.filter(
            created_at__gte=_day_start(start),
            created_at__lt=_day_start(end + datetime.timedelta(days=1)),
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    )
    length = (end - start).days + 1
    return np.array(
        [counts.get(start + datetime.timedelta(days=i), 0) for i in range(length)], dtype=float
    )


def first_case_day(cases: QuerySet[Case]) -> datetime.date | None:
    first = (
        cases.order_by("created_at")
        .annotate(day=TruncDate("created_at"))
        .values_list("day", flat=True)
    ).first()
    return first


def hour_profile(cases: QuerySet[Case], start: datetime.date, end: datetime.date) -> np.ndarray:
    """7 × 24 shares: of a weekday's cases, the share created in each local hour (a weekday
    without history takes the profile of all days)."""
    from rapport.analytics.service.metrics import _day_start

    grid = np.zeros((7, 24))
    rows = (
        cases.filter(
            created_at__gte=_day_start(start),
            created_at__lt=_day_start(end + datetime.timedelta(days=1)),
        )
        .annotate(d=ExtractIsoWeekDay("created_at"), h=ExtractHour("created_at"))
        .values("d", "h")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("d", "h", "n")
    )
    for d, h, n in rows:
        grid[d - 1, h] = n
    overall = grid.sum(axis=0)
    overall = overall / overall.sum() if overall.sum() else np.full(24, 1 / 24)
    totals = grid.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, grid / np.where(totals == 0, 1, totals), overall)
    return shares


def service_forecast(
    *,
    user,
    queue_id: int | None = None,
    category_id: int | None = None,
    channel: str | None = None,
    horizon_days: int = 42,
    today: datetime.date | None = None,
) -> dict:
    """The daily volume forecast of the cases `user` may see (as service_metrics), from
    the history up to yesterday (at most two years); `status` "too_little_history" with
    the reason when there are fewer than 28 days."""
    from django.utils import timezone

    from rapport.analytics.service.metrics import MetricsFilter, filtered, service_cases_for

    today = today or timezone.localdate()
    cases = filtered(
        service_cases_for(user),
        MetricsFilter(
            start=today, end=today, queue_id=queue_id, category_id=category_id, channel=channel
        ),
    )
    # The fits take a second or more: the answer is kept until the history changes (the
    # key carries the cases' count, last id and last change) or the day turns.
    state = cases.aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at"))
    key = "svc-forecast:" + ":".join(
        str(x)
        for x in (
            str(cases.query.where),
            queue_id,
            category_id,
            channel,
            horizon_days,
            today,
            state["n"],
            state["last"],
            state["changed"],
        )
    )
    key = "svc-forecast:" + hashlib.sha256(key.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = _service_forecast(cases, horizon_days=horizon_days, today=today)
    cache.set(key, result, CACHE_SECONDS)
    return result


def _service_forecast(cases: QuerySet[Case], *, horizon_days: int, today: datetime.date) -> dict:
    end = today - datetime.timedelta(days=1)
    first = first_case_day(cases)
    base = {"horizon_days": horizon_days, "first_day": today}
    if first is None or first > end:
        days = 0
    else:
        start = max(first, end - datetime.timedelta(days=MAX_HISTORY_DAYS - 1))
        days = (end - start).days + 1
    if days < MIN_HISTORY_DAYS:
        return {
            **base,
            "status": "too_little_history",
            "history_days": days,
            "message": str(TooLittleHistory(days)),
            "points": [],
            "backtest": None,
        }
    history = daily_volume(cases, start, end)
    result = forecast_series(history, today, horizon_days)
    return {
        **base,
        "status": "ok",
        "message": "",
        "history_start": start,
        "history": [
            {"date": start + datetime.timedelta(days=i), "cases": int(v)}
            for i, v in enumerate(history[-56:], start=max(0, history.size - 56))
        ],
        **result,
    }

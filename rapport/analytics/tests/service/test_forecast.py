"""The demand forecast on generated data with a known weekly season, and on the database."""

import datetime

import numpy as np
import pytest

from rapport.analytics.service.forecast import (
    MIN_HISTORY_DAYS,
    TooLittleHistory,
    daily_volume,
    forecast_series,
    seasonal_naive,
    service_forecast,
)
from rapport.analytics.service.staffing import service_staffing
from rapport.cases.models import Case

from .conftest import make_case

WEEK = np.array([120.0, 130, 125, 118, 110, 40, 30])  # Monday … Sunday
FIRST = datetime.date(2026, 1, 5)  # a Monday


def generated(seed: int, days: int, noise: float = 10.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.tile(WEEK, days // 7 + 1)[:days] + rng.normal(0, noise, days)


def test_seasonal_naive_repeats_the_last_week():
    history = np.arange(14.0)
    assert seasonal_naive(history, 9).tolist() == [7, 8, 9, 10, 11, 12, 13, 7, 8]


def test_model_beats_seasonal_naive_and_intervals_cover_their_level():
    covered80, covered95, points = 0, 0, 0
    for seed in range(3):
        series = generated(seed, 168 + 28)
        history, future = series[:168], series[168:]
        result = forecast_series(history, FIRST + datetime.timedelta(days=168), 28)
        backtest = result["backtest"]
        assert backtest["origins"] == 4
        assert backtest["model"]["mae"] < backtest["seasonal_naive"]["mae"]
        assert backtest["model"]["mase"] < 1.0
        for point, actual in zip(result["points"], future, strict=True):
            covered80 += point["lower80"] <= actual <= point["upper80"]
            covered95 += point["lower95"] <= actual <= point["upper95"]
            points += 1
            assert point["lower95"] <= point["lower80"] <= point["mean"] <= point["upper80"]
            assert point["upper80"] <= point["upper95"]
        # The weekly shape is learnt: the forecast Saturday is far below the Monday.
        assert result["points"][5]["mean"] < result["points"][0]["mean"] - 50
    assert 0.65 <= covered80 / points <= 0.95
    assert 0.85 <= covered95 / points <= 1.0


def test_short_history_is_refused_honestly():
    with pytest.raises(TooLittleHistory, match="too little history: 20 days, need 28"):
        forecast_series(generated(1, 20), FIRST, 28)
    result = forecast_series(generated(1, MIN_HISTORY_DAYS), FIRST, 28)
    assert result["backtest"] is None  # no origin with four weeks before it
    assert len(result["points"]) == 28


@pytest.mark.django_db
def test_service_forecast_reads_daily_volume_from_cases(personas, settings):
    settings.TIME_ZONE = "UTC"
    today = datetime.date(2026, 3, 2)
    start = today - datetime.timedelta(days=35)
    counts = [3, 4, 4, 3, 4, 1, 0] * 5
    rows = []
    number = 50000
    for i, n in enumerate(counts):
        day = start + datetime.timedelta(days=i)
        for k in range(n):
            number += 1
            rows.append(
                (number, datetime.datetime.combine(day, datetime.time(9 + k), datetime.UTC))
            )
    for number, created in rows:
        make_case(number=number, created_at=created)
    cases = Case.objects.all()
    assert daily_volume(cases, start, today - datetime.timedelta(days=1)).tolist() == counts
    result = service_forecast(user=personas.admin, horizon_days=28, today=today)
    assert result["status"] == "ok"
    assert result["history_days"] == 35
    assert result["points"][0]["date"] == today
    assert len(result["points"]) == 28
    # Kept until the history changes: one more case yesterday is in the next answer.
    assert service_forecast(user=personas.admin, horizon_days=28, today=today) == result
    make_case(
        created_at=datetime.datetime.combine(today, datetime.time(), datetime.UTC)
        - datetime.timedelta(hours=1)
    )
    again = service_forecast(user=personas.admin, horizon_days=28, today=today)
    assert again["history"][-1]["cases"] == counts[-1] + 1
    plan = service_staffing(user=personas.admin, today=today, horizon_days=28, forecast=result)
    assert {h["hour"] for h in plan["hours"]} <= {9, 10, 11, 12}
    assert plan["peak_agents"] >= 1

    short = service_forecast(user=personas.admin, today=start + datetime.timedelta(days=10))
    assert short["status"] == "too_little_history"
    assert short["message"] == "too little history: 10 days, need 28"
    assert service_staffing(user=personas.admin, forecast=short)["hours"] == []

"""Staffing with Erlang C: agents needed per hour to answer a target share of contacts
within a target time, from the forecast volume spread over the hours of the day by the
historical hour-of-day profile of each weekday.

Erlang C (M/M/N queue): with traffic A = arrivals per second × average handle time (in
Erlangs) and N agents, the probability that a contact waits is
    C(N, A) = N·B / (N − A·(1 − B)),  B = Erlang B(N, A) (computed by its stable recursion),
and the share answered within T seconds is 1 − C(N, A)·exp(−(N − A)·T / AHT).
"""

from __future__ import annotations

import datetime
import math

import numpy as np

from rapport.analytics.service.metrics import WEEKDAYS


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability, by B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1))."""
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a contact waits (1 when the agents cannot keep up: N ≤ A)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, aht_seconds: float, target_seconds: float) -> float:
    """Share of contacts answered within `target_seconds`."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    wait = erlang_c(agents, traffic)
    return 1.0 - wait * math.exp(-(agents - traffic) * target_seconds / aht_seconds)


def agents_needed(
    *, contacts_per_hour: float, aht_seconds: float, target_share: float, target_seconds: float
) -> dict:
    """The fewest agents reaching the service level, with what they reach."""
    traffic = contacts_per_hour * aht_seconds / 3600.0
    if traffic <= 0:
        return {"traffic": 0.0, "agents": 0, "service_level": 1.0, "wait_probability": 0.0}
    agents = max(1, math.floor(traffic) + 1)
    while True:
        level = service_level(agents, traffic, aht_seconds, target_seconds)
        if level >= target_share:
            break
        agents += 1
    return {
        "traffic": round(traffic, 3),
        "agents": agents,
        "service_level": round(level, 4),
        "wait_probability": round(erlang_c(agents, traffic), 4),
    }


def staffing_plan(
    *,
    days: list[datetime.date],
    daily_volume: np.ndarray,
    profile: np.ndarray,
    aht_seconds: float,
    target_share: float,
    target_seconds: float,
) -> dict:
    """Per weekday and hour: the forecast contacts (the weekday's mean forecast over the
    horizon × the hour's historical share) and the agents Erlang C asks for."""
    per_weekday = np.zeros(7)
    seen = np.zeros(7)
    for day, volume in zip(days, daily_volume, strict=True):
        per_weekday[day.weekday()] += volume
        seen[day.weekday()] += 1
    per_weekday = np.divide(per_weekday, seen, out=np.zeros(7), where=seen > 0)
    hours = []
    peak = 0
    for hour in range(24):
        cells = []
        for wd in range(7):
            contacts = float(per_weekday[wd] * profile[wd, hour])
            need = agents_needed(
                contacts_per_hour=contacts,
                aht_seconds=aht_seconds,
                target_share=target_share,
                target_seconds=target_seconds,
            )
            peak = max(peak, need["agents"])
            cells.append({"weekday": wd + 1, "contacts": round(contacts, 2), **need})
        if any(c["contacts"] >= 0.05 for c in cells):
            hours.append({"hour": hour, "cells": cells})
    return {
        "aht_seconds": aht_seconds,
        "target_share": target_share,
        "target_seconds": target_seconds,
        "weekdays": list(WEEKDAYS),
        "daily_forecast": [round(float(v), 2) for v in per_weekday],
        "hours": hours,
        "peak_agents": peak,
        "agent_hours_per_week": int(sum(c["agents"] for h in hours for c in h["cells"])),
    }


PROFILE_WEEKS = 26


def service_staffing(
    *,
    user,
    queue_id: int | None = None,
    category_id: int | None = None,
    channel: str | None = None,
    horizon_days: int = 42,
    aht_seconds: float = 300,
    target_share: float = 0.8,
    target_seconds: float = 20,
    today: datetime.date | None = None,
    forecast: dict | None = None,
) -> dict:
    """Agents per weekday and hour for the forecast (service_forecast) of the cases `user`
    may see; the hour profile comes from the last 26 weeks."""
    from django.utils import timezone

    from rapport.analytics.service.forecast import hour_profile, service_forecast
    from rapport.analytics.service.metrics import MetricsFilter, filtered, service_cases_for

    today = today or timezone.localdate()
    if forecast is None:
        forecast = service_forecast(
            user=user,
            queue_id=queue_id,
            category_id=category_id,
            channel=channel,
            horizon_days=horizon_days,
            today=today,
        )
    base = {
        "status": forecast["status"],
        "message": forecast["message"],
        "aht_seconds": aht_seconds,
        "target_share": target_share,
        "target_seconds": target_seconds,
    }
    if forecast["status"] != "ok":
        return {
            **base,
            "weekdays": list(WEEKDAYS),
            "daily_forecast": [],
            "hours": [],
            "peak_agents": 0,
            "agent_hours_per_week": 0,
        }
    cases = filtered(
        service_cases_for(user),
        MetricsFilter(
            start=today, end=today, queue_id=queue_id, category_id=category_id, channel=channel
        ),
    )
    end = today - datetime.timedelta(days=1)
    profile = hour_profile(cases, end - datetime.timedelta(weeks=PROFILE_WEEKS), end)
    plan = staffing_plan(
        days=[p["date"] for p in forecast["points"]],
        daily_volume=np.array([p["mean"] for p in forecast["points"]]),
        profile=profile,
        aht_seconds=aht_seconds,
        target_share=target_share,
        target_seconds=target_seconds,
    )
    return {**base, **plan}

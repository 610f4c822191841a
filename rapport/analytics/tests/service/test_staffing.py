"""Erlang C against textbook values, and the staffing plan built from a forecast."""

import datetime
import math

import numpy as np
import pytest

from rapport.analytics.service.staffing import (
    agents_needed,
    erlang_b,
    erlang_c,
    service_level,
    staffing_plan,
)

# The textbook example (e.g. the Erlang C worked example of call-centre handbooks):
# 100 calls in 30 minutes, 180 s average handle time → A = 10 Erlangs; target 80 % in 20 s.
# (agents, P(wait), service level = 1 − P(wait)·exp(−(N − A)·20 / 180)) worked by hand.
ERLANG_C_TABLE = [
    (11, 0.6821, 1 - 0.6821 * math.exp(-1 * 20 / 180)),  # 0.3896
    (12, 0.4494, 1 - 0.4494 * math.exp(-2 * 20 / 180)),  # 0.6402
    (13, 0.2853, 1 - 0.2853 * math.exp(-3 * 20 / 180)),  # 0.7956
    (14, 0.1741, 1 - 0.1741 * math.exp(-4 * 20 / 180)),  # 0.8884
]


@pytest.mark.parametrize("agents,wait,level", ERLANG_C_TABLE)
def test_erlang_c_matches_the_textbook_table(agents, wait, level):
    assert erlang_c(agents, 10.0) == pytest.approx(wait, abs=5e-5)
    assert service_level(agents, 10.0, 180, 20) == pytest.approx(level, abs=1e-4)


def test_erlang_closed_forms():
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: the utilisation
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # 2ρ² / (1 + ρ), ρ = 0.5
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_c(5, 5.0) == 1.0  # cannot keep up
    assert service_level(5, 5.0, 180, 20) == 0.0


def test_agents_needed_is_the_fewest_that_reach_the_target():
    need = agents_needed(
        contacts_per_hour=200, aht_seconds=180, target_share=0.8, target_seconds=20
    )
    assert need["traffic"] == 10.0
    assert need["agents"] == 14  # 13 reach 79.6 % only
    assert need["service_level"] >= 0.8
    easier = agents_needed(
        contacts_per_hour=200, aht_seconds=180, target_share=0.75, target_seconds=20
    )
    assert easier["agents"] == 13
    assert (
        agents_needed(contacts_per_hour=0, aht_seconds=180, target_share=0.8, target_seconds=20)[
            "agents"
        ]
        == 0
    )


def test_staffing_plan_spreads_the_forecast_over_the_hour_profile():
    days = [datetime.date(2026, 6, 1) + datetime.timedelta(days=i) for i in range(14)]  # Mon…
    volume = np.array([80.0, 80, 80, 80, 80, 0, 0] * 2)
    profile = np.zeros((7, 24))
    profile[:, 9] = 0.5
    profile[:, 14] = 0.5
    plan = staffing_plan(
        days=days,
        daily_volume=volume,
        profile=profile,
        aht_seconds=180,
        target_share=0.8,
        target_seconds=20,
    )
    assert [h["hour"] for h in plan["hours"]] == [9, 14]
    monday_nine = plan["hours"][0]["cells"][0]
    assert monday_nine["contacts"] == 40.0  # half of Monday's 80
    assert monday_nine["traffic"] == 2.0
    assert (
        monday_nine["agents"]
        == agents_needed(
            contacts_per_hour=40, aht_seconds=180, target_share=0.8, target_seconds=20
        )["agents"]
    )
    assert plan["hours"][0]["cells"][6]["agents"] == 0  # Sunday: no contacts
    assert plan["daily_forecast"] == [80.0] * 5 + [0.0, 0.0]

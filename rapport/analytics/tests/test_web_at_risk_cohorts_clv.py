# ruff: noqa: F811 - the fixtures are imported from warehouse_fixtures
"""At-risk list = the run summary's count; cohorts without new customers and the partial
month; CLV band labels for small values; amounts that never wrap inside the number."""

import datetime
import re
from pathlib import Path

import pytest
import time_machine

from rapport.analytics.models import AnalyticsSettings, CustomerScore, WarehouseRun
from rapport.analytics.tests.integration.warehouse_fixtures import (  # noqa: F401
    known_base,
    products,
    today,
    warehouse_file,
)
from rapport.analytics.tests.test_web_analytics import refresh_ok, table
from rapport.analytics.views import _histogram, band_decimals
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


# ----- at risk: the list and the summary use one predicate ---------------------------------


def test_the_at_risk_list_holds_exactly_the_customers_the_run_counted(
    personas, api_as, known_base, today
):
    run = refresh_ok()
    # The run's cutoff is 100.004 (revenue quantiles are not cents): Beta, at 100.00 and a
    # high churn risk, is just under it, so the run did not count it; Alpha is at risk.
    CustomerScore.objects.filter(account=known_base.alpha).update(
        churn_risk=0.9, revenue=300, at_risk=True, value_at_risk=270
    )
    CustomerScore.objects.filter(account=known_base.beta).update(
        churn_risk=0.9, revenue=100, at_risk=False, value_at_risk=90
    )
    WarehouseRun.objects.filter(pk=run.pk).update(
        summary={**run.summary, "at_risk": 1, "at_risk_value_cutoff": 100.004}
    )
    listed = api_as(personas.owner).get("/api/analytics/at-risk").data["items"]
    assert [row["name"] for row in listed] == ["Alpha"]
    page = text_of(ui_client(personas.owner).get("/analytics/at-risk/"))
    assert re.search(r'Customers at risk <span class="count">1</span>', page)
    assert "flagged 1 customer;" in page
    overview = text_of(ui_client(personas.owner).get("/analytics/"))
    assert "Beta" not in table(overview, "table-at-risk")


def test_scoring_flags_as_many_customers_as_its_summary_counts(known_base, today):
    run = refresh_ok()
    flagged = CustomerScore.objects.filter(at_risk=True)
    assert flagged.count() == run.summary["at_risk"]
    cutoff = run.summary["at_risk_value_cutoff"]
    assert cutoff == round(cutoff, 2)
    for score in flagged:
        assert float(score.revenue) >= cutoff and score.churn_risk >= 0.5


# ----- cohorts ------------------------------------------------------------------------------


def test_cohorts_without_new_customers_say_so_and_show_earlier_cohorts_buying(
    personas, api_as, known_base
):
    # A year after the known base's customers arrived: Alpha (a 2025-01 customer) bought in
    # 2025-06, nobody new came in 2025-05..2026-04.
    with time_machine.travel(datetime.datetime(2026, 4, 15, 12, tzinfo=datetime.UTC), tick=False):
        refresh_ok()
        page = text_of(ui_client(personas.manager).get("/analytics/cohorts/"))
        data = api_as(personas.manager).get("/api/analytics/cohorts", months=12).data
    assert data["cohorts"] == []
    assert data["period"] == {"start": "2025-05", "end": "2026-04"}
    assert data["earlier"]["customers"] == 3
    months = {m["month"]: m["active"] for m in data["earlier"]["months"]}
    assert months["2025-06"] == 1 and sum(months.values()) == 1
    assert "No purchases in the period" not in page
    assert "No new customers from 2025-05 to 2026-04: every buyer of the period had bought" in page
    earlier = table(page, "table-earlier-cohorts")
    assert re.search(r"2025-06</time></th><td class=\"num\">1<", earlier)
    assert '2026-04</time> <span class="muted">(partial)</span>' in earlier


def test_the_month_of_the_observation_end_is_marked_partial(personas, api_as, known_base, today):
    AnalyticsSettings.objects.filter(pk=1).update(observation_end="last_order")  # 2025-06-20
    refresh_ok()
    data = api_as(personas.manager).get("/api/analytics/cohorts", months=12).data
    assert data["as_of"] == "2025-06-20" and data["partial_month"] == "2025-06"
    page = text_of(ui_client(personas.manager).get("/analytics/cohorts/"))
    cohorts = table(page, "table-cohorts")
    # One partial cell per cohort row (its latest month), none elsewhere.
    assert cohorts.count("heat-partial") == len(data["cohorts"]) == 3
    assert "2025-06 is a partial month: observed to 2025-06-20" in page


def test_a_month_that_is_over_is_not_partial(personas, api_as, known_base, today):
    refresh_ok()  # as of today, 2025-06-30: June is over
    data = api_as(personas.manager).get("/api/analytics/cohorts", months=12).data
    assert data["partial_month"] is None
    assert "heat-partial" not in text_of(ui_client(personas.manager).get("/analytics/cohorts/"))


# ----- CLV bands ----------------------------------------------------------------------------


def test_small_clv_bands_get_enough_decimals_to_be_told_apart():
    edges = [i * 0.3 for i in range(21)]
    histogram = [
        {"low": lo, "high": hi, "customers": 1} for lo, hi in zip(edges, edges[1:], strict=False)
    ] + [{"low": 6.0, "high": None, "customers": 2}]
    labels = [b["label"] for b in _histogram({"histogram": histogram})]
    assert labels[:3] == ["0.0–0.3", "0.3–0.6", "0.6–0.9"]
    assert labels[-1] == "≥ 6.0"
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize(
    ("edges", "digits"),
    [
        ([0, 2500, 5000, 7500], 0),
        ([0, 0.3, 0.6], 1),
        ([0, 0.05, 0.1], 2),
        ([0, 1.5, 3.0, 4.5], 1),
        ([0, 0.004, 0.008], 3),
        ([12.0], 0),
    ],
)
def test_band_decimals(edges, digits):
    assert band_decimals(edges) == digits


# ----- amounts do not wrap ------------------------------------------------------------------


def test_amounts_and_figures_never_wrap_inside_the_number():
    css = (Path(__file__).parents[1] / "static" / "analytics" / "analytics.css").read_text(
        encoding="utf-8"
    )
    rule = re.search(r"\n\.num, [^{]*\{[^}]*\}", css)
    assert rule and "white-space: nowrap" in rule.group(0)

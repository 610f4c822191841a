"""Sales reports on a hand-computed history: three deals created on 5 Jan 2026."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from rapport.activities.services import activity_log
from rapport.analytics.sales.metrics import SalesFilters, sales_metrics
from rapport.sales.services import opportunity_move_stage

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


def _at(days: float):
    return time_machine.travel(T0 + datetime.timedelta(days=days), tick=False)


@pytest.fixture
def history(personas, make_opportunity, stages, pipeline):
    with _at(0):
        a = make_opportunity(name="A", amount=Decimal("1000"))
        b = make_opportunity(name="B", amount=Decimal("500"))
        make_opportunity(name="C", amount=Decimal("300"))
    moves = [
        (2, a, "Qualification"),
        (4, b, "Qualification"),
        (5, a, "Proposal"),
        (6, b, "Closed Lost"),
        (10, a, "Closed Won"),
    ]
    for day, opp, stage in moves:
        with _at(day):
            opp.refresh_from_db()
            opportunity_move_stage(
                opportunity=opp,
                stage=stages[stage],
                actor=personas.owner,
                lost_reason="Price" if stage == "Closed Lost" else "",
            )
    with _at(3):
        activity_log(
            actor=personas.owner,
            kind="call",
            fields={"subject": "Intro", "direction": "outbound"},
            links={"opportunity_id": a.pk},
        )
    return pipeline


def _report(user, pipeline):
    filters = SalesFilters(
        start=datetime.date(2026, 1, 1), end=datetime.date(2026, 2, 1), pipeline=pipeline
    )
    with _at(40):
        return sales_metrics(user=user, filters=filters)


def test_hand_computed_report(personas, history):
    m = _report(personas.owner, history)
    wl = m["win_loss"]
    assert (wl["won"], wl["lost"], wl["win_rate"]) == (1, 1, 0.5)
    assert (wl["won_amount"], wl["lost_amount"]) == (Decimal("1000.00"), Decimal("500.00"))
    assert wl["lost_reasons"] == [{"reason": "Price", "deals": 1}]
    v = m["velocity"]
    assert v["open_deals"] == 1 and v["average_cycle_days"] == 10.0
    assert v["per_day"] == Decimal("50.00")  # 1 open × 0.5 × 1000 / 10 days
    assert v["per_30_days"] == Decimal("1500.00")
    funnel = {row["stage"]: (row["reached"], row["to_next"]) for row in m["funnel"]}
    assert funnel["Prospecting"] == (3, pytest.approx(2 / 3))
    assert funnel["Qualification"] == (2, 0.5)
    assert funnel["Proposal"] == (1, 1.0)
    assert funnel["Negotiation"] == (1, 1.0)  # skipped on the way to won: still passed
    assert funnel["Won"] == (1, None)
    stay = {row["stage"]: (row["stints"], row["median_days"]) for row in m["time_in_stage"]}
    assert stay["Prospecting"] == (2, 3.0)  # A 2 days, B 4 days; C is still there
    assert stay["Qualification"] == (2, 2.5)  # A 3 days, B 2 days
    assert stay["Proposal"] == (1, 5.0)
    assert stay["Negotiation"] == (0, None)
    assert m["activities"]["reps"] == [
        {"rep": "owner", "total": 1, "by_kind": {"call": 1}, "counts": [1]}
    ]


def test_only_visible_deals_count_and_the_api(personas, history, api_as):
    outsider = _report(personas.outsider, history)
    assert outsider["win_loss"]["won"] == 0 and outsider["funnel_cohort"] == 0
    with _at(40):
        answer = api_as(personas.owner).get(
            f"/api/analytics/sales?start=2026-01-01&end=2026-02-01&pipeline_id={history.pk}"
        )
    assert answer.status_code == 200, answer.data
    assert answer.data["win_loss"]["won"] == 1
    bad = api_as(personas.owner).get("/api/analytics/sales?start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 422 and bad.data["field"] == "end"


def test_page(personas, history, client):
    client.force_login(personas.owner)
    with _at(40):
        page = client.get("/analytics/sales/?start=2026-01-01&end=2026-02-01")
    assert page.status_code == 200
    assert b"Stage conversion funnel" in page.content and b"Price" in page.content
    assert client.get("/analytics/sales/?start=2026-02-01&end=2026-01-01").status_code == 400
    assert timezone.now()  # the clock is back

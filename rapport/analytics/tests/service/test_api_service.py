"""The service analytics API: who sees what, the known answers through HTTP, bad input."""

import datetime

import pytest
import time_machine

from .conftest import END, START

pytestmark = pytest.mark.django_db

RANGE = {"start": START.isoformat(), "end": END.isoformat()}


def test_managers_and_admins_see_the_whole_desk(desk, personas, api_as):
    for user in (personas.admin, personas.manager):
        response = api_as(user).get("/api/analytics/service/metrics", **RANGE)
        assert response.status_code == 200, response.data
        assert response.data["volume"]["total"] == 5
        assert response.data["first_response"]["median_minutes"] == 45.0
        assert response.data["sla"]["first_response"]["attainment"] == 0.5


def test_queue_members_see_their_queues_and_others_are_refused(desk, personas, api_as):
    member = api_as(personas.teammate).get("/api/analytics/service/metrics", **RANGE)
    assert member.status_code == 200
    assert member.data["volume"]["total"] == 1  # the Mornings queue's c3 only
    assert [a["name"] for a in member.data["agents"]] == ["teammate"]
    other_queue = api_as(personas.teammate).get(
        "/api/analytics/service/metrics", queue=desk.desk.pk, **RANGE
    )
    assert other_queue.status_code == 422
    assert other_queue.data["field"] == "queue"
    for path in ("metrics", "forecast", "staffing"):
        refused = api_as(personas.outsider).get(f"/api/analytics/service/{path}")
        assert refused.status_code == 403, path
    assert api_as(None).get("/api/analytics/service/metrics").status_code == 401


def test_filters_through_http(desk, personas, api_as):
    client = api_as(personas.admin)
    assert (
        client.get("/api/analytics/service/metrics", channel="phone", **RANGE).data["volume"][
            "total"
        ]
        == 1
    )
    by_category = client.get("/api/analytics/service/metrics", category=desk.login.pk, **RANGE)
    assert by_category.data["volume"]["total"] == 1


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-05-10", "end": "2026-05-01"}, "start"),
        ({"start": "2020-01-01", "end": "2026-05-01"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": "0001-01-01"}, "start"),
        ({"end": "9999-12-31"}, "end"),
        ({"category": 999999}, "category"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
def test_bad_input_names_the_field(desk, personas, api_as, params, field):
    response = api_as(personas.admin).get("/api/analytics/service/metrics", **params)
    assert response.status_code == 422
    assert response.data["field"] == field


def test_forecast_and_staffing_say_when_history_is_too_short(desk, personas, api_as):
    client = api_as(personas.admin)
    with time_machine.travel(datetime.datetime(2026, 4, 10, 12, tzinfo=datetime.UTC), tick=False):
        forecast = client.get("/api/analytics/service/forecast")
        assert forecast.status_code == 200
        assert forecast.data["status"] == "too_little_history"
        assert forecast.data["message"] == "too little history: 9 days, need 28"
        staffing = client.get("/api/analytics/service/staffing", aht_seconds=240)
        assert staffing.status_code == 200
        assert staffing.data["status"] == "too_little_history"
    with time_machine.travel(datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC), tick=False):
        forecast = client.get("/api/analytics/service/forecast", horizon=28)
        assert forecast.data["status"] == "ok"
        assert forecast.data["history_days"] == 61  # 1 April to 31 May
        assert len(forecast.data["points"]) == 28
        assert forecast.data["backtest"]["origins"] == 4
    assert client.get("/api/analytics/service/forecast", horizon=7).status_code == 422
    bad_share = client.get("/api/analytics/service/staffing", target_share=1.5)
    assert bad_share.status_code == 422
    assert bad_share.data["field"] == "target_share"

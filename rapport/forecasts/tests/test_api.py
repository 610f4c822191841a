"""/api/forecasts: quotas validation and who may set and read them, commits, categories,
and a forecast that counts only deals the caller may see."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.forecasts.models import ForecastSubmission, Quota
from rapport.forecasts.periods import QUARTER, period_containing
from rapport.sales.models import Stage
from rapport.sales.services import opportunity_create, opportunity_move_stage
from rapport.timeline.models import TimelineEvent


def _period():
    return period_containing(QUARTER, timezone.localdate())


def _deal(owner, amount, name, *, due=None):
    period = _period()
    return opportunity_create(
        actor=owner,
        owner=owner,
        fields={
            "name": name,
            "amount": Decimal(amount),
            "expected_close_date": due or period.end - datetime.timedelta(days=1),
        },
    )


@pytest.mark.django_db
def test_quota_put_validates_and_names_the_field(personas, api_as):
    api = api_as(personas.admin)
    key = _period().key
    bad = [
        ({"period": "2026-13", "user_id": personas.owner.pk, "amount": "1"}, "period"),
        ({"period": "26-Q1", "user_id": personas.owner.pk, "amount": "1"}, "period"),
        ({"period": "2301-Q1", "user_id": personas.owner.pk, "amount": "1"}, "period"),
        ({"period": key, "user_id": personas.owner.pk, "amount": "-5"}, "amount"),
        ({"period": key, "user_id": personas.owner.pk, "amount": "1.005"}, "amount"),
        ({"period": key, "user_id": personas.owner.pk, "amount": "1e30"}, "amount"),
        ({"period": key, "amount": "100"}, "target"),
        (
            {
                "period": key,
                "user_id": personas.owner.pk,
                "team_id": personas.team_a.pk,
                "amount": "1",
            },
            "target",
        ),
    ]
    for body, field in bad:
        response = api.put("/api/forecasts/quotas", body)
        assert response.status_code == 422, (body, response.data)
        assert field in str(response.data), (body, response.data)
    assert (
        api.put(
            "/api/forecasts/quotas", {"period": key, "user_id": 999999, "amount": "1"}
        ).status_code
        == 404
    )
    assert not Quota.objects.exists()

    ok = api.put(
        "/api/forecasts/quotas", {"period": key, "user_id": personas.owner.pk, "amount": "50000"}
    )
    assert ok.status_code == 200 and ok.data["amount"] == "50000.00"
    again = api.put(
        "/api/forecasts/quotas", {"period": key, "user_id": personas.owner.pk, "amount": "60000"}
    )
    assert again.data["id"] == ok.data["id"] and Quota.objects.get().amount == 60000
    gone = api.put(
        "/api/forecasts/quotas", {"period": key, "user_id": personas.owner.pk, "amount": None}
    )
    assert gone.status_code == 204 and not Quota.objects.exists()


@pytest.mark.django_db
def test_who_may_set_quotas(personas, api_as):
    key = _period().key
    body = {"period": key, "user_id": personas.owner.pk, "amount": "1000"}
    assert api_as(personas.owner).put("/api/forecasts/quotas", body).status_code == 403
    assert api_as(personas.outsider).put("/api/forecasts/quotas", body).status_code == 403
    assert api_as(personas.reader).put("/api/forecasts/quotas", body).status_code == 403
    assert api_as(personas.manager).put("/api/forecasts/quotas", body).status_code == 200
    # A manager does not set their own quota, nor their own team's.
    mine = {"period": key, "user_id": personas.manager.pk, "amount": "1"}
    assert api_as(personas.manager).put("/api/forecasts/quotas", mine).status_code == 403
    team = {"period": key, "team_id": personas.team_a.pk, "amount": "1"}
    assert api_as(personas.manager).put("/api/forecasts/quotas", team).status_code == 403
    assert api_as(personas.admin).put("/api/forecasts/quotas", team).status_code == 200


@pytest.mark.django_db
def test_rep_sees_own_quota_manager_sees_team(personas, api_as):
    period = _period()
    for user, amount in ((personas.owner, 100), (personas.teammate, 200), (personas.outsider, 300)):
        Quota.objects.create(
            user=user,
            period_kind=period.kind,
            period_start=period.start,
            amount=amount,
            updated_at=timezone.now(),
        )

    def seen(user):
        data = api_as(user).get("/api/forecasts/quotas", period=period.key).data
        return sorted(row["user_id"] for row in data)

    assert seen(personas.owner) == [personas.owner.pk]
    assert seen(personas.outsider) == [personas.outsider.pk]
    assert seen(personas.manager) == sorted([personas.owner.pk, personas.teammate.pk])
    assert len(seen(personas.admin)) == 3


@pytest.mark.django_db
def test_forecast_counts_only_visible_deals_and_scopes_are_guarded(personas, api_as):
    _deal(personas.owner, 1000, "Mine")
    _deal(personas.teammate, 2000, "Teammate's")
    _deal(personas.outsider, 4000, "Outsider's")
    key = _period().key
    mine = api_as(personas.owner).get("/api/forecasts", period=key, scope="me")
    assert mine.status_code == 200
    assert mine.data["pipeline"] == 1000 and mine.data["open_deals"] == 1
    assert mine.data["p10"] <= mine.data["p50"] <= mine.data["p90"] <= 1000
    everything = api_as(personas.owner).get("/api/forecasts", period=key, scope="all")
    assert everything.data["pipeline"] == 1000
    # A rep may not look at a teammate, a team or another rep's numbers.
    assert (
        api_as(personas.owner)
        .get("/api/forecasts", scope=f"user:{personas.teammate.pk}")
        .status_code
        == 404
    )
    assert (
        api_as(personas.owner).get("/api/forecasts", scope=f"team:{personas.team_a.pk}").status_code
        == 404
    )
    assert api_as(personas.owner).get("/api/forecasts", scope="team:x").status_code == 422
    assert api_as(personas.owner).get("/api/forecasts", period="2026-Q9").status_code == 422
    # The manager's roll-up: their team's deals, one row per rep; not the outsider's.
    team = api_as(personas.manager).get(
        "/api/forecasts", period=key, scope=f"team:{personas.team_a.pk}"
    )
    assert team.status_code == 200
    assert team.data["pipeline"] == 3000
    names = {r["user_id"] for r in team.data["reps"]}
    assert {personas.owner.pk, personas.teammate.pk} <= names
    assert personas.outsider.pk not in names
    assert (
        api_as(personas.manager)
        .get("/api/forecasts", scope=f"user:{personas.outsider.pk}")
        .status_code
        == 404
    )


@pytest.mark.django_db
def test_won_deal_moves_attainment(personas, api_as):
    period = _period()
    Quota.objects.create(
        user=personas.owner,
        period_kind=period.kind,
        period_start=period.start,
        amount=4000,
        updated_at=timezone.now(),
    )
    deal = _deal(personas.owner, 1000, "Closing")
    before = api_as(personas.owner).get("/api/forecasts", period=period.key).data
    assert before["won"] == 0 and before["attainment"] == 0
    assert before["coverage"] == pytest.approx(1000 / 4000)
    won = Stage.objects.get(pipeline=deal.pipeline, kind="won")
    opportunity_move_stage(opportunity=deal, stage=won, actor=personas.owner)
    after = api_as(personas.owner).get("/api/forecasts", period=period.key).data
    assert after["won"] == 1000 and after["attainment"] == pytest.approx(0.25)
    assert after["p10"] >= 1000 and after["categories"]["closed"] == 1000


@pytest.mark.django_db
def test_commit_is_the_callers_own_and_kept_as_a_log(personas, api_as):
    key = _period().key
    api = api_as(personas.owner)
    assert api.put(f"/api/forecasts/commits/{key}", {"amount": "-1"}).status_code == 422
    assert api.put("/api/forecasts/commits/2026-99", {"amount": "1"}).status_code == 422
    assert (
        api.put(
            f"/api/forecasts/commits/{key}", {"amount": "5000", "note": "two deals"}
        ).status_code
        == 200
    )
    assert api.put(f"/api/forecasts/commits/{key}", {"amount": "6000"}).status_code == 200
    assert ForecastSubmission.objects.filter(user=personas.owner).count() == 2
    assert api.get("/api/forecasts", period=key).data["commit"] == 6000
    assert (
        api_as(personas.reader).put(f"/api/forecasts/commits/{key}", {"amount": "1"}).status_code
        == 403
    )
    team = api_as(personas.manager).get(
        "/api/forecasts", period=key, scope=f"team:{personas.team_a.pk}"
    )
    assert team.data["commit"] == 6000


@pytest.mark.django_db
def test_category_set_by_owner_adjusted_by_manager_and_logged(personas, api_as):
    deal = _deal(personas.owner, 1000, "Categorised")
    path = f"/api/forecasts/opportunities/{deal.pk}/category"
    assert api_as(personas.owner).put(path, {"category": "bogus"}).status_code == 422
    assert api_as(personas.outsider).put(path, {"category": "commit"}).status_code == 404
    assert api_as(personas.owner).put(path, {"category": "best_case"}).data["changed"] is True
    assert api_as(personas.manager).put(path, {"category": "commit"}).data["changed"] is True
    events = TimelineEvent.objects.filter(opportunity=deal, payload__has_key="forecast_category")
    summaries = sorted(e.summary for e in events)
    assert summaries == [
        "Forecast category adjusted to Commit",
        "Forecast category set to Best case",
    ]
    data = api_as(personas.owner).get("/api/forecasts", period=_period().key).data
    assert data["categories"]["commit"] == 1000 and data["deals"][0]["category_set"]


@pytest.mark.django_db
def test_anonymous_gets_401(api_as):
    anonymous = api_as(None)
    assert anonymous.get("/api/forecasts").status_code == 401
    assert anonymous.get("/api/forecasts/quotas").status_code == 401
    assert anonymous.put("/api/forecasts/commits/2026-Q4", {"amount": "1"}).status_code == 401


@pytest.mark.django_db
def test_home_page_shows_the_reps_quota_attainment(personas, client):
    period = _period()
    deal = _deal(personas.owner, 2500, "Home deal")
    won = Stage.objects.get(pipeline=deal.pipeline, kind="won")
    opportunity_move_stage(opportunity=deal, stage=won, actor=personas.owner)
    _deal(personas.owner, 5000, "Due")
    client.force_login(personas.owner)
    assert "stat-quota" not in client.get("/").content.decode()
    Quota.objects.create(
        user=personas.owner,
        period_kind=period.kind,
        period_start=period.start,
        amount=10000,
        updated_at=timezone.now(),
    )
    page = client.get("/").content.decode()
    assert "stat-quota" in page and "25 %" in page
    assert "won 2,500.00 EUR of 10,000.00 EUR" in page and "coverage 0.7×" in page


@pytest.mark.django_db
def test_forecast_page_renders_for_rep_and_manager(personas, client):
    _deal(personas.owner, 1000, "Paged deal")
    client.force_login(personas.owner)
    page = client.get("/analytics/forecast/")
    assert page.status_code == 200 and "Paged deal" in page.content.decode()
    assert "Set quotas" not in page.content.decode()
    assert client.get(f"/analytics/forecast/?scope=team:{personas.team_a.pk}").status_code == 404
    assert client.get("/analytics/forecast/?period=bogus").status_code == 400
    assert client.get("/analytics/forecast/?scope=bogus").status_code == 400
    client.force_login(personas.manager)
    team = client.get(
        f"/analytics/forecast/?scope=team:{personas.team_a.pk}&period={_period().key}"
    )
    assert team.status_code == 200 and "Per rep" in team.content.decode()
    rep = client.get(f"/analytics/forecast/?scope=user:{personas.owner.pk}")
    assert rep.status_code == 200 and "Olga Owner" in rep.content.decode()
    grid = client.get("/analytics/forecast/quotas/")
    assert grid.status_code == 200
    name = f"q-user-{personas.owner.pk}-{_period().key}"
    assert name in grid.content.decode()
    assert f"q-user-{personas.manager.pk}-" not in grid.content.decode()
    bad = client.post("/analytics/forecast/quotas/", {"kind": "quarter", name: "-3"})
    assert bad.status_code == 422 and not Quota.objects.exists()
    ok = client.post("/analytics/forecast/quotas/", {"kind": "quarter", name: "12,000"})
    assert ok.status_code == 302 and Quota.objects.get().amount == 12000

"""The analytics API: who sees which scores and numbers, the known answers through HTTP,
refresh runs, settings, and query counts of the lists."""

import pytest

from rapport.accounts.services import account_create
from rapport.analytics.models import CustomerScore, RunStatus, WarehouseRun
from rapport.analytics.services import analytics_refresh_now
from rapport.analytics.tests.integration.warehouse_fixtures import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshed(known_base, today):
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return known_base


@pytest.fixture
def outsider_customer(personas, products, today):
    """A customer of team B, invisible to team A."""
    elsewhere = account_create(actor=personas.outsider, fields={"name": "Elsewhere"})
    buy(personas.outsider, elsewhere, "2025-05-01", [(products["P1"], 5000)])
    return elsewhere


# ----- availability ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/analytics/segments",
        "/api/analytics/clv",
        "/api/analytics/kpis",
        "/api/analytics/cohorts",
        "/api/analytics/cube",
    ],
)
def test_aggregates_answer_409_before_the_first_refresh(personas, api_as, path):
    response = api_as(personas.admin).get(path)
    assert response.status_code == 409
    assert response.data["code"] == "no_snapshot"


@pytest.mark.parametrize("path", ["/api/analytics/segments", "/api/analytics/at-risk"])
def test_anonymous_and_deactivated_users_get_401(personas, api_as, refreshed, path):
    assert api_as(None).get(path).status_code == 401
    assert api_as(personas.deactivated).get(path).status_code == 401


# ----- per-customer scores --------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "admin"])
def test_who_sees_the_customer_sees_its_scores(personas, api_as, refreshed, who):
    response = api_as(getattr(personas, who)).get(
        f"/api/analytics/customers/{refreshed.alpha.pk}/scores"
    )
    assert response.status_code == 200
    data = response.data
    assert data["scored"] is True
    assert (data["segment"], data["r_score"], data["orders"]) == ("champions", 5, 3)
    assert float(data["revenue"]) == 300.0


@pytest.mark.parametrize("who", ["outsider", "teammate", "reader"])
def test_who_cannot_see_the_customer_gets_404_for_its_scores(personas, api_as, refreshed, who):
    api = api_as(getattr(personas, who))
    assert api.get(f"/api/analytics/customers/{refreshed.alpha.pk}/scores").status_code == 404
    assert api.get(f"/api/analytics/contacts/{refreshed.carol.pk}/scores").status_code == 404


def test_contact_customer_scores(personas, api_as, refreshed):
    data = api_as(personas.owner).get(f"/api/analytics/contacts/{refreshed.carol.pk}/scores").data
    assert (data["contact_id"], data["segment"], data["p_alive"]) == (
        refreshed.carol.pk,
        "lost",
        1.0,
    )


def test_a_visible_customer_without_orders_is_not_scored(personas, api_as, refreshed):
    fresh = account_create(actor=personas.owner, fields={"name": "No orders yet"})
    data = api_as(personas.owner).get(f"/api/analytics/customers/{fresh.pk}/scores").data
    assert data["scored"] is False and data["segment"] is None


def test_scores_appear_on_account_and_contact_outputs(personas, api_as, refreshed):
    api = api_as(personas.owner)
    account = api.get(f"/api/accounts/{refreshed.alpha.pk}").data
    assert account["scores"]["segment"] == "champions"
    assert set(account["scores"]) == {
        "segment",
        "clv",
        "p_alive",
        "churn_risk",
        "churn_source",
        "next_products",
        "upsell_products",
        "computed_at",
    }
    contact = api.get(f"/api/contacts/{refreshed.carol.pk}").data
    assert contact["scores"]["segment"] == "lost"
    fresh = api.post("/api/accounts", {"name": "Unscored"}).data
    assert fresh["scores"] is None


def test_account_list_filters_by_segment(personas, api_as, refreshed):
    api = api_as(personas.owner)
    names = [a["name"] for a in api.get("/api/accounts", segment="champions").data["items"]]
    assert names == ["Alpha"]
    contacts = api.get("/api/contacts", segment="lost").data["items"]
    assert [c["last_name"] for c in contacts] == ["Buyer"]


def test_account_list_sorts_by_clv_and_churn_risk_through_pages(personas, api_as, refreshed):
    account_create(actor=personas.owner, fields={"name": "Unscored"})
    api = api_as(personas.owner)
    expected = sorted(
        [(float(s.clv), s.account_id) for s in CustomerScore.objects.filter(contact=None)]
        + [(0.0, api.get("/api/accounts", q="Unscored").data["items"][0]["id"])],
        reverse=True,
    )
    seen, cursor = [], None
    while True:
        params = {"sort": "-clv", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/accounts", **params).data
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [pk for _, pk in expected]
    risky = api.get("/api/accounts", sort="-churn_risk").data["items"]
    risks = [(a["scores"] or {}).get("churn_risk", 0.0) for a in risky]
    assert risks == sorted(risks, reverse=True)


# ----- aggregates -------------------------------------------------------------------------


def test_segments_for_a_manager_cover_the_whole_org(personas, api_as, refreshed, outsider_customer):
    analytics_refresh_now(full=True)
    data = api_as(personas.manager).get("/api/analytics/segments").data
    assert data["whole_org"] is True
    assert data["customers"] == 4
    assert data["as_of"] == "2025-06-30"
    assert [r["segment"] for r in data["rules"]][0] == "champions"
    assert {t["measure"] for t in data["thresholds"]} == {"recency_days", "frequency", "monetary"}


def test_segments_for_a_rep_cover_the_customers_they_can_see(
    personas, api_as, refreshed, outsider_customer
):
    analytics_refresh_now(full=True)
    data = api_as(personas.owner).get("/api/analytics/segments").data
    assert data["whole_org"] is False
    assert data["customers"] == 3
    by_segment = {s["segment"]: s for s in data["segments"]}
    assert by_segment["lost"]["revenue"] == 30.0
    assert sum(s["revenue"] for s in data["segments"]) == 570.0
    outsider = api_as(personas.outsider).get("/api/analytics/segments").data
    assert outsider["customers"] == 1


def test_kpis_match_the_hand_computed_answer(personas, api_as, refreshed):
    data = api_as(personas.admin).get("/api/analytics/kpis", months=12).data
    assert data["window"] == {"start": "2024-07-01", "end": "2025-06-30", "months": 12}
    assert (data["customers"], data["orders"], data["revenue"]) == (3, 6, 570.0)
    assert data["repeat_customer_rate"] == pytest.approx(2 / 3)
    assert data["average_order_value"] == pytest.approx(95.0)
    assert data["purchase_frequency"] == pytest.approx(2.0)
    assert data["top20_revenue_share"] == pytest.approx(300 / 570)
    assert data["churn_rate"] is None  # nobody bought in the year before
    assert data["close_rate"] is None and data["cost_per_sale"] is None


def test_kpis_close_rate_counts_won_and_lost_opportunities(personas, api_as, refreshed):
    import datetime

    from rapport.sales.models import Opportunity, Pipeline, Stage

    pipeline = Pipeline.objects.create(name="Deals")
    won = Stage.objects.create(pipeline=pipeline, name="Won", kind="won", probability=100)
    lost = Stage.objects.create(pipeline=pipeline, name="Lost", kind="lost", probability=0)
    closed = datetime.datetime(2025, 5, 1, tzinfo=datetime.UTC)
    for stage in (won, won, lost):
        Opportunity.objects.create(
            name="Deal",
            owner=personas.owner,
            account=refreshed.alpha,
            pipeline=pipeline,
            stage=stage,
            closed_at=closed,
            amount=10,
        )
    analytics_refresh_now(full=True)
    data = api_as(personas.admin).get("/api/analytics/kpis").data
    assert (data["opportunities_won"], data["opportunities_lost"]) == (2, 1)
    assert data["close_rate"] == pytest.approx(2 / 3)
    assert data["won_amount"] == 20.0
    assert api_as(personas.outsider).get("/api/analytics/kpis").data["close_rate"] is None


def test_cohorts_retention_matrix(personas, api_as, refreshed):
    data = api_as(personas.admin).get("/api/analytics/cohorts", months=12).data
    rows = {row["cohort"]: row for row in data["cohorts"]}
    assert list(rows) == ["2024-12", "2025-01", "2025-02"]
    assert rows["2025-01"]["active"] == [1, 0, 1, 0, 0, 1]
    assert rows["2025-01"]["retention"] == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert rows["2024-12"]["customers"] == 1 and len(rows["2024-12"]["active"]) == 7


def test_cube_by_month_and_channel(personas, api_as, refreshed):
    data = api_as(personas.admin).get("/api/analytics/cube", by=["month", "channel"]).data
    assert [(r["month"], r["channel"], r["revenue"], r["orders"]) for r in data["rows"]] == [
        ("2024-12", "web", 30.0, 1),
        ("2025-01", "web", 100.0, 1),
        ("2025-02", "store", 240.0, 2),
        ("2025-03", "web", 50.0, 1),
        ("2025-06", "phone", 150.0, 1),
    ]


def test_cube_by_category_segment_owner_and_territory(personas, api_as, refreshed):
    api = api_as(personas.admin)
    by_category = api.get("/api/analytics/cube", by="category").data["rows"]
    assert [(r["category"], r["revenue"]) for r in by_category] == [
        ("hardware", 250.0),
        ("services", 70.0),
        ("software", 250.0),
    ]
    by_segment = api.get("/api/analytics/cube", by="segment").data["rows"]
    assert {r["segment"]: r["customers"] for r in by_segment} == {
        "champions": 1,
        "lost": 1,
        "potential loyalists": 1,
    }
    by_owner = api.get("/api/analytics/cube", by=["owner", "territory"]).data["rows"]
    assert {(r["owner_name"], r["territory"], r["revenue"]) for r in by_owner} == {
        ("Olga Owner", "DE", 240.0),
        ("Olga Owner", "FR", 300.0),
        ("Olga Owner", None, 30.0),
    }
    total = api.get("/api/analytics/cube", date_from="2025-02-01", date_to="2025-03-31").data
    assert total["rows"] == [{**total["rows"][0], "revenue": 290.0, "orders": 3, "customers": 2}]


def test_cube_for_a_rep_counts_only_visible_customers(
    personas, api_as, refreshed, outsider_customer
):
    analytics_refresh_now(full=True)
    rows = api_as(personas.owner).get("/api/analytics/cube").data["rows"]
    assert rows[0]["revenue"] == 570.0
    assert api_as(personas.admin).get("/api/analytics/cube").data["rows"][0]["revenue"] == 5570.0


def test_cube_refuses_unknown_dimensions(personas, api_as, refreshed):
    response = api_as(personas.admin).get("/api/analytics/cube", by="colour")
    assert response.status_code == 422
    assert response.data["field"].startswith("by")


def test_clv_distribution_and_top_customers_are_scoped(
    personas, api_as, refreshed, outsider_customer
):
    analytics_refresh_now(full=True)
    mine = api_as(personas.owner).get("/api/analytics/clv", bins=5, top=10).data
    assert mine["distribution"]["count"] == 3.0
    assert sum(b["customers"] for b in mine["histogram"]) == 3
    assert {t["name"] for t in mine["top"]} == {"Alpha", "Beta", "Carol Buyer"}
    everyone = api_as(personas.admin).get("/api/analytics/clv").data
    assert everyone["distribution"]["count"] == 4.0
    assert "Elsewhere" in {t["name"] for t in everyone["top"]}


def test_model_fit_report(personas, api_as, refreshed):
    data = api_as(personas.owner).get("/api/analytics/model-fit").data
    fits = {f["model"]: f for f in data["fits"]}
    assert set(fits["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert fits["bgnbd"]["log_likelihood"] < 0


def test_bad_query_values_give_422_with_the_field(personas, api_as, refreshed):
    api = api_as(personas.admin)
    for path, params, field in [
        ("/api/analytics/kpis", {"months": 0}, "months"),
        ("/api/analytics/cohorts", {"months": 99}, "months"),
        ("/api/analytics/clv", {"bins": 1}, "bins"),
        ("/api/analytics/at-risk", {"min_churn_risk": 2}, "min_churn_risk"),
    ]:
        response = api.get(path, **params)
        assert response.status_code == 422, path
        assert response.data["field"] == field
    assert api.get("/api/analytics/at-risk", sort="name").status_code == 400


# ----- refresh runs ----------------------------------------------------------------------


def test_manager_refresh_enqueues_a_run_that_completes(
    personas, api_as, known_base, today, django_capture_on_commit_callbacks
):
    api = api_as(personas.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/analytics/refresh", {"full": True})
    assert response.status_code == 201
    assert response.data["status"] == "queued"
    run = api.get(f"/api/analytics/runs/{response.data['id']}").data
    assert run["status"] == "succeeded", run["error"]
    assert run["customers"] == 3
    assert CustomerScore.objects.count() == 3


@pytest.mark.parametrize("who", ["owner", "reader", "outsider"])
def test_reps_may_not_refresh_or_see_runs(personas, api_as, who):
    api = api_as(getattr(personas, who))
    assert api.post("/api/analytics/refresh", {}).status_code == 403
    run = WarehouseRun.objects.create()
    assert api.get(f"/api/analytics/runs/{run.pk}").status_code == 403
    assert api.get("/api/analytics/runs").status_code == 403


def test_a_second_refresh_while_one_is_queued_is_a_conflict(personas, api_as):
    api = api_as(personas.admin)
    first = api.post("/api/analytics/refresh", {})  # on_commit never runs: stays queued
    assert first.status_code == 201
    second = api.post("/api/analytics/refresh", {})
    assert second.status_code == 409
    assert second.data["code"] == "refresh_in_progress"
    assert api.get("/api/analytics/runs/999999").status_code == 404


# ----- settings ---------------------------------------------------------------------------


def test_admin_changes_settings_with_if_match(personas, api_as):
    api = api_as(personas.admin)
    current = api.get("/api/analytics/settings")
    assert current.status_code == 200
    etag = current["ETag"]
    changed = api.patch("/api/analytics/settings", {"cost_per_call": "7.50"}, {"If-Match": etag})
    assert changed.status_code == 200
    assert changed.data["cost_per_call"] == "7.50"
    stale = api.patch("/api/analytics/settings", {"cost_per_call": "1"}, {"If-Match": etag})
    assert stale.status_code == 412


def test_settings_validation_and_permissions(personas, api_as):
    bad = api_as(personas.admin).patch("/api/analytics/settings", {"margin": 2})
    assert bad.status_code == 422 and bad.data["field"] == "margin"
    negative = api_as(personas.admin).patch("/api/analytics/settings", {"cost_per_call": -1})
    assert negative.status_code == 422 and negative.data["field"] == "cost_per_call"
    assert api_as(personas.manager).get("/api/analytics/settings").status_code == 200
    assert (
        api_as(personas.manager).patch("/api/analytics/settings", {"margin": 0.5}).status_code
        == 403
    )
    assert api_as(personas.owner).get("/api/analytics/settings").status_code == 403


# ----- query counts -----------------------------------------------------------------------


def _more_customers(personas, products, n, start):
    for i in range(n):
        account = account_create(actor=personas.owner, fields={"name": f"Extra {start + i}"})
        buy(personas.owner, account, "2024-01-10", [(products["P1"], 1000 + i)])
        buy(personas.owner, account, "2024-02-10", [(products["P2"], 1000 + i)])


@pytest.mark.parametrize(
    "path",
    [
        "/api/analytics/at-risk?min_churn_risk=0&min_revenue=0",
        "/api/accounts?sort=-clv",
        "/api/contacts?sort=-churn_risk",
        "/api/analytics/clv?top=50",
    ],
)
def test_list_queries_do_not_grow_with_rows(
    personas, api_as, products, known_base, today, django_assert_max_num_queries, path
):
    api = api_as(personas.owner)
    api.get("/api/me")
    _more_customers(personas, products, 2, 0)
    analytics_refresh_now(full=True)
    with django_assert_max_num_queries(15) as small:
        first = api.get(path)
    assert first.status_code == 200
    _more_customers(personas, products, 12, 10)
    analytics_refresh_now(full=True)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert api.get(path).status_code == 200

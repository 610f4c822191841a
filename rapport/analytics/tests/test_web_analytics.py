"""The analytics pages and the scores on the account and contact pages and lists: the same
selectors as the API, so the same people see the same numbers."""

import re

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.analytics.models import AnalyticsSettings, CustomerScore, RunStatus, WarehouseRun
from rapport.analytics.services import analytics_refresh_now
from rapport.analytics.tests.integration.warehouse_fixtures import (  # noqa: F401
    buy,
    known_base,
    products,
    today,
    warehouse_file,
)
from rapport.identity.models import User
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db

PAGES = [
    "/analytics/",
    "/analytics/segments/",
    "/analytics/cohorts/",
    "/analytics/model-fit/",
    "/analytics/at-risk/",
    "/analytics/cross-sell/",
]


def refresh_ok():
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


@pytest.fixture
def refreshed(known_base, today):  # noqa: F811
    refresh_ok()
    return known_base


@pytest.fixture
def outsider_customer(personas, products, today):  # noqa: F811
    """A big customer of team B, invisible to team A."""
    elsewhere = account_create(actor=personas.outsider, fields={"name": "Elsewhere"})
    buy(personas.outsider, elsewhere, "2025-05-01", [(products["P1"], 5000)])
    return elsewhere


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table {table_id}"
    return match.group(0)


def row_names(html: str) -> list[str]:
    """Record names of a list page's rows, in order."""
    return re.findall(r'cell-primary">\s*<a [^>]*>([^<]+)</a>', html)


# ----- overview and sub-pages -----------------------------------------------------------


def test_overview_before_the_first_refresh_says_what_to_do(personas):
    admin_page = text_of(ui_client(personas.admin).get("/analytics/"))
    assert "Analytics have not been computed yet" in admin_page
    assert "Refresh now" in admin_page
    rep_page = ui_client(personas.owner).get("/analytics/")
    assert rep_page.status_code == 200
    assert "Refresh now" not in text_of(rep_page)
    assert "A manager or an administrator starts the first refresh" in text_of(rep_page)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_before_the_first_refresh(personas, path):
    assert ui_client(personas.owner).get(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_overview_shows_kpis_charts_tables_and_calibration_on_demo_data(demo_snapshot):
    # demo_build(accounts=200, seed=7), closed accounts and a full refresh, built once a run
    demo_snapshot("demo-200-closed-refreshed")
    assert WarehouseRun.objects.latest("id").status == RunStatus.SUCCEEDED
    admin = User.objects.get(username="admin")
    response = ui_client(admin).get("/analytics/")
    assert response.status_code == 200
    html = text_of(response)
    for kpi in (
        "Repeat-customer rate",
        "Churn rate",
        "Average order value",
        "Purchase frequency",
        "Revenue concentration",
        "CLV, next 12 months",
    ):
        assert kpi in html
    assert "Whole organisation" in html
    scored = CustomerScore.objects.count()
    segments = table(html, "table-segments")
    assert f'<td class="num">{scored}</td>' in segments  # the total row
    assert "segment=champions&amp;sort=-clv" in segments or scored == 0
    assert "Recency (days since last purchase)" in table(html, "table-thresholds")
    clv_rows = re.findall(r"<tr", table(html, "table-clv"))
    assert len(clv_rows) == 1 + 21  # header, 20 bins and the open bin
    assert "<time" in table(html, "table-cohorts")
    calibration = table(html, "table-calibration")
    assert "Predicted" in calibration and "<tbody><tr>" in calibration
    assert "Log-likelihood" in html
    assert 'id="analytics-data"' in html and "chart.umd.min.js" in html
    assert "Refresh now" in html and "Last successful run" in html


def test_aggregates_of_a_rep_cover_the_customers_they_see(
    personas, refreshed, outsider_customer, api_as
):
    refresh_ok()
    owner_html = text_of(ui_client(personas.owner).get("/analytics/"))
    assert "Computed over the customers you can see" in owner_html
    api_kpis = api_as(personas.owner).get("/api/analytics/kpis").data
    assert api_kpis["whole_org"] is False
    revenue = f"{api_kpis['revenue']:,.2f} EUR"
    assert revenue in owner_html  # the same figure as the API's
    assert "Elsewhere" not in owner_html
    manager_html = text_of(ui_client(personas.manager).get("/analytics/"))
    assert "Whole organisation" in manager_html
    # Per-customer rows stay limited to visible customers, for managers too (as the API).
    top_api = api_as(personas.manager).get("/api/analytics/clv").data["top"]
    assert "Elsewhere" not in [t["name"] for t in top_api]
    outsider_html = text_of(ui_client(personas.outsider).get("/analytics/cross-sell/"))
    assert "Elsewhere" in outsider_html and "Alpha" not in outsider_html


def test_a_rep_cannot_refresh_or_see_runs_and_settings(personas, refreshed):
    client = ui_client(personas.owner)
    assert "Refresh now" not in text_of(client.get("/analytics/"))
    assert client.post("/analytics/refresh").status_code == 403
    run = WarehouseRun.objects.get()
    assert client.get(f"/analytics/runs/{run.pk}/").status_code == 403
    assert client.get("/analytics/settings/").status_code == 403
    assert WarehouseRun.objects.count() == 1


def test_refresh_now_queues_a_run_and_the_task_runs_it(
    personas, refreshed, django_capture_on_commit_callbacks
):
    client = ui_client(personas.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/analytics/refresh", {"next": "/analytics/"})
    assert response.status_code == 302 and response["Location"] == "/analytics/"
    latest = WarehouseRun.objects.order_by("-id").first()
    assert latest.requested_by == personas.manager
    assert latest.status == RunStatus.SUCCEEDED
    status = client.get(f"/analytics/runs/{latest.pk}/", headers=HTMX)
    assert "Succeeded" in text_of(status) and "hx-trigger" not in text_of(status)


def test_refresh_while_one_runs_says_so_and_the_panel_polls(personas, refreshed):
    client = ui_client(personas.admin)
    client.post("/analytics/refresh")  # queued; its task only runs after commit
    queued = WarehouseRun.objects.order_by("-id").first()
    assert queued.status == RunStatus.QUEUED
    response = client.post("/analytics/refresh", follow=True)
    assert "already queued" in text_of(response)
    assert WarehouseRun.objects.count() == 2
    html = text_of(client.get("/analytics/"))
    assert f'hx-get="/analytics/runs/{queued.pk}/"' in html and 'hx-trigger="every 2s"' in html
    assert "Refresh now" not in html


# ----- settings -----------------------------------------------------------------------


def _settings_post(form_values: dict, **changes) -> dict:
    data = {k: v for k, v in form_values.items()}
    data.update(changes)
    return data


def _current_settings() -> dict:
    obj, _ = AnalyticsSettings.objects.get_or_create(pk=1)
    from rapport.analytics.services import SETTINGS_FIELDS

    values = {n: getattr(obj, n) for n in SETTINGS_FIELDS}
    return {"version": obj.version, **{n: "" if v is None else str(v) for n, v in values.items()}}


def test_admin_changes_settings_and_errors_show_next_to_the_field(personas):
    client = ui_client(personas.admin)
    assert 'name="cost_per_call"' in text_of(client.get("/analytics/settings/"))
    response = client.post(
        "/analytics/settings/", _settings_post(_current_settings(), cost_per_call="12.50")
    )
    assert response.status_code == 302
    assert str(AnalyticsSettings.objects.get().cost_per_call) == "12.50"
    bad = client.post("/analytics/settings/", _settings_post(_current_settings(), margin="1.5"))
    assert bad.status_code == 422
    assert re.search(r'id_margin.*?class="field-error"', text_of(bad), re.S)
    stale = _settings_post(_current_settings(), cost_per_note="3")
    stale["version"] = 1
    response = client.post("/analytics/settings/", stale)
    assert response.status_code == 422 and "changed" in text_of(response).lower()


def test_manager_reads_settings_but_cannot_change_them(personas):
    client = ui_client(personas.manager)
    page = text_of(client.get("/analytics/settings/"))
    assert "Only administrators change them" in page and '<form method="post" class' not in page
    response = client.post(
        "/analytics/settings/", _settings_post(_current_settings(), cost_per_call="9")
    )
    assert response.status_code == 403
    assert str(AnalyticsSettings.objects.get().cost_per_call) == "0.00"


# ----- segments, lists and sorts ------------------------------------------------------------


def test_segments_page_links_each_segment_to_the_filtered_lists(personas, refreshed):
    html = text_of(ui_client(personas.owner).get("/analytics/segments/"))
    accounts = "/accounts/?cols=name,industry,owner,segment,clv,churn_risk&amp;segment=champions"
    assert accounts + "&amp;sort=-clv" in html
    assert (
        "/contacts/?cols=name,account,email,owner,segment,clv,churn_risk&amp;segment=lost" in html
    )
    assert "Can&#x27;t lose them" in table(html, "table-grid")


def test_segment_filter_on_the_contact_list_filters(personas, refreshed):
    client = ui_client(personas.owner)
    contact_create(actor=personas.owner, fields={"first_name": "Not", "last_name": "Scored"})
    html = text_of(client.get("/contacts/?segment=lost"))
    names = row_names(html)
    assert names == ["Carol Buyer"]
    assert "Segment" in html and "lost" in html  # the chip
    assert row_names(text_of(client.get("/contacts/?segment=champions"))) == []
    assert set(row_names(text_of(client.get("/contacts/")))) == {"Carol Buyer", "Not Scored"}


def test_segment_filter_on_the_account_list_matches_the_api(personas, refreshed, api_as):
    client = ui_client(personas.owner)
    html = text_of(client.get("/accounts/?segment=champions"))
    api_names = [
        a["name"]
        for a in api_as(personas.owner).get("/api/accounts", segment="champions").data["items"]
    ]
    assert row_names(html) == api_names == ["Alpha"]


def test_account_list_sorts_by_clv_and_churn_risk(personas, refreshed):
    unscored = account_create(actor=personas.owner, fields={"name": "Unscored"})
    client = ui_client(personas.owner)
    scores = {s.account.name: s for s in CustomerScore.objects.filter(account__isnull=False)}
    expected = sorted(scores, key=lambda n: (scores[n].clv, scores[n].account_id), reverse=True)
    html = text_of(client.get("/accounts/?sort=-clv&cols=name,clv"))
    assert row_names(html) == [*expected, "Unscored"]
    ascending = row_names(text_of(client.get("/accounts/?sort=clv")))
    assert ascending[0] == "Unscored"
    assert 'aria-sort="descending"' in html
    by_risk = row_names(text_of(client.get("/accounts/?sort=-churn_risk")))
    keys = {n: (s.churn_risk, s.account_id) for n, s in scores.items()}
    keys["Unscored"] = (0.0, unscored.pk)  # unscored customers sort as 0, as in the API
    assert by_risk == sorted(keys, key=keys.get, reverse=True)


def test_account_list_shows_score_columns_without_extra_queries(personas, refreshed):
    client = ui_client(personas.owner)
    url = "/accounts/?cols=name,segment,clv,churn_risk&sort=-clv"
    html = text_of(client.get(url))
    assert "CLV (12 months)" in html and "Churn risk %" in html
    alpha = CustomerScore.objects.get(account=refreshed.alpha)
    assert f"{alpha.clv:,.2f} EUR" in html and ">Champions<" in html
    # A column to choose (listed once, in the column chooser), not a default one.
    assert html.count("CLV (12 months)") == 2
    assert text_of(client.get("/accounts/")).count("CLV (12 months)") == 1
    few = count_queries(lambda: client.get(url))
    for i in range(5):
        account_create(actor=personas.owner, fields={"name": f"More {i}"})
    assert count_queries(lambda: client.get(url)) == few


# ----- record pages ----------------------------------------------------------------------


def test_account_page_shows_the_customer_value_card(personas, refreshed):
    html = text_of(ui_client(personas.owner).get(f"/accounts/{refreshed.alpha.pk}/"))
    score = CustomerScore.objects.get(account=refreshed.alpha)
    card = html[html.index('id="rel-customer-value"') :]
    card = card[: card.index("</section>")]
    assert "Champions" in card and "R 5" in card
    assert "Probability alive" in card and "Churn risk" in card and "Expected purchases" in card
    assert f"{score.clv:,.2f} EUR" in card
    assert "Scored" in card and f"refresh #{score.run_id}" in card
    assert "Licence" in card or "Support" in card or not score.next_products


def test_contact_page_card_says_not_scored_or_points_to_the_account(personas, refreshed):
    client = ui_client(personas.owner)
    carol = text_of(client.get(f"/contacts/{refreshed.carol.pk}/"))
    assert "Customer value" in carol and "Lost" in carol
    via = contact_create(
        actor=personas.owner,
        fields={"first_name": "Via", "last_name": "Account", "account": refreshed.alpha},
    )
    html = text_of(client.get(f"/contacts/{via.pk}/"))
    assert "orders count for" in html and "Alpha" in html
    fresh = account_create(actor=personas.owner, fields={"name": "Fresh"})
    assert "Not scored yet" in text_of(client.get(f"/accounts/{fresh.pk}/"))


def test_who_cannot_see_the_account_gets_no_card(personas, refreshed):
    assert ui_client(personas.outsider).get(f"/accounts/{refreshed.alpha.pk}/").status_code == 404


# ----- at risk, cross-sell, model fit, cohorts ----------------------------------------------


def test_at_risk_page_lists_visible_customers_at_risk(personas, refreshed):
    CustomerScore.objects.filter(account=refreshed.alpha).update(churn_risk=0.9, at_risk=True)
    AnalyticsSettings.objects.update(at_risk_min_churn=0.8)
    html = text_of(ui_client(personas.owner).get("/analytics/at-risk/?sort=-churn_risk"))
    rows = table(html, "table-at-risk")
    assert f"/accounts/{refreshed.alpha.pk}/" in rows
    assert "Beta" not in rows and "Carol" not in rows
    overview = table(text_of(ui_client(personas.owner).get("/analytics/")), "table-at-risk")
    assert "Alpha" in overview
    # The teammate cannot see Alpha: not in their list, as in GET /api/analytics/at-risk.
    assert "Alpha" not in text_of(ui_client(personas.teammate).get("/analytics/at-risk/"))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_after_a_refresh(personas, refreshed, path):
    for who in (personas.owner, personas.manager, personas.reader):
        assert ui_client(who).get(path).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = ui_client(None).get("/analytics/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_overview_query_count_does_not_grow_with_customers(personas, refreshed, products):  # noqa: F811
    client = ui_client(personas.owner)
    before = count_queries(lambda: client.get("/analytics/"))
    for i in range(8):
        customer = account_create(actor=personas.owner, fields={"name": f"Buyer {i}"})
        buy(personas.owner, customer, "2025-04-0" + str(1 + i % 9), [(products["P2"], 100 + i)])
    refresh_ok()
    after = count_queries(lambda: client.get("/analytics/"))
    assert after == before
    assert after <= 40

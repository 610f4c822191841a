"""Bundles, up-sell, the churn classifier and the sBG projection on the pages: the Cross-sell,
Cohorts and Model fit pages and the Customer value card, over the planted worlds of the
integration tests."""

import json
import re

import pytest

from rapport.accounts.models import Account
from rapport.analytics.tests.integration.test_planted_baskets_churn import (  # noqa: F401
    GROUPS,
    _churn_world,
    _refresh,
    _sbg_world,
    basket_world,
)
from rapport.analytics.tests.integration.warehouse_fixtures import warehouse_file  # noqa: F401
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table {table_id}"
    return match.group(0)


def chart_data(html: str) -> dict:
    match = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html)
    assert match
    return json.loads(match.group(1))


def test_cross_sell_page_lists_bundles_and_upsell(basket_world, personas):  # noqa: F811
    html = text_of(ui_client(personas.owner).get("/analytics/cross-sell/"))
    bundles = table(html, "table-bundles")
    for g in range(GROUPS):
        assert f"Product S{g}</a> + <a" in bundles or f"Product V{g}</a> + <a" in bundles
    assert "Lift" in bundles and "Confidence" in bundles
    assert "Up-sell" in table(html, "table-cross-sell")
    assert "most popular pricier products" in html


def test_customer_value_card_shows_upsell(basket_world, personas):  # noqa: F811
    newcomer = basket_world["newcomers"][3]
    html = text_of(ui_client(personas.owner).get(f"/accounts/{newcomer.pk}/"))
    match = re.search(r'<ol class="[^"]*cv-upsell">(.*?)</ol>', html, re.S)
    assert match
    assert "Product P3" in match.group(1).split("</li>")[0]
    assert "1 − probability alive" in html


def test_model_fit_and_account_pages_show_the_classifier(personas):
    _churn_world(personas, closed_n=40, open_n=60)
    _refresh()
    html = text_of(ui_client(personas.reader).get("/analytics/model-fit/"))
    auc = table(html, "table-churn-auc")
    assert "Recency only" in auc
    assert "Beats the baseline" in html
    assert "activities_90d" in table(html, "table-churn-weights")
    client = ui_client(personas.owner)
    open_account = Account.objects.filter(closed_at__isnull=True).first()
    assert "model learned from closed accounts" in text_of(
        client.get(f"/accounts/{open_account.pk}/")
    )
    closed = Account.objects.filter(closed_at__isnull=False).first()
    page = text_of(client.get(f"/accounts/{closed.pk}/"))
    assert 'id="account-closed"' in page and "the account is closed" in page
    assert "Reopen" in page


def test_model_fit_page_says_why_there_is_no_classifier(personas):
    _churn_world(personas, closed_n=5, open_n=20)
    _refresh()
    html = text_of(ui_client(personas.owner).get("/analytics/model-fit/"))
    assert "Not trained in this run: needs at least 30 closed" in html


def test_cohorts_page_draws_projection_with_a_table(personas):
    _sbg_world(personas)
    html = text_of(ui_client(personas.owner).get("/analytics/cohorts/"))
    rows = table(html, "table-projection")
    assert rows.count("<tr") > 24
    assert "is-projection" in rows
    data = chart_data(html)
    assert len(data["projection"]["actual"]) == len(data["projection"]["projected"])
    assert data["projection"]["actual"][-1] is None
    assert "table-projection-cohorts" in html
    assert "Checked on the past" in html


def test_cohorts_page_without_closed_accounts_explains(personas):
    html = text_of(ui_client(personas.owner).get("/analytics/cohorts/"))
    assert "No snapshot yet" in html or "Analytics have not been computed yet" in html


def test_settings_page_has_the_churn_model_minimum(personas):
    html = text_of(ui_client(personas.admin).get("/analytics/settings/"))
    assert 'name="churn_min_per_class"' in html
    assert "Closed accounts needed for the churn model" in html

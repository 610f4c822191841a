"""Browser journey of the analytics pages in Chromium: the overview's charts, a segment's
accounts and the "Customer value" card of a scored account (screenshots under screenshots/)."""

import pytest
from playwright.sync_api import expect

from rapport.analytics.models import CustomerScore, RunStatus, WarehouseRun
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_the_analytics_overview_and_a_scored_account(
    page,
    live_server,
    screenshot,
    demo_snapshot,
):
    # demo_build(accounts=200, seed=7), close_demo_accounts(seed=7), a full refresh: once a run
    demo_snapshot("demo-200-closed-refreshed")
    assert WarehouseRun.objects.latest("pk").status == RunStatus.SUCCEEDED
    manager = User.objects.get(username="maria")
    sign_in(page, manager)

    page.goto("/")
    page.click(".sidebar a:has-text('Analytics')")
    page.wait_for_url("**/analytics/")
    page.wait_for_selector("#chart-segments", state="visible")
    page.wait_for_selector("#chart-clv", state="visible")
    page.wait_for_selector("#chart-calibration", state="visible")
    # six customer figures, and the marketing card's four (cost per lead / sale, …)
    assert page.locator(".stat").count() == 10
    assert page.locator("#table-cohorts tbody tr").count() >= 1
    # Drawn charts fold their tables away; the reader can open them again.
    assert page.locator("details[data-chart-table='clv']").get_attribute("open") is None
    expect(page.locator("button:has-text('Refresh now')")).to_be_visible()
    assert page.errors == []
    screenshot(page, "analytics-overview", full_page=True)

    page.click(".section-tabs a:has-text('Segments')")
    page.wait_for_selector("#table-grid")
    screenshot(page, "analytics-segments", full_page=True)
    champions = page.locator("#table-segments tr:has-text('Champions') a:has-text('Accounts')")
    if champions.count():
        champions.click()
        page.wait_for_url("**/accounts/?cols=*segment=champions*")
        assert page.locator("th:has-text('CLV')").count() == 1
        assert page.locator("table.data-table tbody tr").count() >= 1
        screenshot(page, "analytics-segment-accounts")

    score = (
        CustomerScore.objects.filter(account__isnull=False, account__owner__team=manager.team)
        .exclude(next_products=[])
        .order_by("-clv")
        .first()
        or CustomerScore.objects.filter(account__isnull=False).order_by("-clv").first()
    )
    page.goto(f"/accounts/{score.account_id}/")
    page.wait_for_selector("#rel-customer-value")
    card = page.locator("section.customer-value")
    assert score.segment.capitalize() in card.inner_text()
    assert "Probability alive" in card.inner_text()
    screenshot(page, "analytics-account-card")

    page.goto("/analytics/")
    page.wait_for_selector("#chart-clv", state="visible")
    shots_at_both_sizes(page, screenshot, "analytics-overview")
    assert page.errors == []

    for path, name in [
        ("/analytics/cohorts/?months=24", "analytics-cohorts"),
        ("/analytics/model-fit/", "analytics-model-fit"),
        ("/analytics/at-risk/", "analytics-at-risk"),
        ("/analytics/cross-sell/", "analytics-cross-sell"),
        ("/analytics/settings/", "analytics-settings"),
    ]:
        page.goto(path)
        page.wait_for_selector(".section-tabs [aria-current='page']")
        screenshot(page, name, full_page=True)
    assert page.errors == []

    page.context.clear_cookies()
    sign_in(page, User.objects.get(username="admin"), live_server.url)
    page.goto("/analytics/settings/")
    page.fill("#id_cost_per_call", "4.50")
    page.click("button:has-text('Save settings')")
    page.wait_for_selector(".toast:has-text('Settings saved')")
    assert page.input_value("#id_cost_per_call") == "4.50"
    screenshot(page, "analytics-settings-admin", full_page=True)


def test_the_overview_reads_without_javascript(browser, live_server, demo_snapshot):
    demo_snapshot("demo-200-closed-refreshed")
    assert WarehouseRun.objects.latest("pk").status == RunStatus.SUCCEEDED
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, java_script_enabled=False
    )
    page = context.new_page()
    sign_in(page, User.objects.get(username="sam"), live_server.url)
    page.goto("/analytics/")
    expect(page.locator("#table-segments")).to_be_visible()
    expect(page.locator("#table-clv")).to_be_visible()  # the table stays open without the chart
    expect(page.locator("[data-chart='clv']")).to_be_hidden()
    expect(page.locator("#table-cohorts")).to_be_visible()
    assert not page.locator("button:has-text('Refresh now')").count()  # a rep cannot refresh
    context.close()

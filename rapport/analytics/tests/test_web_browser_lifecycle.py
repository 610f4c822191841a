"""Browser journey of closing an account and of what analytics makes of closed accounts:
the sBG projection chart on Cohorts, the churn classifier on Model fit, bundles and up-sell
on Cross-sell (screenshots under screenshots/)."""

import pytest
from playwright.sync_api import expect

from rapport.accounts.models import Account
from rapport.analytics.models import RunStatus, WarehouseRun
from rapport.conftest import sign_in
from rapport.identity.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_close_an_account_then_read_the_projection_and_the_classifier(
    page, live_server, screenshot, demo_snapshot
):
    # demo_build(accounts=200, seed=7), close_demo_accounts(seed=7), a full refresh: once a run
    demo_snapshot("demo-200-closed-refreshed")
    assert WarehouseRun.objects.latest("pk").status == RunStatus.SUCCEEDED
    admin = User.objects.get(username="admin")
    sign_in(page, admin)

    account = Account.objects.filter(closed_at__isnull=True).order_by("pk").first()
    page.goto(f"/accounts/{account.pk}/")
    page.click("a:has-text('Close account…')")
    page.wait_for_url(f"**/accounts/{account.pk}/close")
    screenshot(page, "account-close-form")
    page.fill("#id_closed_at", "2099-01-01")
    page.click("button:has-text('Close account')")
    page.wait_for_selector(".field-error")
    assert "future" in page.content()
    page.fill("#id_closed_at", "2025-01-15")
    page.fill("#id_reason", "Moved to a competitor")
    page.click("button:has-text('Close account')")
    page.wait_for_url(f"**/accounts/{account.pk}/")
    page.wait_for_selector("#account-closed")
    assert "Moved to a competitor" in page.inner_text("#account-closed")
    screenshot(page, "account-closed")
    page.click("button:has-text('Reopen')")
    page.wait_for_selector("a:has-text('Close account…')")

    page.goto("/analytics/cohorts/?months=24")
    page.wait_for_selector("#chart-projection", state="visible")
    screenshot(page, "analytics-cohorts-projection", full_page=True)
    page.goto("/analytics/model-fit/")
    page.wait_for_selector("#table-churn-auc")
    screenshot(page, "analytics-model-fit-churn", full_page=True)
    page.goto("/analytics/cross-sell/")
    page.wait_for_selector("#bundles-title")
    screenshot(page, "analytics-cross-sell-bundles", full_page=True)
    assert page.errors == []


def test_projection_reads_without_javascript(browser, live_server, demo_snapshot):
    demo_snapshot("demo-200-closed-refreshed")
    assert WarehouseRun.objects.latest("pk").status == RunStatus.SUCCEEDED
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, java_script_enabled=False
    )
    page = context.new_page()
    sign_in(page, User.objects.get(username="sam"), live_server.url)
    page.goto("/analytics/cohorts/")
    expect(page.locator("#table-projection")).to_be_visible()
    expect(page.locator("[data-chart='projection']")).to_be_hidden()
    context.close()

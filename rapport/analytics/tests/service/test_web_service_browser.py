"""Browser check of the Service dashboard in Chromium: a manager opens it from the analytics
overview, the charts are drawn, a reversed range is explained next to the field, and the
page fits a phone's width."""

import pytest

from rapport.conftest import shots_at_both_sizes, sign_in

from .conftest import END, START

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_opens_the_service_dashboard(page, desk, personas, screenshot):
    # The first visit fits the forecast (seconds on a busy machine; cached after).
    page.set_default_timeout(120_000)
    sign_in(page, personas.manager)
    page.goto("/analytics/service/")
    assert page.locator(".section-tabs a[aria-current='page']").inner_text() == "Service"
    page.fill("input[name=start]", START.isoformat())
    page.fill("input[name=end]", END.isoformat())
    page.click("button:has-text('Show')")
    page.wait_for_url("**/analytics/service/?*")
    for chart in ("weekday", "hour", "channel", "category", "times", "sla", "backlog"):
        page.wait_for_selector(f"#chart-{chart}", state="visible")
    assert page.locator(".stat").count() == 6
    assert page.locator("#table-agents tbody tr").count() == 2
    assert page.errors == []
    screenshot(page, "service-dashboard", full_page=True)

    page.fill("input[name=start]", "2026-05-10")
    page.fill("input[name=end]", "2026-05-01")
    page.click("button:has-text('Show')")
    page.wait_for_selector(".field-error:has-text('Start is after end')")

    page.goto(f"/analytics/service/?start={START}&end={END}")
    page.wait_for_selector("#chart-weekday", state="visible")
    shots_at_both_sizes(page, screenshot, "service-dashboard-range")
    assert page.errors == []

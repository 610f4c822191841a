"""In Chromium, on a phone: the home dashboard of a business whose pipeline and won revenue
run into the hundreds of millions does not scroll sideways, and no amount breaks inside the
number (at 1M contacts the stage table was 12-20 px wider than a 390 px screen)."""

import pytest
from django.db.models import F

from rapport.analytics.tests.test_web_browser_amounts import OVERFLOWING, SPLIT_NUMBERS
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.models import User
from rapport.sales.models import Opportunity

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_of_a_big_pipeline_fits_a_phone(page, live_server, demo_snapshot, screenshot):
    demo_snapshot("demo-200")
    Opportunity.all_objects.update(amount=F("amount") * 1_000)  # nine-digit totals, as at 1M
    sign_in(page, User.objects.get(username="admin"))
    page.goto("/")
    pipeline = page.locator("#table-pipeline tfoot").inner_text()
    assert any(len(part.replace(",", "")) >= 12 for part in pipeline.split()), pipeline
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        page.wait_for_selector("#table-pipeline")
        assert page.evaluate(OVERFLOWING) == [], width
        assert page.evaluate(SPLIT_NUMBERS) == [], width
    shots_at_both_sizes(page, screenshot, "dashboard-big-amounts")
    assert page.errors == []

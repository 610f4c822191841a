"""In Chromium, on a phone: every analytics page states its observation end, and no amount or
figure breaks inside the number (KPI cards, tables, the "Customer value" card)."""

import pytest
from django.db.models import F

from rapport.analytics.models import CustomerScore, RunStatus
from rapport.analytics.services import analytics_refresh_now
from rapport.conftest import sign_in
from rapport.identity.models import User
from rapport.orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every number token of the page's figures, as a Range: broken if it spans several lines.
SPLIT_NUMBERS = """() => {
  const broken = [];
  const selector = '.num, .stat-value, .inline-stats dd, .cv-facts dd, .heatmap td';
  for (const el of document.querySelectorAll(selector)) {
    if (!el.getClientRects().length) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\d[\\d,.]*\\d/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0] + ' in ' + el.className);
      }
    }
  }
  return broken;
}"""

# Figures wider than their box (kept whole, they must still fit), and a page that scrolls
# sideways.
OVERFLOWING = """() => {
  const out = [...document.querySelectorAll('.stat-value, .inline-stats dd')]
    .filter((el) => el.scrollWidth > el.clientWidth + 1)
    .map((el) => el.textContent.trim());
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + 1) out.push('page ' + page.scrollWidth);
  return out;
}"""


def test_no_amount_breaks_inside_the_number_on_a_phone(page, live_server, demo_snapshot):
    demo_snapshot("demo-200")  # demo_build(accounts=200, seed=7), built once a run
    # Amounts of a bigger business (millions): long numbers are the ones that got split.
    Order.objects.update(total=F("total") * 100)
    assert analytics_refresh_now(full=True).status == RunStatus.SUCCEEDED
    sign_in(page, User.objects.get(username="admin"))
    score = CustomerScore.objects.filter(account__isnull=False).order_by("-revenue").first()
    for width, height in ((1440, 900), (1024, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        _check_pages(page, f"/accounts/{score.account_id}/", width)
    assert page.errors == []


def _check_pages(page, account_path: str, width: int) -> None:
    for path in (
        "/analytics/",
        "/analytics/segments/",
        "/analytics/cohorts/",
        "/analytics/at-risk/",
        "/analytics/cross-sell/",
        "/analytics/model-fit/",
        "/analytics/settings/",
    ):
        page.goto(path)
        page.wait_for_selector("#observation-end")
        assert page.evaluate(SPLIT_NUMBERS) == [], (path, width)
        assert page.evaluate(OVERFLOWING) == [], (path, width)
    page.goto(account_path)
    page.wait_for_selector("section.customer-value")
    assert page.evaluate(SPLIT_NUMBERS) == [], (account_path, width)

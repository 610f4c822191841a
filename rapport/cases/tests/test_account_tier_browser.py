"""The account page's Cases card in Chromium: the tier and its source, the override set
and cleared through htmx (the card swaps in place), no console or CSP errors, no overflow
at 390 px."""

import pytest
from playwright.sync_api import expect

from rapport.accounts.services import account_create
from rapport.cases.models import AccountServiceTier
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.services import user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
"""


def test_account_page_tier_override_set_and_cleared(page, screenshot):
    from django.urls import reverse

    reverse("cases:workspace")  # the URLconf import, before anything is timed
    owner = user_create(username="olga", first_name="Olga", password="x", validate=False)
    account = account_create(actor=owner, fields={"name": "Key Customer Ltd"})
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(120_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.context.add_init_script(LISTENER)
    sign_in(page, owner)
    page.goto(f"/accounts/{account.pk}/")
    page.wait_for_load_state("load")
    card = page.locator("#record-cases-body")
    expect(card.locator(".service-tier")).to_contain_text("Standard")
    expect(card.locator(".service-tier")).to_contain_text("from analytics")

    page.select_option("#account-tier", "gold")
    page.fill(".account-tier-form input[name=note]", "Strategic partner")
    with page.expect_response(lambda r: r.url.endswith("/tier") and r.request.method == "POST"):
        card.get_by_role("button", name="Set tier").click()
    expect(card.locator(".service-tier")).to_contain_text("Gold")
    expect(card.locator(".service-tier")).to_contain_text("set by hand by Olga")
    expect(card.locator(".service-tier")).to_contain_text("Strategic partner")
    assert AccountServiceTier.objects.get(account=account).tier == "gold"
    shots_at_both_sizes(page, screenshot, "account-tier")

    page.select_option("#account-tier", "")
    with page.expect_response(lambda r: r.url.endswith("/tier") and r.request.method == "POST"):
        card.get_by_role("button", name="Save tier").click()
    expect(card.locator(".service-tier")).to_contain_text("from analytics")
    assert not AccountServiceTier.objects.filter(account=account).exists()
    assert problems == [] and page.errors == []

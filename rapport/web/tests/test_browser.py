"""Browser journeys in Chromium: what a sales rep really does, with htmx in the loop."""

import pytest
from playwright.sync_api import expect

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.services import team_create, user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-Pass-2024"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def rep(transactional_db):
    team = team_create(name="Field")
    return user_create(
        username="rita",
        first_name="Rita",
        last_name="Rep",
        password=PASSWORD,
        team=team,
        validate=False,
    )


def test_sign_in_create_account_and_contact_then_log_a_call_in_place(
    page, rep, live_server, screenshot
):
    page.goto("/accounts/")
    assert "/login/" in page.url
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/accounts/")

    page.click("a:has-text('New account')")
    page.fill("#id_name", "Northwind Traders")
    page.fill("#id_industry", "Logistics")
    page.fill("#id_city", "Hamburg")
    page.click("button:has-text('Create account')")
    page.wait_for_selector("h1:has-text('Northwind Traders')")
    account = Account.objects.get(name="Northwind Traders")

    page.click("a:has-text('Add contact')")
    page.fill("#id_first_name", "Nora")
    page.fill("#id_last_name", "Lindqvist")
    page.fill("#id_email", "nora@northwind.example")
    assert page.input_value("input[name=account]") == str(account.pk)
    assert page.input_value("#id_account") == "Northwind Traders"  # the picker shows the name
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("h1:has-text('Nora Lindqvist')")
    assert Contact.objects.get().account_id == account.pk

    page.click(".fact-list a:has-text('Northwind Traders')")
    page.wait_for_selector("h1:has-text('Northwind Traders')")
    # A marker that a full page load would wipe: the call must be logged in place.
    page.evaluate("window.__stillHere = true")
    page.fill("#id_subject", "Discovery call")
    page.select_option("#id_outcome", "connected")
    page.fill("#id_body", "Wants a quote for 40 seats")
    page.click("button:has-text('Log call')")
    page.wait_for_selector("#timeline-list .event-summary:has-text('Call: Discovery call')")
    assert page.evaluate("window.__stillHere") is True
    page.wait_for_selector(".toast:has-text('Call saved.')", state="attached")
    assert page.input_value("#id_subject") == ""  # a fresh composer for the next one
    assert Activity.objects.get().account_id == account.pk

    # Inline edit: click, type, Enter; the field swaps in place.
    page.hover("#field-industry")
    page.click("#field-industry .field-edit")
    page.fill("#field-industry input[name=value]", "Shipping")
    # Press Enter only once htmx has processed the swapped-in form; before that, Enter is a
    # plain form submit (seen under heavy load).
    page.wait_for_function(
        "() => { const f = document.querySelector('#field-industry form');"
        " return !!(f && f['htmx-internal-data']); }"
    )
    page.keyboard.press("Enter")
    page.wait_for_selector("#field-industry .field-value:has-text('Shipping')")
    # The header's facts reload too (record-changed), without a page load.
    page.wait_for_selector("#record-summary .fact-list dd:has-text('Shipping')")
    # The answer carries the timeline's first page out of band: the change is on it at once.
    assert page.evaluate("window.__stillHere") is True
    page.wait_for_selector("#timeline-list .event-summary:has-text('Changed industry')")
    account.refresh_from_db()
    assert account.industry == "Shipping"
    shots_at_both_sizes(page, screenshot, "account-page")

    page.goto("/accounts/")
    page.wait_for_selector("td a:has-text('Northwind Traders')")
    shots_at_both_sizes(page, screenshot, "accounts-list")

    page.goto("/")
    page.keyboard.press("/")
    page.keyboard.type("northwind")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Results for')")
    page.wait_for_selector(".card a:has-text('Northwind Traders')")
    page.wait_for_selector(".card a:has-text('Nora Lindqvist')")
    shots_at_both_sizes(page, screenshot, "search-results")

    page.goto("/")
    screenshot(page, "home")
    assert page.dialogs == []


def test_script_names_and_html_notes_render_inert(page, rep, live_server, screenshot):
    account = account_create(actor=rep, fields={"name": f"Acme {XSS}"})
    contact = contact_create(actor=rep, fields={"last_name": XSS, "account": account})
    activity_log(
        actor=rep,
        kind="note",
        fields={"body": '<img src=x onerror="alert(2)"><b>bold?</b>'},
        links={"contact_id": contact.pk},
    )
    sign_in(page, rep)
    for url in (
        f"/contacts/{contact.pk}/",
        f"/accounts/{account.pk}/",
        "/contacts/",
        "/accounts/",
        "/search?q=acme",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.locator("script:text('alert(1)')").count() == 0, url
    page.goto(f"/contacts/{contact.pk}/")
    assert page.locator("h1").inner_text() == XSS
    assert (
        page.locator(".event-text").first.inner_text().startswith('<img src=x onerror="alert(2)">')
    )
    assert page.locator(".event-text img").count() == 0
    # Inline edit with markup: saved and shown as text, still no script runs.
    page.hover("#field-title")
    page.click("#field-title .field-edit")
    page.fill("#field-title input[name=value]", '<img src=y onerror="alert(3)">')
    page.keyboard.press("Enter")
    page.wait_for_selector("#field-title .field-value:has-text('onerror')")
    shots_at_both_sizes(page, screenshot, "contact-page")
    assert page.dialogs == []


def test_phone_width_sidebar_collapses_into_a_menu(page, rep, live_server, screenshot):
    account_create(actor=rep, fields={"name": "Pocket GmbH"})
    sign_in(page, rep)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/accounts/")
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    expect(page.locator("td a:has-text('Pocket GmbH')")).to_be_visible()
    page.click("[data-nav-toggle]")
    expect(sidebar).to_be_visible()
    assert page.get_attribute("[data-nav-toggle]", "aria-expanded") == "true"
    expect(page.locator("#sidebar a:has-text('Opportunities')")).to_be_visible()
    screenshot(page, "phone-menu")
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    assert page.dialogs == []

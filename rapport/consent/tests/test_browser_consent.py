"""Browser journeys of consent: an agent records consent on a contact page and sees it in
the history; the double opt-in page confirms by itself (script + POST) while a plain GET
does nothing; the person opens their preference-centre link and opts out."""

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.consent import selectors, services
from rapport.consent.links import preferences_url
from rapport.consent.models import ConsentPurpose, ConsentRecord
from rapport.consent.tests.conftest import confirm_token_from_outbox, make_contact
from rapport.identity.services import user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rep(transactional_db):
    get_resolver().reverse_dict  # noqa: B018 - import every view before the first page
    return user_create(username="rita", first_name="Rita", last_name="Rep", validate=False)


@pytest.fixture
def purposes(transactional_db):
    news = ConsentPurpose.objects.create(
        slug="newsletter", name="Newsletter", policy_text="Monthly news.", policy_version="3"
    )
    offers = ConsentPurpose.objects.create(
        slug="offers", name="Offers", policy_text="Offers.", requires_double_opt_in=False
    )
    return news, offers


def test_agent_records_consent_and_sees_it_in_the_history(page, rep, purposes, screenshot):
    news, offers = purposes
    contact = make_contact(rep, "nora@example.com", first="Nora", last="Berg")
    sign_in(page, rep)
    page.goto(f"/contacts/{contact.pk}/")
    card = page.locator("#consent-card")
    expect(card.get_by_role("heading", name="Consent")).to_be_visible()
    expect(card.locator(".consent-matrix")).to_contain_text("Never asked")
    card.get_by_text("Record consent").click()
    card.get_by_label("Purpose").select_option(label="Offers")
    card.get_by_label("Channel").select_option("phone")
    card.get_by_label("Answer").select_option("opt_in")
    card.get_by_label("How was it given?").fill("Phone call, read the offers text aloud")
    card.get_by_role("button", name="Save").click()
    ledger = page.locator("#consent-card .consent-ledger")
    expect(ledger).to_contain_text("Opt-in · Offers · Phone")
    expect(ledger).to_contain_text("Recorded by an agent by Rita Rep")
    expect(ledger).to_contain_text("Phone call, read the offers text aloud")
    row = page.locator("#consent-card .consent-row", has_text="Offers")
    expect(row.locator('li[data-channel="phone"] .status')).to_have_text("Opted in")
    assert selectors.current_status(contact, purpose=offers, channel="phone") == "opted_in"
    assert page.errors == []
    shots_at_both_sizes(page, screenshot, "consent-contact-consent-card")


def test_double_opt_in_confirms_in_one_click_and_preference_centre_opts_out(
    browser, live_server, rep, purposes, screenshot
):
    news, offers = purposes
    contact = make_contact(rep, "nora@example.com", first="Nora", last="Berg")
    services.consent_record(
        person=contact, channel="email", purpose=news, action="opt_in", source="form"
    )
    token = confirm_token_from_outbox("nora@example.com")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # A link scanner: fetches the page, runs no script, sends no form.
    scanner = context.request.get(f"{live_server.url}/consent/confirm/{token}")
    assert scanner.status == 200
    assert selectors.current_status(contact, purpose=news, channel="email") == "pending"
    # A person: one click on the link in the mail, the page confirms by itself.
    tab.goto(f"{live_server.url}/consent/confirm/{token}")
    expect(tab.get_by_role("heading", name="Thank you — confirmed")).to_be_visible()
    assert selectors.current_status(contact, purpose=news, channel="email") == "opted_in"
    shots_at_both_sizes(tab, screenshot, "consent-double-opt-in-confirmed")

    tab.goto(preferences_url(contact).replace("http://localhost:8000", live_server.url))
    expect(tab.get_by_role("heading", name="Your preferences")).to_be_visible()
    shots_at_both_sizes(tab, screenshot, "consent-preference-centre")
    newsletter = tab.locator("fieldset", has_text="Newsletter")
    email_box = newsletter.get_by_label("Email")
    expect(email_box).to_be_checked()
    email_box.uncheck()
    tab.get_by_role("button", name="Save my preferences").click()
    expect(tab.get_by_role("status")).to_contain_text("Saved")
    assert selectors.current_status(contact, purpose=news, channel="email") == "opted_out"
    out = ConsentRecord.objects.filter(action="opt_out").get()
    assert out.source == "email_link" and out.user_agent and out.ip_address == "127.0.0.1"
    assert errors == []
    context.close()

"""Browser journey: a manager builds a form, a visitor sends it on the hosted page (phone
width), confirms the subscription from the mail at the loopback SMTP sink, the new contact is
in the segment that matches the city they gave, receives the campaign sent to that segment
(through the dispatcher and the outbox to the sink), clicks its tracked link and unsubscribes
(the RFC 8058 one-click POST without a session, and the page's button)."""

import re

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.accounts.models import Contact
from rapport.campaigns.models import Campaign, CampaignRecipient, RecipientState
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.consent import selectors as consent_selectors
from rapport.consent.models import ConsentPurpose
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.models import Delivery, DeliveryState, EmailTemplate, Purpose
from rapport.mail.sender import send_due
from rapport.mail.tests.conftest import smtp_server  # noqa: F401 - fixture reuse
from rapport.segments.models import SegmentMember
from rapport.segments.services import segment_create
from rapport.webforms.models import WebForm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_form_to_segment_to_campaign_click_and_unsubscribe(
    page,
    live_server,
    settings,
    smtp_server,  # noqa: F811
    screenshot,
):
    get_resolver().reverse_dict  # noqa: B018 - import every view before the first page
    settings.RAPPORT_BASE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    manager = user_create(
        username="mia", role=Role.MANAGER, first_name="Mia", last_name="Manager", validate=False
    )
    news = ConsentPurpose.objects.create(
        slug="newsletter", name="Newsletter", policy_text="Monthly news from us."
    )
    segment = segment_create(
        name="Malmö",
        actor=manager,
        filter={"op": "and", "items": [{"field": "city", "operator": "equals", "value": "Malmö"}]},
    )

    sign_in(page, manager)
    page.goto("/forms/")
    page.get_by_role("link", name="New form").click()
    page.locator("#id_name").fill("Fair sign-up")
    page.locator("#id_target").select_option("contact")
    page.get_by_label("Ask City").check()
    page.get_by_label("City required").check()
    page.get_by_label("Newsletter").check()
    page.locator("#id_min_fill_seconds").fill("0")
    page.get_by_role("button", name="Create form").click()
    expect(page.get_by_role("heading", name="Fair sign-up")).to_be_visible()
    expect(page.locator(".wf-qr")).to_be_visible()
    assert page.errors == []
    shots_at_both_sizes(page, screenshot, "forms-form-detail")

    page.goto(f"/forms/{WebForm.objects.get(slug='fair-sign-up').pk}/edit")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    shots_at_both_sizes(page, screenshot, "forms-form-builder")

    visitor = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    tab = visitor.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    # The 422 of the refused first attempt is expected; any other console error is not.
    tab.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "422" not in m.text else None,
    )
    tab.goto(f"{live_server.url}/f/fair-sign-up/?utm_source=qr&utm_medium=print")
    expect(tab.get_by_role("heading", name="Fair sign-up")).to_be_visible()
    shots_at_both_sizes(tab, screenshot, "forms-public-form", leave_at_phone=True)
    tab.get_by_label("Email").fill("sofia@example.org")
    tab.get_by_label("Last name").fill("Lund")
    tab.get_by_role("button", name="Send").click()
    expect(tab.get_by_text("City is required")).to_be_visible()  # said next to the field
    tab.get_by_label("City").fill("Malmö")
    tab.get_by_label("Newsletter").check()
    tab.get_by_role("button", name="Send").click()
    expect(tab.get_by_role("status")).to_contain_text("Thank you")
    expect(tab.get_by_text("Please check your inbox")).to_be_visible()
    shots_at_both_sizes(tab, screenshot, "forms-public-form-sent", leave_at_phone=True)

    contact = Contact.objects.get(email="sofia@example.org")
    assert contact.city == "Malmö"
    assert consent_selectors.current_status(contact, purpose=news, channel="email") == "pending"
    assert SegmentMember.objects.filter(segment=segment, contact=contact).exists()

    send_due()
    mail = [m for m in smtp_server.sink.messages if m.rcpt_tos == ["sofia@example.org"]]
    assert len(mail) == 1
    link = re.search(r"(http://\S+/consent/confirm/\S+)", mail[0].message.as_string()).group(1)
    tab.goto(link)
    expect(tab.get_by_role("heading", name="Thank you — confirmed")).to_be_visible()
    assert consent_selectors.current_status(contact, purpose=news, channel="email") == "opted_in"
    assert errors == []
    visitor.close()

    page.goto(f"/segments/{segment.pk}/")
    expect(page.get_by_role("link", name=re.compile("Lund"))).to_be_visible()
    page.goto("/forms/")
    expect(page.locator("table")).to_contain_text("Fair sign-up")
    shots_at_both_sizes(page, screenshot, "forms-form-list")

    # A campaign to the segment, built and started in the UI; the dispatcher hands it to the
    # outbox and the outbox's sender delivers it (the task backend runs them at once here).
    EmailTemplate.objects.create(
        name="Fair news",
        purpose=Purpose.MARKETING,
        consent_purpose=news,
        subject="News for {{ contact.last_name }}",
        body_text=f"Hello {{{{ contact.last_name }}}}, see {live_server.url}/f/fair-sign-up/\n",
        body_html=f'<p>Hello, <a href="{live_server.url}/f/fair-sign-up/">see the fair</a></p>',
    )
    page.goto("/campaigns/new")
    page.locator("#id_name").fill("Fair follow-up")
    page.locator("#id_include_segments").select_option(label="Malmö")
    page.locator("#id_template").select_option(label="Fair news")
    page.locator("#id_consent_purpose").select_option(label="Newsletter")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Save campaign").click()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Start sending").click()
    assert page.errors == []
    campaign = Campaign.objects.get(name="Fair follow-up")
    recipient = CampaignRecipient.objects.get(campaign=campaign)
    assert recipient.contact_id == contact.pk
    assert recipient.state == RecipientState.QUEUED, recipient.excluded_reason
    assert Delivery.objects.get(message_id=recipient.message_id).state == DeliveryState.SENT
    sent = [m for m in smtp_server.sink.messages if m.rcpt_tos == ["sofia@example.org"]]
    assert len(sent) == 2  # the confirmation, then the campaign
    message = sent[1].message
    assert message["Subject"] == "News for Lund"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(http://[^>]+)>", message["List-Unsubscribe"]).group(1)
    body = message.get_body(preferencelist=("plain",)).get_content()
    click = re.search(r"(http://\S+/t/c/\S+)", body).group(1)

    reader = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    tab = reader.new_page()
    # The tracked link redirects to the campaign's target (here the hosted form page, so the
    # browser lands on a real page without leaving the loopback).
    landed = tab.goto(click, wait_until="load")
    assert "/t/c/" in landed.request.redirected_from.url
    assert tab.url.startswith(f"{live_server.url}/f/fair-sign-up/")
    expect(tab.get_by_role("heading", name="Fair sign-up")).to_be_visible()
    recipient.refresh_from_db()
    assert recipient.clicked_at is not None

    # RFC 8058: the mail client's one click, a POST with no session and no CSRF token.
    response = reader.request.post(
        unsubscribe, form={"List-Unsubscribe": "One-Click"}, max_redirects=0
    )
    assert response.status == 200
    assert consent_selectors.current_status(contact, purpose=news, channel="email") == "opted_out"
    # The page a person opens from the footer link says so and its button works again.
    footer = re.search(r"Unsubscribe: (http://\S+)", body).group(1)
    tab.goto(footer)
    expect(tab.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    with tab.expect_navigation(wait_until="load"):
        tab.get_by_role("button", name="Unsubscribe").click()
    expect(tab.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert consent_selectors.current_status(contact, purpose=news, channel="email") == "opted_out"
    reader.close()

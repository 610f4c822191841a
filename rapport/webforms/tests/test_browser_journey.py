"""Browser journey: a manager builds a form, a visitor sends it on the hosted page (phone
width), confirms the subscription from the mail at the loopback SMTP sink, and the new
contact is in the segment that matches the city they gave."""

import re
from pathlib import Path

import pytest
from django.urls import get_resolver
from playwright.sync_api import expect

from rapport.accounts.models import Contact
from rapport.conftest import sign_in
from rapport.consent import selectors as consent_selectors
from rapport.consent.models import ConsentPurpose
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.sender import send_due
from rapport.mail.tests.conftest import smtp_server  # noqa: F401 - fixture reuse
from rapport.segments.models import SegmentMember
from rapport.segments.services import segment_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp/shots/forms")


def _shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height, size in ((1440, 900, "desktop"), (390, 844, "phone")):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} is wider than the {size} screen by {overflow}px"
    page.set_viewport_size({"width": 1440, "height": 900})


def test_build_submit_confirm_and_appear_in_a_segment(page, live_server, settings, smtp_server):  # noqa: F811
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
    _shoot(page, "form-detail")

    page.goto("/forms/fair-sign-up/edit")
    _shoot(page, "form-builder")

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
    tab.get_by_label("Email").fill("sofia@example.org")
    tab.get_by_label("Last name").fill("Lund")
    tab.get_by_role("button", name="Send").click()
    expect(tab.get_by_text("City is required")).to_be_visible()  # said next to the field
    tab.get_by_label("City").fill("Malmö")
    tab.get_by_label("Newsletter").check()
    tab.get_by_role("button", name="Send").click()
    expect(tab.get_by_role("status")).to_contain_text("Thank you")
    expect(tab.get_by_text("Please check your inbox")).to_be_visible()
    overflow = tab.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0

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
    _shoot(page, "form-list")

"""Consent pages: the card on contact and lead pages, recording consent (htmx), the settings
pages, and the public signed-link pages (no session, no CSRF; a GET never changes consent)."""

import pytest
from django.test import Client

from rapport.consent import selectors, tokens
from rapport.consent.models import ConsentRecord, Suppression
from rapport.consent.tests.conftest import confirm_token_from_outbox, make_contact
from rapport.leads.services import lead_create
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db


def test_contact_page_shows_the_consent_card_and_records_agent_consent(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/contacts/{contact.pk}/"))
    assert 'id="consent-card"' in page and "Never asked" in page and "Record consent" in page
    url = f"/consent/contacts/{contact.pk}/record"
    refused = client.post(
        url,
        {"consent-purpose": offers.pk, "consent-channel": "phone", "consent-action": "opt_in"},
        headers=HTMX,
    )
    assert refused.status_code == 422 and "This field is required" in text_of(refused)
    answer = client.post(
        url,
        {
            "consent-purpose": offers.pk,
            "consent-channel": "phone",
            "consent-action": "opt_in",
            "consent-note": "Phone call",
        },
        headers={**HTMX, "User-Agent": "Agent browser"},
    )
    assert answer.status_code == 200
    body = text_of(answer)
    assert "Opted in" in body and "Recorded by an agent" in body and "Phone call" in body
    record = ConsentRecord.objects.get()
    assert record.actor == personas.owner and record.source == "agent"
    assert record.user_agent == "Agent browser" and record.ip_address == "127.0.0.1"


def test_card_queries_do_not_grow_with_the_ledger(personas, offers, newsletter):
    contact = make_contact(personas.owner, "bo@example.com")
    client = ui_client(personas.owner)
    url = f"/contacts/{contact.pk}/"
    from rapport.consent import services

    services.consent_record(
        person=contact,
        channel="sms",
        purpose=offers,
        action="opt_in",
        source="api",
        actor=personas.owner,
    )
    few = count_queries(lambda: client.get(url))
    for channel in ("phone", "post", "sms", "phone", "post"):
        services.consent_record(
            person=contact,
            channel=channel,
            purpose=offers,
            action="opt_out",
            source="api",
            actor=personas.owner,
        )
    assert count_queries(lambda: client.get(url)) == few


def test_lead_page_has_the_card_and_outsiders_cannot_record(personas, offers):
    lead = lead_create(actor=personas.owner, fields={"last_name": "Lee", "email": "l@example.com"})
    assert 'id="consent-card"' in text_of(ui_client(personas.owner).get(f"/leads/{lead.pk}/"))
    answer = ui_client(personas.outsider).post(
        f"/consent/leads/{lead.pk}/record",
        {
            "consent-purpose": offers.pk,
            "consent-channel": "post",
            "consent-action": "opt_in",
            "consent-note": "letter",
        },
    )
    assert answer.status_code == 404 and not ConsentRecord.objects.exists()
    reader = text_of(ui_client(personas.admin).get(f"/leads/{lead.pk}/"))
    assert "Record consent" in reader


def test_confirmation_get_changes_nothing_and_post_confirms(personas, newsletter):
    contact = make_contact(personas.owner, "bo@example.com")
    from rapport.consent import services

    services.consent_record(
        person=contact, channel="email", purpose=newsletter, action="opt_in", source="form"
    )
    token = confirm_token_from_outbox("bo@example.com")
    scanner = Client(enforce_csrf_checks=True)
    page = scanner.get(f"/consent/confirm/{token}")
    assert page.status_code == 200 and "consent/confirm.js" in text_of(page)
    assert 'id="consent-confirm-form"' in text_of(page)
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "pending"
    done = Client(enforce_csrf_checks=True).post(
        f"/consent/confirm/{token}", HTTP_USER_AGENT="Firefox"
    )
    assert done.status_code == 200 and "confirmed" in text_of(done)
    assert selectors.current_status(contact, purpose=newsletter, channel="email") == "opted_in"
    assert ConsentRecord.objects.filter(action="confirm", user_agent="Firefox").exists()
    tampered = Client().post(f"/consent/confirm/{token[:-3]}abc")
    assert tampered.status_code == 400 and "not valid" in text_of(tampered)


def test_one_click_unsubscribe_post_needs_no_session_and_no_csrf(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    from rapport.consent import services

    services.consent_record(
        person=contact, channel="email", purpose=offers, action="opt_in", source="api"
    )
    token = tokens.make_unsubscribe_token(address="bo@example.com", purpose_id=offers.pk)
    client = Client(enforce_csrf_checks=True)
    assert client.get(f"/u/{token}").status_code == 200
    assert selectors.current_status(contact, purpose=offers, channel="email") == "opted_in"
    answer = client.post(
        f"/u/{token}",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert selectors.current_status(contact, purpose=offers, channel="email") == "opted_out"
    record = ConsentRecord.objects.get(action="opt_out")
    assert record.source == "email_link" and record.actor is None
    assert client.post(f"/u/{token}x").status_code == 400
    forged = tokens.make_unsubscribe_token(address="bo@example.com", purpose_id=offers.pk)
    payload, _, rest = forged.partition(":")
    assert client.post(f"/u/{payload[:-2]}zz:{rest}").status_code == 400


def test_preference_centre_page(personas, offers):
    contact = make_contact(personas.owner, "bo@example.com", first="Bo")
    from rapport.consent.links import preferences_url

    path = preferences_url(contact).split("localhost:8000", 1)[-1]
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200 and "Offers" in text_of(page) and "Bo, choose" in text_of(page)
    saved = client.post(path, {"choice": [f"{offers.pk}:sms", f"{offers.pk}:post"]})
    assert saved.status_code == 200 and "Saved" in text_of(saved)
    assert selectors.current_status(contact, purpose=offers, channel="sms") == "opted_in"
    client.post(path, {"unsubscribe_all": "1"})
    assert selectors.current_status(contact, purpose=offers, channel="sms") == "opted_out"
    assert Suppression.objects.filter(address="bo@example.com").exists()
    assert client.get(path.replace("preferences/", "preferences/x")).status_code == 400


def test_settings_pages_purposes_and_suppressions(personas, offers):
    admin = ui_client(personas.admin)
    assert "Offers" in text_of(admin.get("/settings/consent/"))
    created = admin.post(
        "/settings/consent/",
        {
            "name": "Partners",
            "slug": "partners",
            "policy_text": "Partner offers.",
            "policy_version": "1",
            "active": "on",
        },
    )
    assert created.status_code == 302
    edit = admin.post(
        f"/settings/consent/purposes/{offers.pk}",
        {
            "name": "Offers",
            "slug": "offers",
            "policy_text": "Changed text",
            "policy_version": "1",
            "active": "on",
        },
    )
    assert edit.status_code == 422 and "new version" in text_of(edit)
    assert ui_client(personas.owner).get("/settings/consent/").status_code == 403
    manager = ui_client(personas.manager)
    page = text_of(manager.get("/settings/consent/"))
    assert "Add a purpose" not in page  # managers read, administrators change
    added = manager.post(
        "/settings/consent/suppressions",
        {"address": "No@Example.com", "reason": "manual", "note": "asked"},
    )
    assert added.status_code == 302
    entry = Suppression.objects.get(address="no@example.com")
    assert "no@example.com" in text_of(manager.get("/settings/consent/suppressions"))
    manager.post(f"/settings/consent/suppressions/{entry.pk}/remove", {"note": "asked again"})
    entry.refresh_from_db()
    assert entry.removed_at is not None

"""Tracking consent is its own channel of the ledger ("web"): a web form's tracking box is
recorded there, only a web opt-in lets the collector keep page views, an email opt-in to the
same purpose does not, and a web opt-in never lets a marketing mail through the gate."""

import json

import pytest
from django.test import Client

from rapport.accounts.services import contact_create
from rapport.consent import selectors as consent_selectors
from rapport.consent.models import Channel, ConsentPurpose, ConsentRecord, ConsentStatus
from rapport.consent.services import consent_record
from rapport.mail.gate import blocked_addresses
from rapport.mail.models import Purpose
from rapport.webforms import services as form_services
from rapport.webforms.tests.conftest import answers, later
from rapport.webtrack.identity import visitor_token
from rapport.webtrack.models import PageView

pytestmark = pytest.mark.django_db
SITE = "https://www.example.com"


@pytest.fixture
def tracking(db, settings):
    settings.RAPPORT_TRACKED_SITE_DOMAINS = ["example.com"]
    return ConsentPurpose.objects.get(slug="web-tracking")  # created by the consent migrations


def collect(person_token: str):
    return Client().post(
        "/wt/collect",
        json.dumps({"url": f"{SITE}/pricing", "rpv": person_token}),
        content_type="text/plain",
        HTTP_ORIGIN=SITE,
    )


def test_form_tracking_box_is_recorded_on_the_web_channel_and_enables_tracking(personas, tracking):
    form = form_services.form_create(
        actor=personas.manager,
        data={
            "name": "Visit us",
            "target": "contact",
            "assign_user": personas.owner,
            "fields": [
                {"key": "last_name", "label": "Last name", "required": True},
                {"key": "email", "label": "Email", "required": True},
            ],
            "min_fill_seconds": 3,
        },
        purposes=[tracking],
    )
    result = form_services.form_submit(
        form=form,
        data=answers(form, **{"consent_web-tracking": "on"}),
        ip="198.51.100.9",
        user_agent="pytest",
        now=later(),
    )
    person = result.person
    record = ConsentRecord.objects.get(purpose=tracking)
    assert (record.channel, record.action, record.source) == ("web", "opt_in", "form")
    assert record.ip_address == "198.51.100.9"
    assert consent_selectors.current_status(person, purpose=tracking, channel="email") == ""
    assert collect(result.visitor_token).json()["stored"] is True
    assert PageView.objects.count() == 1


def test_email_opt_in_to_the_tracking_purpose_is_not_tracking_consent(personas, tracking):
    contact = contact_create(
        actor=personas.owner,
        fields={"last_name": "Mailonly"},
        emails=[{"email": "mail.only@example.org"}],
    )
    consent_record(
        person=contact, channel=Channel.EMAIL, purpose=tracking, action="opt_in", source="form"
    )
    response = collect(visitor_token(contact_id=contact.pk))
    assert response.json() == {"stored": False, "reason": "no_consent"}
    assert PageView.objects.count() == 0


def test_withdrawn_web_consent_stops_tracking(personas, tracking):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Withdrawn"})
    consent_record(
        person=contact, channel=Channel.WEB, purpose=tracking, action="opt_in", source="form"
    )
    assert collect(visitor_token(contact_id=contact.pk)).json()["stored"] is True
    consent_record(
        person=contact, channel=Channel.WEB, purpose=tracking, action="opt_out", source="portal"
    )
    response = collect(visitor_token(contact_id=contact.pk))
    assert response.json() == {"stored": False, "reason": "no_consent"}
    assert PageView.objects.count() == 1


def test_web_opt_in_never_lets_a_marketing_mail_through(personas, tracking):
    contact = contact_create(
        actor=personas.owner,
        fields={"last_name": "Webonly"},
        emails=[{"email": "web.only@example.org"}],
    )
    consent_record(
        person=contact, channel=Channel.WEB, purpose=tracking, action="opt_in", source="form"
    )
    state = consent_selectors.current_status(contact, purpose=tracking, channel=Channel.WEB)
    assert state == ConsentStatus.OPTED_IN
    blocked = blocked_addresses(["web.only@example.org"], Purpose.MARKETING, tracking.pk)
    assert "web.only@example.org" in blocked


def test_preference_matrix_asks_website_tracking_only_for_the_tracking_purpose(personas, tracking):
    newsletter = ConsentPurpose.objects.create(
        slug="newsletter", name="Newsletter", policy_text="Monthly."
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Matrix"})
    rows = {
        r.purpose.slug: [c.channel for c in r.cells]
        for r in consent_selectors.consent_status_matrix(contact)
    }
    assert rows["web-tracking"] == ["web"]
    assert rows[newsletter.slug] == ["email", "sms", "phone", "post"]

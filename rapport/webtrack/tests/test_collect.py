"""The collector: CORS only for the company's sites, no row for anonymous visitors or
without consent, tampered tokens refused, page views grouped in 30-minute sessions shown
as one updated `web_session` timeline event."""

import datetime
import json

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from rapport.accounts.services import contact_create
from rapport.campaigns.models import Campaign
from rapport.consent.models import ConsentPurpose
from rapport.consent.services import consent_record
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.webtrack import services
from rapport.webtrack.identity import visitor_token
from rapport.webtrack.models import PageView, WebSession

pytestmark = pytest.mark.django_db
SITE = "https://www.example.com"


@pytest.fixture
def sites(settings):
    settings.RAPPORT_TRACKED_SITE_DOMAINS = ["example.com"]


@pytest.fixture
def tracking(db):
    # The consent migrations create the tracking purpose.
    return ConsentPurpose.objects.get(slug="web-tracking")


@pytest.fixture
def visitor(personas, tracking):
    contact = contact_create(
        actor=personas.owner,
        fields={"first_name": "Nora", "last_name": "Berg"},
        emails=[{"email": "nora@example.org"}],
    )
    consent_record(person=contact, channel="web", purpose=tracking, action="opt_in", source="form")
    return contact


def collect(body, origin=SITE, cookies=None):
    client = Client()
    for name, value in (cookies or {}).items():
        client.cookies[name] = value
    return client.post(
        "/wt/collect", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=origin
    )


def test_script_is_served_static(sites):
    response = Client().get("/wt/t.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"/wt/collect" in response.content


def test_origin_not_allow_listed_is_refused_without_cors(sites, visitor):
    token = visitor_token(contact_id=visitor.pk)
    response = collect({"url": f"{SITE}/", "rpv": token}, origin="https://evil.test")
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response
    assert response.json()["code"] == "origin_not_allowed"
    preflight = Client().options("/wt/collect", HTTP_ORIGIN="https://evil.test")
    assert preflight.status_code == 403
    ok = Client().options("/wt/collect", HTTP_ORIGIN="https://shop.example.com")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert PageView.objects.count() == 0


def test_tampered_or_unsigned_token_is_refused(sites, visitor):
    token = visitor_token(contact_id=visitor.pk)
    forged = signing.dumps({"c": visitor.pk}, salt="another.salt", compress=True)
    for bad in (token[:-2] + "xx", forged, "c:1"):
        response = collect({"url": f"{SITE}/", "rpv": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "bad_visitor_token"
    assert PageView.objects.count() == 0


def test_anonymous_and_unconsenting_visitors_are_not_stored(sites, personas, tracking):
    assert collect({"url": f"{SITE}/"}).json() == {"stored": False, "reason": "anonymous"}
    other = contact_create(actor=personas.owner, fields={"last_name": "NoConsent"})
    response = collect({"url": f"{SITE}/", "rpv": visitor_token(contact_id=other.pk)})
    assert response.json() == {"stored": False, "reason": "no_consent"}
    assert WebSession.objects.count() == PageView.objects.count() == 0


def test_pages_of_an_identified_consenting_visitor_form_sessions(sites, visitor):
    Campaign.objects.create(name="Autumn", utm_campaign="autumn", cost=100)
    token = visitor_token(contact_id=visitor.pk)
    first = collect(
        {
            "url": f"{SITE}/?utm_source=rapport&utm_campaign=autumn&rpv={token}",
            "title": "Home",
            "rpv": token,
        }
    )
    assert first.status_code == 200 and first.json()["stored"] is True
    assert first["Access-Control-Allow-Origin"] == SITE
    collect({"url": f"{SITE}/pricing", "title": "Pricing"}, cookies={"rpv": token})
    session = WebSession.objects.get()
    assert session.page_count == 2 and session.utm["utm_campaign"] == "autumn"
    assert session.campaign.utm_campaign == "autumn"
    event = TimelineEvent.objects.get(kind=EventKind.WEB_SESSION)
    assert event.contact_id == visitor.pk and event.campaign_id == session.campaign_id
    assert [p["title"] for p in event.payload["pages"]] == ["Home", "Pricing"]
    assert "rpv=" not in event.payload["pages"][0]["url"]  # the token is never stored

    later = timezone.now() + datetime.timedelta(minutes=31)
    services.page_view_record(person=visitor, url=f"{SITE}/blog", at=later)
    assert WebSession.objects.count() == 2
    assert TimelineEvent.objects.filter(kind=EventKind.WEB_SESSION).count() == 2


def test_page_outside_the_sites_is_refused(sites, visitor):
    response = collect(
        {"url": "https://elsewhere.test/", "rpv": visitor_token(contact_id=visitor.pk)}
    )
    assert response.status_code == 400 and response.json()["code"] == "url_not_allowed"

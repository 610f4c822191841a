"""Magic links (single use, expiry, tampering, no enumeration, rate limit) and the portal
session kept apart from the staff session."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from rapport.mail.models import MailMessage
from rapport.portal import auth, services
from rapport.portal.models import PortalSession, PortalToken, PortalUser
from rapport.portal.tests.factories import portal_client
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def _link_token(message: MailMessage) -> str:
    match = re.search(r"/portal/login/([A-Za-z0-9_-]+)/", message.text_body)
    assert match, message.text_body
    return match.group(1)


def _ask(client, email):
    return client.post("/portal/login/", {"email": email})


def test_magic_link_signs_in_once(customers):
    alice = customers[0]
    client = Client()
    response = _ask(client, "ALICE@customer.example")
    assert response.status_code == 200
    message = MailMessage.objects.get(
        to=["alice@customer.example"], template__name__startswith="Portal"
    )
    token = _link_token(message)
    # Only the hash is stored.
    assert not PortalToken.objects.filter(token_hash=token).exists()
    assert PortalToken.objects.filter(token_hash=auth.sha256(token)).exists()
    # GET does not use the link (mail scanners fetch links): it shows a button.
    assert client.get(f"/portal/login/{token}/").status_code == 200
    assert client.get(f"/portal/login/{token}/").status_code == 200
    response = client.post(f"/portal/login/{token}/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert auth.PORTAL_COOKIE in response.cookies
    assert "sessionid" not in response.cookies  # never the staff session
    home = client.get("/portal/")
    assert home.status_code == 200 and b"Alice&#x27;s printer jams" in home.content
    # A second use of the same link is refused, in another browser too.
    assert Client().post(f"/portal/login/{token}/").status_code == 404
    assert client.get(f"/portal/login/{token}/").status_code == 404
    assert (
        TimelineEvent.objects.filter(
            kind="portal", contact=alice.contact, payload__action="signed_in"
        ).count()
        == 1
    )


def test_expired_and_tampered_links_are_refused(customers):
    alice = customers[0]
    token = auth.token_issue(
        portal_user=alice.portal_user, purpose="login", lifetime=datetime.timedelta(minutes=30)
    )
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert Client().post(f"/portal/login/{tampered}/").status_code == 404
    PortalToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert Client().post(f"/portal/login/{token}/").status_code == 404
    assert not PortalSession.objects.exists()


def test_revoked_user_cannot_use_a_link_or_session(customers, personas):
    alice = customers[0]
    client = portal_client(alice.portal_user)
    token = auth.token_issue(
        portal_user=alice.portal_user, purpose="login", lifetime=datetime.timedelta(minutes=30)
    )
    services.portal_revoke(portal_user=alice.portal_user, actor=personas.owner)
    assert client.get("/portal/").status_code == 302
    assert Client().post(f"/portal/login/{token}/").status_code == 404


def test_same_answer_for_unknown_addresses_and_rate_limit(customers):
    known = _ask(Client(), "alice@customer.example")
    unknown = _ask(Client(), "nobody@customer.example")
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", r.content)  # noqa: E731
    assert strip(known) == strip(unknown)
    assert MailMessage.objects.filter(to=["nobody@customer.example"]).count() == 0
    client = Client()
    for _ in range(services.PER_ADDRESS_PER_HOUR - 1):
        assert _ask(client, "nobody@customer.example").status_code == 200
    assert _ask(client, "nobody@customer.example").status_code == 429
    # The limit is per address (and per IP, higher): Alice can still ask for her link.
    assert _ask(client, "alice@customer.example").status_code == 200
    assert (
        MailMessage.objects.filter(
            to=["alice@customer.example"], template__name__startswith="Portal"
        ).count()
        == 2
    )


def test_invite_from_contact_page_mails_a_link(customers, personas):
    bob = customers[1]
    PortalUser.objects.filter(pk=bob.portal_user.pk).delete()
    staff = Client()
    staff.force_login(personas.owner)
    page = staff.get(f"/contacts/{bob.contact.pk}/")
    assert b"Invite to the portal" in page.content
    response = staff.post(f"/portal-admin/invite/{bob.contact.pk}", {"next": "/evil.example"})
    assert response.status_code == 302
    message = MailMessage.objects.get(
        to=["bob@customer.example"], template__name__startswith="Portal"
    )
    token = _link_token(message)
    customer = Client()
    assert customer.post(f"/portal/login/{token}/").status_code == 302
    assert customer.get("/portal/").status_code == 200
    # The outsider (another team) cannot invite a contact they cannot see.
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.post(f"/portal-admin/invite/{bob.contact.pk}").status_code == 404


def test_sessions_are_separate(customers, personas):
    alice = customers[0]
    staff = Client()
    staff.force_login(personas.admin)
    # A staff session does not open the portal.
    response = staff.get("/portal/")
    assert response.status_code == 302 and response["Location"].startswith("/portal/login/")
    assert staff.get(f"/portal/cases/{alice.case.pk}/").status_code == 302
    # A portal session does not open the CRM.
    customer = portal_client(alice.portal_user)
    assert customer.get("/").status_code == 404
    assert customer.get("/api/me").status_code == 404
    # Signing out ends the portal session row, not just the cookie.
    key = customer.cookies[auth.PORTAL_COOKIE].value
    customer.post("/portal/logout/")
    stale = Client()
    stale.cookies[auth.PORTAL_COOKIE] = key
    assert stale.get("/portal/").status_code == 302


def test_portal_forms_need_csrf(customers):
    alice = customers[0]
    client = Client(enforce_csrf_checks=True)
    client.cookies[auth.PORTAL_COOKIE] = auth.session_start(alice.portal_user)
    assert client.post(f"/portal/cases/{alice.case.pk}/close").status_code == 403

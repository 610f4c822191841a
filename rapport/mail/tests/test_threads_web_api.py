"""The thread view, a record's emails, moving a message, downloads and the unfiled list:
UI and API, with who-sees-what. Messages enter through the real ingest service (the IMAP
round trip itself is covered in test_inbound_imap.py)."""

import email.utils
from email.message import EmailMessage

import pytest
from django.test import Client

from rapport.accounts.services import account_create, contact_create
from rapport.mail.inbound import ingest_raw
from rapport.mail.models import Mailbox, MailMessage, MatchReason, MessageLink
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def raw(sender="ann@customer.example", subject="Hello", html=None, attach=None, **headers):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "sales@rapport.test", subject
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content("Plain body")
    if html:
        msg.add_alternative(html, subtype="html")
    if attach:
        msg.add_attachment(attach, maintype="application", subtype="pdf", filename="offer.pdf")
    return msg.as_bytes()


@pytest.fixture
def setup(personas):
    box = Mailbox.objects.create(name="Sales", email_address="sales@rapport.test")
    account = account_create(actor=personas.owner, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )
    other = contact_create(
        actor=personas.outsider,
        fields={"first_name": "Olly", "last_name": "Outside"},
        emails=[{"email": "olly@elsewhere.example", "is_primary": True}],
    )
    html = '<p>Hi <b>there</b><script>alert(1)</script><img src=x onerror="alert(2)"></p>'
    message, _ = ingest_raw(box, raw(html=html, attach=b"%PDF-1.4 offer"))
    return {"box": box, "account": account, "ann": ann, "other": other, "message": message}


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_thread_page_shows_sanitised_html_attachments_and_why(setup, personas):
    message = setup["message"]
    assert "<script" not in message.html_body and "onerror" not in message.html_body
    page = _client(personas.owner).get(f"/mail/threads/{message.thread_id}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<b>there</b>" in body and "alert(1)" not in body and "onerror" not in body
    assert "offer.pdf" in body and "Why is this here?" in body
    assert "No match: a new thread" in body and "Customer Ltd" in body
    attachment = message.attachments.get()
    download = _client(personas.owner).get(f"/mail/attachments/{attachment.pk}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 offer"
    assert _client(personas.owner).get(f"/mail/messages/{message.pk}/raw").status_code == 200


def test_who_sees_a_message(setup, personas, api_as):
    message = setup["message"]
    # The outsider sees neither the contact nor the account (private by default).
    outsider = _client(personas.outsider)
    assert outsider.get(f"/mail/threads/{message.thread_id}/").status_code == 404
    attachment = message.attachments.get()
    assert outsider.get(f"/mail/attachments/{attachment.pk}").status_code == 404
    assert outsider.get(f"/mail/messages/{message.pk}/raw").status_code == 404
    assert api_as(personas.outsider).get(f"/api/mail/messages/{message.pk}").status_code == 404
    assert (
        api_as(personas.outsider).get(f"/api/mail/threads/{message.thread_id}").status_code == 404
    )
    # The owner, their manager and an admin do.
    for user in (personas.owner, personas.manager, personas.admin):
        got = api_as(user).get(f"/api/mail/threads/{message.thread_id}")
        assert got.status_code == 200, user
        assert got.data["messages"][0]["match_reason"] == MatchReason.NEW_THREAD
        assert got.data["messages"][0]["attachments"][0]["name"] == "offer.pdf"


def test_record_lists_and_timeline_link(setup, personas, api_as):
    message, ann, account = setup["message"], setup["ann"], setup["account"]
    api = api_as(personas.owner)
    listed = api.get("/api/mail/messages", record_type="contact", record_id=ann.pk)
    assert listed.status_code == 200 and [m["id"] for m in listed.data["items"]] == [message.pk]
    threads = api.get("/api/mail/threads", record_type="account", record_id=account.pk)
    assert [t["id"] for t in threads.data["items"]] == [message.thread_id]
    assert api.get("/api/mail/messages", record_type="nope", record_id=1).status_code == 422
    hidden = api_as(personas.outsider).get(
        "/api/mail/messages", record_type="contact", record_id=ann.pk
    )
    assert hidden.status_code == 404
    fragment = _client(personas.owner).get(f"/mail/emails/contact/{ann.pk}")
    assert f"/mail/threads/{message.thread_id}/" in fragment.content.decode()
    page = _client(personas.owner).get(f"/contacts/{ann.pk}/").content.decode()
    assert f"/mail/emails/contact/{ann.pk}" in page  # the Emails card
    assert f"/mail/threads/{message.thread_id}/#message-{message.pk}" in page  # the timeline


def test_move_to_another_record_and_thread_by_api(setup, personas, api_as):
    message, other = setup["message"], setup["other"]
    box = setup["box"]
    second, _ = ingest_raw(box, raw(subject="Second"))
    api = api_as(personas.owner)
    # The owner may not file it on the outsider's contact (not theirs to change).
    refused = api.post(
        f"/api/mail/messages/{message.pk}/move", {"record_type": "contact", "record_id": other.pk}
    )
    assert refused.status_code == 422 and refused.data["field"] == "record_id"
    assert api.post(f"/api/mail/messages/{message.pk}/move", {}).status_code == 422
    moved = api.post(f"/api/mail/messages/{message.pk}/move", {"thread_id": second.thread_id})
    assert moved.status_code == 200
    assert (moved.data["thread_id"], moved.data["match_reason"]) == (second.thread_id, "moved")
    # The outsider moves it onto their own contact? They cannot even see it.
    assert (
        api_as(personas.outsider)
        .post(f"/api/mail/messages/{message.pk}/move", {"new_thread": True})
        .status_code
        == 404
    )
    # Admin re-files it on the outsider's contact: links and timeline events follow.
    admin = api_as(personas.admin)
    refiled = admin.post(
        f"/api/mail/messages/{message.pk}/move",
        {"new_thread": True, "record_type": "contact", "record_id": other.pk},
    )
    assert refiled.status_code == 200
    assert refiled.data["thread_id"] not in (message.thread_id, second.thread_id)
    assert set(
        MessageLink.objects.filter(message=message).values_list("contact_id", flat=True)
    ) == {other.pk}
    events = TimelineEvent.objects.filter(
        kind=EventKind.EMAIL_RECEIVED, payload__message_id=message.pk
    )
    assert [e.contact_id for e in events] == [other.pk]
    assert api.get(f"/api/mail/messages/{message.pk}").status_code == 404  # no longer theirs


def test_move_through_the_page(setup, personas):
    message = setup["message"]
    client = _client(personas.owner)
    form = client.get(f"/mail/messages/{message.pk}/move")
    assert form.status_code == 200 and "File it on this contact" in form.content.decode()
    empty = client.post(f"/mail/messages/{message.pk}/move", {})
    assert "Choose where to move the message" in empty.content.decode()
    done = client.post(f"/mail/messages/{message.pk}/move", {"new_thread": "on"})
    message.refresh_from_db()
    assert done.status_code == 302 and done["Location"] == f"/mail/threads/{message.thread_id}/"
    assert message.match_reason == MatchReason.MOVED
    from rapport.records.models import Access, OrgDefault

    OrgDefault.objects.update_or_create(
        object_type="contact", defaults={"access": Access.PUBLIC_READ}
    )
    reader = _client(personas.reader)  # now sees the contact, but changes nothing
    assert reader.get(f"/mail/threads/{message.thread_id}/").status_code == 200
    assert "Move…" not in reader.get(f"/mail/threads/{message.thread_id}/").content.decode()
    assert reader.get(f"/mail/messages/{message.pk}/move").status_code == 403
    assert reader.post(f"/mail/messages/{message.pk}/move", {"new_thread": "on"}).status_code == 403


def test_unfiled_is_for_admins(setup, personas, api_as):
    stray, _ = ingest_raw(setup["box"], raw(sender="nobody@unknown.example", subject="Stray"))
    listed = api_as(personas.admin).get("/api/mail/unfiled")
    assert [m["id"] for m in listed.data["items"]] == [stray.pk]
    assert api_as(personas.owner).get("/api/mail/unfiled").status_code == 403
    assert _client(personas.owner).get("/mail/unfiled/").status_code == 403
    page = _client(personas.admin).get("/mail/unfiled/")
    assert "Stray" in page.content.decode()
    assert _client(personas.admin).get(f"/mail/threads/{stray.thread_id}/").status_code == 200
    assert _client(personas.owner).get(f"/mail/threads/{stray.thread_id}/").status_code == 404


def test_personal_mailbox_mail_is_seen_by_its_owner(personas, api_as):
    box = Mailbox.objects.create(
        name="Teammate", email_address="tm@rapport.test", owner=personas.teammate
    )
    message, _ = ingest_raw(box, raw(sender="someone@unknown.example"))
    assert api_as(personas.teammate).get(f"/api/mail/messages/{message.pk}").status_code == 200
    assert api_as(personas.outsider).get(f"/api/mail/messages/{message.pk}").status_code == 404
    assert MailMessage.objects.count() == 1

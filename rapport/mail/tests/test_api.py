"""Mail API: mailboxes (write-only secret, rights), connection test stages, templates with
preview, sending from a record (422 naming the field), over the real SMTP test server."""

import base64

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.mail.models import Delivery, DeliveryState, Mailbox, Security
from rapport.mail.sender import send_due
from rapport.mail.tests.smtp_server import SmtpServer, free_port
from rapport.timeline.models import EventKind, TimelineEvent


@pytest.fixture
def contact(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme", "industry": "Retail"})
    return contact_create(
        actor=personas.owner,
        fields={"first_name": "Bo", "last_name": "Ng", "account_id": account.pk},
        emails=[{"email": "bo@example.com"}],
    )


def _mailbox_body(server, **extra):
    return {
        "name": "Sales",
        "email_address": "sales@example.com",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": "none",
        "smtp_user": "sales",
        "secret": "s3cret",
        **extra,
    }


def test_mailbox_secret_is_write_only_and_shared_needs_an_admin(personas, api_as):
    with SmtpServer(user="sales", password="s3cret") as server:
        rep = api_as(personas.owner)
        refused = rep.post("/api/mail/mailboxes", _mailbox_body(server, shared=True))
        assert refused.status_code == 403
        own = rep.post("/api/mail/mailboxes", _mailbox_body(server))
        assert own.status_code == 201, own.data
        assert own.data["has_secret"] is True and "secret" not in own.data
        assert "s3cret" not in own.content.decode()
        stored = Mailbox.objects.get(pk=own.data["id"])
        assert stored.get_secret() == "s3cret" and "s3cret" not in stored.secret_encrypted
        admin = api_as(personas.admin)
        shared = admin.post("/api/mail/mailboxes", _mailbox_body(server, shared=True))
        assert shared.status_code == 201 and shared.data["shared"] is True
        # Someone else's mailbox is not found; a rep does not see the shared one to manage.
        assert (
            api_as(personas.teammate).get(f"/api/mail/mailboxes/{own.data['id']}").status_code
            == 404
        )
        assert rep.get(f"/api/mail/mailboxes/{shared.data['id']}").status_code == 404
        ok = rep.post(f"/api/mail/mailboxes/{own.data['id']}/test")
        assert ok.status_code == 200 and ok.data["ok"], ok.data
        assert [s["stage"] for s in ok.data["stages"]] == ["dns", "tcp", "tls", "login"]
        rep.patch(f"/api/mail/mailboxes/{own.data['id']}", {"secret": "wrong"})
        bad = rep.post(f"/api/mail/mailboxes/{own.data['id']}/test")
        assert bad.data["ok"] is False
        assert bad.data["stages"][-1]["stage"] == "login"
        assert bad.data["message"].startswith("SMTP login: login refused: 535")
        patched = rep.patch(f"/api/mail/mailboxes/{own.data['id']}", {"smtp_host": "a\r\nb"})
        assert patched.status_code == 422 and patched.data["field"] == "smtp_host"


def test_connection_test_names_dns_and_tcp(personas, api_as):
    rep = api_as(personas.owner)
    box = Mailbox.objects.create(
        name="x",
        email_address="x@example.com",
        owner=personas.owner,
        smtp_host="no-such-host.invalid",
        smtp_port=25,
        smtp_security=Security.NONE,
    )
    answer = rep.post(f"/api/mail/mailboxes/{box.pk}/test").data
    assert answer["stages"][-1]["stage"] == "dns" and not answer["ok"]
    box.smtp_host, box.smtp_port = "127.0.0.1", free_port()
    box.save()
    answer = rep.post(f"/api/mail/mailboxes/{box.pk}/test").data
    assert answer["stages"][-1]["stage"] == "tcp" and not answer["ok"]
    box.smtp_security = Security.SSL
    box.imap_host = "127.0.0.1"
    box.save()
    with SmtpServer() as server:  # a plain-text server on an SSL setting: the TLS stage fails
        box.smtp_port = server.port
        box.save()
        answer = rep.post(f"/api/mail/mailboxes/{box.pk}/test").data
    assert [s["stage"] for s in answer["stages"]][:3] == ["dns", "tcp", "tls"]
    assert answer["stages"][2]["ok"] is False


def test_template_crud_and_preview_with_line_numbers(personas, api_as, contact):
    rep = api_as(personas.owner)
    admin = api_as(personas.admin)
    created = admin.post(
        "/api/mail/templates",
        {
            "name": "Welcome",
            "subject": "Hello {{ contact.first_name }}",
            "body_text": "Hi {{ contact.first_name }},\n"
            "{% if account.industry == 'Retail' %}Retail offer{% endif %}\n{{ sender.name }}",
        },
    )
    assert created.status_code == 201, created.data
    tid = created.data["id"]
    broken = admin.patch(f"/api/mail/templates/{tid}", {"body_text": "ok\n{% if %}"})
    assert broken.status_code == 422 and broken.data["field"] == "body_text"
    assert "line 2" in broken.data["detail"]
    preview = rep.post(
        f"/api/mail/templates/{tid}/preview", {"record_type": "contact", "record_id": contact.pk}
    )
    assert preview.status_code == 200, preview.data
    assert preview.data["subject"] == "Hello Bo"
    assert "Retail offer" in preview.data["text"] and "Olga Owner" in preview.data["text"]
    typo = rep.post(
        "/api/mail/templates/preview",
        {"record_type": "contact", "record_id": contact.pk, "body_text": "a\n{{ contact.frist }}"},
    )
    assert typo.status_code == 422 and typo.data["field"] == "body_text"
    assert "line 2" in typo.data["detail"]
    escape = rep.post("/api/mail/templates/preview", {"body_text": "{{ ''.__class__.__mro__ }}"})
    assert escape.status_code == 422
    # A record the user cannot see is not found, not rendered.
    hidden = rep.post(
        f"/api/mail/templates/{tid}/preview",
        {"record_type": "contact", "record_id": contact.pk},
    )
    assert hidden.status_code == 200
    outsider = api_as(personas.outsider).post(
        f"/api/mail/templates/{tid}/preview", {"record_type": "contact", "record_id": contact.pk}
    )
    assert outsider.status_code == 404


def test_templates_are_written_by_admins_and_used_by_everyone(personas, api_as, contact):
    admin, rep = api_as(personas.admin), api_as(personas.owner)
    body = {"name": "Welcome", "subject": "Hello", "body_text": "Hi {{ contact.first_name }}"}
    refused = rep.post("/api/mail/templates", body)
    assert refused.status_code == 403 and refused.data["code"] == "admin_only"
    tid = admin.post("/api/mail/templates", body).data["id"]
    assert rep.patch(f"/api/mail/templates/{tid}", {"subject": "Changed"}).status_code == 403
    assert rep.delete(f"/api/mail/templates/{tid}").status_code == 403
    assert (
        api_as(personas.manager)
        .patch(f"/api/mail/templates/{tid}", {"subject": "Changed"})
        .status_code
        == 403
    )
    assert [t["name"] for t in rep.get("/api/mail/templates").data] == ["Welcome"]
    assert rep.get(f"/api/mail/templates/{tid}").data["subject"] == "Hello"
    assert admin.patch(f"/api/mail/templates/{tid}", {"subject": "Hi"}).status_code == 200
    answer = rep.post(
        "/api/mail/send",
        {
            "record_type": "contact",
            "record_id": contact.pk,
            "to": ["bo@example.com"],
            "template_id": tid,
        },
    )
    assert answer.status_code == 202, answer.data


def test_template_pages_offer_editing_to_admins_only(personas, contact):
    from rapport.mail.models import EmailTemplate
    from rapport.web.testing import ui_client

    template = EmailTemplate.objects.create(name="Welcome", subject="Hello", body_text="Hi")
    rep = ui_client(personas.owner)
    listing = rep.get("/mail/templates/").content.decode()
    assert "New template" not in listing and "Welcome" in listing
    page = rep.get(f"/mail/templates/{template.pk}/").content.decode()
    assert "Only administrators change templates" in page and "disabled" in page
    assert rep.get("/mail/templates/new").status_code == 403
    posted = rep.post(
        f"/mail/templates/{template.pk}/",
        {"name": "Mine", "purpose": "transactional", "subject": "x", "active": "on"},
    )
    assert posted.status_code == 403
    template.refresh_from_db()
    assert template.name == "Welcome"
    admin = ui_client(personas.admin)
    assert "New template" in admin.get("/mail/templates/").content.decode()
    assert admin.get("/mail/templates/new").status_code == 200


def test_send_from_a_contact_over_smtp_with_template_and_attachment(
    personas, api_as, contact, smtp_server
):
    rep = api_as(personas.owner)
    box = rep.post(
        "/api/mail/mailboxes", {**_mailbox_body(smtp_server), "smtp_user": "", "secret": ""}
    ).data
    template = (
        api_as(personas.admin)
        .post(
            "/api/mail/templates",
            {
                "name": "T",
                "subject": "Hi {{ contact.first_name }}",
                "body_text": "Dear {{ contact.last_name }}",
            },
        )
        .data
    )
    answer = rep.post(
        "/api/mail/send",
        {
            "record_type": "contact",
            "record_id": contact.pk,
            "mailbox_id": box["id"],
            "to": ["bo@example.com"],
            "template_id": template["id"],
            "attachments": [
                {
                    "name": "a.txt",
                    "content_type": "text/plain",
                    "content_base64": base64.b64encode(b"hello").decode(),
                }
            ],
        },
    )
    assert answer.status_code == 202, answer.data
    assert answer.data["state"] == "queued"
    send_due()
    (got,) = smtp_server.sink.messages
    assert got.message["Subject"] == "Hi Bo"
    assert got.message.get_body(("plain",)).get_content().strip() == "Dear Ng"
    assert [a.get_filename() for a in got.message.iter_attachments()] == ["a.txt"]
    state = rep.get(f"/api/mail/deliveries/{answer.data['message_id']}")
    assert state.data["state"] == "sent"
    assert TimelineEvent.objects.filter(contact=contact, kind=EventKind.EMAIL_SENT).count() == 1
    assert TimelineEvent.objects.filter(
        account=contact.account_id, kind=EventKind.EMAIL_SENT
    ).exists()
    assert (
        api_as(personas.outsider)
        .get(f"/api/mail/deliveries/{answer.data['message_id']}")
        .status_code
        == 404
    )


@pytest.mark.parametrize(
    "change, field",
    [
        ({"subject": "Hi\r\nBcc: evil@example.com"}, "subject"),
        ({"to": ["bo@example.com\r\nBcc: evil@example.com"]}, "to"),
        ({"cc": ["not an address"]}, "cc"),
        ({"bcc": ["x@example.com\nX: y"]}, "bcc"),
        ({"mailbox_id": 999999}, "mailbox_id"),
        ({"template_id": 999999}, "template_id"),
        ({"text": "{% if %}"}, "text"),
    ],
)
def test_send_refuses_header_injection_and_bad_input_naming_the_field(
    personas, api_as, contact, change, field
):
    body = {
        "record_type": "contact",
        "record_id": contact.pk,
        "to": ["bo@example.com"],
        "subject": "Hello",
        "text": "Hi",
        **change,
    }
    answer = api_as(personas.owner).post("/api/mail/send", body)
    assert answer.status_code == 422, answer.data
    assert answer.data["field"] == field
    assert not Delivery.objects.exists()


def test_send_on_an_invisible_record_is_not_found(personas, api_as, contact):
    answer = api_as(personas.outsider).post(
        "/api/mail/send",
        {
            "record_type": "contact",
            "record_id": contact.pk,
            "to": ["a@example.com"],
            "subject": "x",
        },
    )
    assert answer.status_code == 404
    assert not Delivery.objects.filter(state=DeliveryState.QUEUED).exists()


def test_send_renders_markdown_and_attaches_files_of_the_record(
    personas, api_as, contact, smtp_server
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rapport.files.services import record_files_add

    (own_file,) = record_files_add(
        record=contact,
        uploads=[SimpleUploadedFile("offer.txt", b"the offer", content_type="text/plain")],
        actor=personas.owner,
    )
    hidden = contact_create(actor=personas.outsider, fields={"first_name": "X", "last_name": "Y"})
    (hidden_file,) = record_files_add(
        record=hidden,
        uploads=[SimpleUploadedFile("secret.txt", b"secret", content_type="text/plain")],
        actor=personas.outsider,
    )
    rep = api_as(personas.owner)
    box = rep.post(
        "/api/mail/mailboxes", {**_mailbox_body(smtp_server), "smtp_user": "", "secret": ""}
    ).data
    body = {
        "record_type": "contact",
        "record_id": contact.pk,
        "mailbox_id": box["id"],
        "to": ["bo@example.com"],
        "subject": "Offer",
        "text": "**Hello** {{ contact.first_name }}\n\n<script>alert(1)</script>\n\n- one",
        "body_format": "markdown",
    }
    # A file of a record the caller cannot see, and an unknown id: 422 naming the entry.
    for ids, field in (([own_file.pk, hidden_file.pk], "file_ids[1]"), ([999999], "file_ids[0]")):
        refused = rep.post("/api/mail/send", {**body, "file_ids": ids})
        assert refused.status_code == 422 and refused.data["field"] == field, refused.data
    assert not Delivery.objects.exists()
    answer = rep.post("/api/mail/send", {**body, "file_ids": [own_file.pk]})
    assert answer.status_code == 202, answer.data
    send_due()
    (got,) = smtp_server.sink.messages
    html = got.message.get_body(("html",)).get_content()
    assert "<strong>Hello</strong> Bo" in html and "<li>one</li>" in html
    assert "<script" not in html
    text = got.message.get_body(("plain",)).get_content()
    assert "**Hello** Bo" in text
    (attached,) = got.message.iter_attachments()
    assert attached.get_filename() == "offer.txt" and attached.get_content() == "the offer"


@pytest.mark.django_db
def test_a_null_in_a_mailbox_or_template_patch_clears_a_text_or_names_the_field(personas, api_as):
    """A null was dropped (a 200 that changed nothing): now it clears a text, keeps the
    secret, and answers 422 naming the field where the value is required."""
    api = api_as(personas.owner)
    body = {"name": "Sales", "email_address": "sales@example.com", "signature": "Bo"}
    url = (
        f"/api/mail/mailboxes/{api.post('/api/mail/mailboxes', {**body, 'secret': 's'}).data['id']}"
    )
    cleared = api.patch(url, {"signature": None, "secret": None})
    assert cleared.status_code == 200 and cleared.data["signature"] == "", cleared.data
    assert cleared.data["has_secret"] is True
    for field in ("name", "email_address", "purpose", "imap_folder", "smtp_port", "active"):
        refused = api.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = api.get(url).data
    assert kept["name"] == "Sales" and kept["imap_folder"] == "INBOX" and kept["active"] is True

    admin = api_as(personas.admin)
    body = {"name": "Hello", "subject": "Hi", "body_text": "Dear you", "body_html": "<p>x</p>"}
    url = f"/api/mail/templates/{admin.post('/api/mail/templates', body).data['id']}"
    cleared = admin.patch(url, {"body_text": None, "body_html": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["body_text"] == "" and cleared.data["body_html"] == ""
    for field in ("name", "subject", "purpose", "active"):
        refused = admin.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = admin.get(url).data
    assert kept["name"] == "Hello" and kept["subject"] == "Hi" and kept["active"] is True

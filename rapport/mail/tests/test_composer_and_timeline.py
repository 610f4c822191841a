"""Sending from a record, as the contact page does it: the outgoing message is on the record's
timeline from the moment it is queued and shows queued → sent or failed; a reply chosen on a
thread joins it; Markdown becomes sanitised HTML; files of the record go along as
attachments. Over the real aiosmtpd sink."""

import pytest

from rapport.accounts.services import contact_create
from rapport.files.services import store_file
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.models import Direction, MailMessage, MailThread
from rapport.mail.sender import send_due
from rapport.mail.services import link_message
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(db):
    return user_create(username="rita", role=Role.SALES_REP, first_name="Rita", last_name="Rep")


@pytest.fixture
def nora(rep):
    return contact_create(
        actor=rep,
        fields={"first_name": "Nora", "last_name": "Berg"},
        emails=[{"email": "nora@example.com"}],
    )


def _post(client, contact, **fields):
    data = {
        "kind": "email",
        "to_people": ["nora@example.com"],
        "subject": "Hello",
        "body": "Hi {{ contact.first_name }}",
        **fields,
    }
    return client.post(f"/contacts/{contact.pk}/composer", data)


def _timeline(client, contact) -> str:
    client.get("/")  # the "queued" toast of the redirect is shown (and gone) first
    return client.get(f"/contacts/{contact.pk}/").content.decode()


def test_a_queued_email_is_on_the_timeline_and_then_shows_sent(rep, nora, mailbox, smtp_server):
    client = ui_client(rep)
    assert _post(client, nora, mailbox=str(mailbox.pk)).status_code == 302
    page = _timeline(client, nora)
    assert "event-email_pending" in page and "Email queued" in page
    assert "Email to nora@example.com: Hello" in page
    send_due()
    page = _timeline(client, nora)
    assert "event-email_pending" not in page
    assert "Email sent: Hello" in page and "Sent" in page
    assert len(smtp_server.sink.messages) == 1


def test_a_refused_email_shows_not_delivered_with_the_reason(rep, nora, mailbox, smtp_server):
    smtp_server.sink.data_answers.append("550 5.1.1 mailbox unavailable")
    client = ui_client(rep)
    _post(client, nora, mailbox=str(mailbox.pk))
    send_due()
    page = _timeline(client, nora)
    assert "Not delivered" in page and "550 5.1.1 mailbox unavailable" in page
    assert "event-email_pending" not in page


def test_an_email_retried_later_stays_queued_with_the_reason(rep, nora, mailbox, smtp_server):
    smtp_server.sink.data_answers.append("451 4.3.0 try again later")
    client = ui_client(rep)
    _post(client, nora, mailbox=str(mailbox.pk))
    send_due()
    page = _timeline(client, nora)
    assert "Email queued" in page and "retry" in page and "451 4.3.0 try again later" in page


def _received(contact, subject="Question", sender="nora@example.com") -> MailMessage:
    thread = MailThread.objects.create(token="t" * 16, subject=subject)
    message = MailMessage.objects.create(
        thread=thread,
        direction=Direction.INBOUND,
        message_id="<q1@example.com>",
        references="<older@example.com>",
        from_address=sender,
        from_name="Nora Berg",
        to=["sales@example.com"],
        subject=subject,
        text_body="How much?",
    )
    link_message(message, [{"contact_id": contact.pk}])
    return message


def test_reply_prefills_and_joins_the_thread_with_its_headers(rep, nora, mailbox, smtp_server):
    received = _received(nora)
    client = ui_client(rep)
    page = client.get(f"/contacts/{nora.pk}/?compose=email&reply_to={received.pk}")
    html = page.content.decode()
    assert "composer-reply-note" in html and f"#message-{received.pk}" in html
    assert 'value="Re: Question"' in html and f'name="reply_to" value="{received.pk}"' in html
    _post(client, nora, subject="Re: Question", reply_to=str(received.pk), mailbox=str(mailbox.pk))
    reply = MailMessage.objects.get(direction=Direction.OUTBOUND)
    assert reply.thread_id == received.thread_id
    send_due()
    (got,) = smtp_server.sink.messages
    assert got.message["In-Reply-To"] == "<q1@example.com>"
    assert got.message["References"] == "<older@example.com> <q1@example.com>"


def test_a_reply_to_a_message_the_user_cannot_see_is_refused(rep, nora, mailbox):
    other = user_create(username="olaf", role=Role.SALES_REP)
    hidden = contact_create(
        actor=other,
        fields={"first_name": "Hid", "last_name": "Den"},
        emails=[{"email": "hidden@example.com"}],
    )
    secret = _received(hidden, subject="Private", sender="hidden@example.com")
    client = ui_client(rep)
    response = _post(client, nora, reply_to=str(secret.pk), mailbox=str(mailbox.pk))
    assert response.status_code == 422
    assert "not available" in text_of(response)
    assert not MailMessage.objects.filter(direction=Direction.OUTBOUND).exists()


def test_markdown_becomes_sanitised_html_next_to_the_text(rep, nora, mailbox, smtp_server):
    client = ui_client(rep)
    _post(
        client,
        nora,
        body="Hi **{{ contact.first_name }}**\n\n- one\n- <script>x</script>",
        body_format="markdown",
        mailbox=str(mailbox.pk),
    )
    send_due()
    (got,) = smtp_server.sink.messages
    html = got.message.get_body(("html",)).get_content()
    assert "<strong>Nora</strong>" in html and "<li>one</li>" in html
    assert "<script>" not in html
    assert "Hi **Nora**" in got.message.get_body(("plain",)).get_content()


def test_files_of_the_record_can_be_attached(rep, nora, mailbox, smtp_server):
    stored = store_file(b"%PDF-1.4 offer", name="offer.pdf", contact_id=nora.pk, uploaded_by=rep)
    client = ui_client(rep)
    page = client.get(f"/contacts/{nora.pk}/?compose=email").content.decode()
    assert "offer.pdf" in page and 'name="record_files"' in page
    _post(client, nora, record_files=[str(stored.pk)], mailbox=str(mailbox.pk))
    send_due()
    (got,) = smtp_server.sink.messages
    assert [a.get_filename() for a in got.message.iter_attachments()] == ["offer.pdf"]


def test_a_file_of_another_record_cannot_be_attached(rep, nora, mailbox):
    other = contact_create(actor=rep, fields={"first_name": "Al", "last_name": "Other"})
    foreign = store_file(b"%PDF-1.4 x", name="x.pdf", contact_id=other.pk, uploaded_by=rep)
    response = _post(ui_client(rep), nora, record_files=[str(foreign.pk)])
    assert response.status_code == 422
    assert not MailMessage.objects.exists()

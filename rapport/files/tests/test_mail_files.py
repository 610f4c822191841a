"""Mail attachments and raw messages are downloadable only by people who can see the message:
someone who can see at least one (not deleted) record it is filed on."""

import pytest

from rapport.accounts.services import account_create, contact_create, contact_delete
from rapport.files.models import FileKind
from rapport.files.services import store_file
from rapport.mail.models import Direction, MailMessage, MailThread, MessageAttachment
from rapport.mail.selectors import messages_visible_to as mail_messages_visible_to
from rapport.mail.services import link_message
from rapport.records.services import record_share
from rapport.web.testing import ui_client

pytestmark = pytest.mark.django_db


def _message(subject: str, links: list[dict]) -> MailMessage:
    thread = MailThread.objects.create(token=f"t-{subject}", subject=subject)
    raw = store_file(b"From: a@example.com\r\n\r\nhi", name="message.eml", kind=FileKind.MAIL_RAW)
    message = MailMessage.objects.create(
        thread=thread, direction=Direction.INBOUND, subject=subject, raw=raw
    )
    link_message(message, links)
    return message


def _attach(message: MailMessage, name: str, data: bytes):
    stored = store_file(
        data, name=name, content_type="application/pdf", kind=FileKind.MAIL_ATTACHMENT
    )
    MessageAttachment.objects.create(message=message, file=stored)
    return stored


@pytest.fixture
def private_contact(personas):
    return contact_create(actor=personas.owner, fields={"last_name": "Private"})


@pytest.fixture
def outsider_contact(personas):
    return contact_create(actor=personas.outsider, fields={"last_name": "Theirs"})


def test_attachment_of_a_message_on_a_visible_record_downloads(personas, private_contact):
    message = _message("Quote", [{"contact_id": private_contact.pk}])
    stored = _attach(message, "quote.pdf", b"%PDF-1.4 quote")
    response = ui_client(personas.owner).get(f"/files/{stored.pk}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 quote"
    assert response["Content-Disposition"] == 'attachment; filename="quote.pdf"'
    raw = ui_client(personas.owner).get(f"/files/{message.raw_id}/download")
    assert raw.status_code == 200 and raw["Content-Disposition"].startswith("attachment")


def test_rep_cannot_download_an_attachment_of_a_message_linked_only_to_invisible_records(
    personas, private_contact
):
    message = _message("Private quote", [{"contact_id": private_contact.pk}])
    stored = _attach(message, "quote.pdf", b"%PDF-1.4 quote")
    client = ui_client(personas.outsider)
    assert client.get(f"/files/{stored.pk}/download").status_code == 404
    assert client.get(f"/files/{message.raw_id}/download").status_code == 404
    # Sharing one linked record opens the message, and so its files.
    record_share(record=private_contact, actor=personas.owner, user=personas.outsider)
    assert client.get(f"/files/{stored.pk}/download").status_code == 200


def test_one_visible_link_is_enough(personas, private_contact, outsider_contact):
    message = _message(
        "Both", [{"contact_id": private_contact.pk}, {"contact_id": outsider_contact.pk}]
    )
    stored = _attach(message, "both.pdf", b"%PDF-1.4 both")
    assert ui_client(personas.outsider).get(f"/files/{stored.pk}/download").status_code == 200
    assert set(mail_messages_visible_to(personas.outsider)) == {message}


def test_a_message_on_deleted_records_only_is_hidden(personas, private_contact):
    message = _message("Gone", [{"contact_id": private_contact.pk}])
    stored = _attach(message, "gone.pdf", b"%PDF-1.4 gone")
    contact_delete(contact=private_contact, actor=personas.owner)
    assert ui_client(personas.owner).get(f"/files/{stored.pk}/download").status_code == 404
    assert message not in mail_messages_visible_to(personas.owner)
    assert message in mail_messages_visible_to(personas.admin)


def test_an_unfiled_message_is_seen_by_admins_only(personas):
    message = _message("Unfiled", [])
    stored = _attach(message, "x.pdf", b"%PDF-1.4 x")
    assert ui_client(personas.owner).get(f"/files/{stored.pk}/download").status_code == 404
    assert ui_client(personas.admin).get(f"/files/{stored.pk}/download").status_code == 200


def test_the_same_bytes_in_two_places_follow_each_places_rule(personas, private_contact):
    """Content-addressed storage shares one copy of identical bytes; who may read it is
    decided per row, never per blob."""
    account = account_create(actor=personas.outsider, fields={"name": "Their Co"})
    message = _message("Shared bytes", [{"contact_id": private_contact.pk}])
    private = _attach(message, "same.pdf", b"%PDF-1.4 same")
    theirs = store_file(b"%PDF-1.4 same", name="same.pdf", account_id=account.pk)
    assert private.file.name == theirs.file.name
    client = ui_client(personas.outsider)
    assert client.get(f"/files/{theirs.pk}/download").status_code == 200
    assert client.get(f"/files/{private.pk}/download").status_code == 404


def test_visible_messages_in_a_fixed_number_of_queries(personas, private_contact):
    from rapport.web.testing import count_queries

    _message("One", [{"contact_id": private_contact.pk}])
    list(mail_messages_visible_to(personas.owner))  # the user's teams and defaults, once
    one = count_queries(lambda: list(mail_messages_visible_to(personas.owner)))
    for i in range(5):
        _message(f"More {i}", [{"contact_id": private_contact.pk}])
    many = count_queries(lambda: list(mail_messages_visible_to(personas.owner)))
    assert one == many
    assert len(list(mail_messages_visible_to(personas.owner))) == 6


def test_email_attachments_are_listed_on_the_records_files(personas, private_contact, api_as):
    from rapport.web.testing import HTMX, text_of

    message = _message("With attachment", [{"contact_id": private_contact.pk}])
    stored = _attach(message, "from-mail.pdf", b"%PDF-1.4 m")
    inline = store_file(b"\x89PNG\r\n\x1a\nlogo", name="logo.png", kind=FileKind.MAIL_ATTACHMENT)
    MessageAttachment.objects.create(message=message, file=inline, inline=True)
    body = text_of(
        ui_client(personas.owner).get(f"/records/contact/{private_contact.pk}/files", headers=HTMX)
    )
    assert "from-mail.pdf" in body and "from an email" in body and "logo.png" not in body
    assert f"/files/{stored.pk}/delete" not in body  # it stays with its message
    listed = api_as(personas.owner).get(f"/api/contacts/{private_contact.pk}/files")
    assert [(f["name"], f["kind"]) for f in listed.data["items"]] == [
        ("from-mail.pdf", "mail_attachment")
    ]

"""Files on record pages: upload (one or several, htmx or plain form), list, download,
remove and undo; who may do what; the size cap; names and types from untrusted clients."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.services import account_create, contact_create, contact_delete
from rapport.files.models import FileKind, StoredFile
from rapport.files.services import record_files_add
from rapport.leads.services import lead_create
from rapport.records.services import record_share
from rapport.sales.services import opportunity_create
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Files Co"})


@pytest.fixture
def contact(personas, account):
    return contact_create(
        actor=personas.owner, fields={"last_name": "Filer", "account_id": account.pk}
    )


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def files_url(record) -> str:
    return f"/records/{record.OBJECT_TYPE}/{record.pk}/files"


def without_tokens(html: str) -> str:
    return re.sub(r'"X-CSRFToken": "[^"]+"|value="[A-Za-z0-9]{64}"', "", html)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_upload_several_files_in_place_lists_them_and_writes_timeline_events(
    personas, contact, account
):
    client = ui_client(personas.owner)
    response = client.post(
        files_url(contact),
        {"file": [upload("quote.pdf", b"%PDF-1.4 quote"), upload("notes.txt", b"hello")]},
        headers=HTMX,
    )
    assert response.status_code == 200
    body = text_of(response)
    assert body.startswith('<section class="card related files-panel" id="record-files"')
    assert "quote.pdf" in body and "notes.txt" in body and "2 files added." in body
    assert response["HX-Trigger"] == "timeline-changed"
    rows = list(StoredFile.objects.filter(contact=contact).order_by("name"))
    assert [r.name for r in rows] == ["notes.txt", "quote.pdf"]
    assert all(r.kind == FileKind.RECORD and r.uploaded_by == personas.owner for r in rows)
    assert rows[1].content_type == "application/pdf"
    events = TimelineEvent.objects.filter(kind=EventKind.FILE_ADDED)
    assert events.count() == 2
    # On the contact's timeline and its account's.
    assert all(e.contact_id == contact.pk and e.account_id == account.pk for e in events)
    assert {e.payload["name"] for e in events} == {"quote.pdf", "notes.txt"}
    page = text_of(client.get(f"/contacts/{contact.pk}/"))
    assert 'id="record-files"' in page and "quote.pdf" in page and "File added: quote.pdf" in page
    assert f'href="/files/{rows[1].pk}/download"' in page


def test_plain_form_upload_comes_back_to_the_record_page(personas, contact):
    client = ui_client(personas.owner)
    response = client.post(files_url(contact), {"file": upload("a.txt", b"abc")})
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/#record-files"
    assert StoredFile.objects.filter(contact=contact, name="a.txt").exists()


@pytest.mark.parametrize("kind", ["account", "contact", "lead", "opportunity"])
def test_every_record_page_has_the_files_panel(personas, kind):
    owner = personas.owner
    record = {
        "account": lambda: account_create(actor=owner, fields={"name": "Acme"}),
        "contact": lambda: contact_create(actor=owner, fields={"last_name": "Generic"}),
        "lead": lambda: lead_create(actor=owner, fields={"last_name": "Generic"}),
        "opportunity": lambda: opportunity_create(
            actor=owner, fields={"name": "Generic deal", "amount": Decimal("1")}
        ),
    }[kind]()
    client = ui_client(owner)
    assert (
        client.post(files_url(record), {"file": upload("x.csv", b"a,b\n1,2\n")}).status_code == 302
    )
    page = text_of(
        client.get(
            {
                "account": "/accounts/{}/",
                "contact": "/contacts/{}/",
                "lead": "/leads/{}/",
                "opportunity": "/opportunities/{}/",
            }[kind].format(record.pk)
        )
    )
    assert 'id="record-files"' in page and "x.csv" in page
    assert 'enctype="multipart/form-data"' in page


def test_download_streams_the_bytes_as_an_attachment(personas, contact):
    [row] = record_files_add(
        record=contact, uploads=[upload("report.pdf", b"%PDF-1.4 body")], actor=personas.owner
    )
    response = ui_client(personas.owner).get(f"/files/{row.pk}/download")
    assert response.status_code == 200
    assert response.streaming
    assert body_of(response) == b"%PDF-1.4 body"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_html_is_served_as_bytes_to_save_never_rendered(personas, contact):
    [row] = record_files_add(
        record=contact,
        uploads=[upload("page.html", b"<html><script>alert(1)</script></html>", "text/plain")],
        actor=personas.owner,
    )
    assert row.content_type == "text/html"  # sniffed, not the client's "text/plain"
    response = ui_client(personas.owner).get(f"/files/{row.pk}/download")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_teammate_sees_the_files_but_only_editors_get_the_upload_form(personas, contact):
    record_files_add(record=contact, uploads=[upload("a.txt", b"abc")], actor=personas.owner)
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="read")
    page = text_of(ui_client(personas.teammate).get(f"/contacts/{contact.pk}/"))
    assert "a.txt" in page
    assert 'class="file-upload"' not in page and "/delete" not in page.split("record-files")[1]
    response = ui_client(personas.teammate).post(
        files_url(contact), {"file": upload("b.txt", b"b")}
    )
    assert response.status_code == 403
    assert not StoredFile.objects.filter(name="b.txt").exists()


def test_outsider_gets_404_for_the_panel_the_upload_and_the_download(personas, contact):
    [row] = record_files_add(
        record=contact, uploads=[upload("secret.txt", b"secret")], actor=personas.owner
    )
    client = ui_client(personas.outsider)
    missing = client.get("/files/999999/download")
    assert missing.status_code == 404
    response = client.get(f"/files/{row.pk}/download")
    assert response.status_code == 404
    # The same answer (but for the page's CSRF token, masked anew each time): nothing leaks.
    assert without_tokens(text_of(response)) == without_tokens(text_of(missing))
    assert client.get(files_url(contact), headers=HTMX).status_code == 404
    assert client.post(files_url(contact), {"file": upload("x.txt", b"x")}).status_code == 404
    delete = f"{files_url(contact)}/{row.pk}/delete"
    assert client.post(delete).status_code == 404
    assert StoredFile.objects.filter(pk=row.pk, deleted_at__isnull=True).exists()
    assert ui_client(None).get(f"/files/{row.pk}/download").status_code == 302  # to sign in


def test_remove_hides_the_file_and_undo_brings_it_back(personas, contact):
    [row] = record_files_add(
        record=contact, uploads=[upload("a.txt", b"abc")], actor=personas.owner
    )
    client = ui_client(personas.owner)
    response = client.post(f"{files_url(contact)}/{row.pk}/delete", headers=HTMX)
    assert response.status_code == 200
    body = text_of(response)
    assert "a.txt” removed." in body and "No files yet." in body
    restore = f"{files_url(contact)}/{row.pk}/restore"
    assert f'action="{restore}"' in body  # the toast's undo
    assert client.get(f"/files/{row.pk}/download").status_code == 404
    assert client.post(f"{files_url(contact)}/{row.pk}/delete").status_code == 404  # gone
    assert client.post(restore).status_code == 302
    assert client.get(f"/files/{row.pk}/download").status_code == 200


def test_a_file_id_under_another_records_url_is_404(personas, contact, account):
    [row] = record_files_add(
        record=contact, uploads=[upload("a.txt", b"abc")], actor=personas.owner
    )
    response = ui_client(personas.owner).post(f"{files_url(account)}/{row.pk}/delete")
    assert response.status_code == 404
    assert StoredFile.objects.get(pk=row.pk).deleted_at is None


def test_files_of_a_deleted_record_stay_but_are_hidden(personas, contact):
    [row] = record_files_add(
        record=contact, uploads=[upload("a.txt", b"abc")], actor=personas.owner
    )
    contact_delete(contact=contact, actor=personas.owner)
    assert ui_client(personas.owner).get(f"/files/{row.pk}/download").status_code == 404
    assert StoredFile.objects.filter(pk=row.pk).exists()
    with StoredFile.objects.get(pk=row.pk).file.open("rb") as fh:
        assert fh.read() == b"abc"


def test_too_large_file_is_refused_with_its_name_and_the_limit(personas, contact, settings):
    settings.RAPPORT_MAX_UPLOAD_BYTES = 1024
    client = ui_client(personas.owner)
    response = client.post(
        files_url(contact),
        {"file": [upload("ok.txt", b"x"), upload("big.bin", b"x" * 2048)]},
        headers=HTMX,
    )
    assert response.status_code == 422
    body = text_of(response)
    assert "“big.bin” is 2.0\xa0KB; a file may be at most 1.0\xa0KB." in body
    assert not StoredFile.objects.exists()  # all or nothing
    assert not TimelineEvent.objects.filter(kind=EventKind.FILE_ADDED).exists()
    # The limit is on the form too, for the browser to check before sending.
    assert 'data-max-bytes="1024"' in body


def test_no_file_chosen_says_so(personas, contact):
    response = ui_client(personas.owner).post(files_url(contact), {}, headers=HTMX)
    assert response.status_code == 422 and "Choose a file." in text_of(response)


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("evil\r\nSet-Cookie: x=1.txt", "evil_Set-Cookie_ x=1.txt"),
        ("...", "file"),
        (".htaccess", "htaccess"),
    ],
)
def test_names_are_sanitised_and_the_download_header_stays_one_line(personas, contact, sent, kept):
    [row] = record_files_add(record=contact, uploads=[upload(sent, b"data")], actor=personas.owner)
    assert row.name == kept
    assert "/" not in row.file.name.removeprefix("files/")[6:]  # the storage name is the hash
    response = ui_client(personas.owner).get(f"/files/{row.pk}/download")
    assert response.status_code == 200
    assert (
        "\r" not in response["Content-Disposition"] and "\n" not in response["Content-Disposition"]
    )


def test_the_record_page_lists_files_in_a_fixed_number_of_queries(personas, contact):
    client = ui_client(personas.owner)
    record_files_add(record=contact, uploads=[upload("a.txt", b"a")], actor=personas.owner)
    one = count_queries(lambda: client.get(files_url(contact), headers=HTMX))
    record_files_add(
        record=contact,
        uploads=[upload(f"{i}.txt", f"{i}".encode()) for i in range(5)],
        actor=personas.teammate if False else personas.owner,
    )
    many = count_queries(lambda: client.get(files_url(contact), headers=HTMX))
    assert one == many

"""Files through the API: list and upload per record, read, download and remove by id."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.services import contact_create
from rapport.files.models import FileKind, StoredFile
from rapport.files.services import record_files_add, store_file
from rapport.mail.models import Direction, MailMessage, MailThread, MessageAttachment
from rapport.mail.services import link_message
from rapport.records.services import record_share
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(personas):
    return contact_create(actor=personas.owner, fields={"last_name": "Api"})


def post_files(client, path: str, *files):
    return client.client.post(path, {"file": list(files)}, headers=client.headers)


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_upload_list_read_download_and_remove(api_as, personas, contact):
    api = api_as(personas.owner)
    response = post_files(
        api,
        f"/api/contacts/{contact.pk}/files",
        upload("a.pdf", b"%PDF-1.4 a"),
        upload("b.txt", b"bee"),
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert [f["name"] for f in created] == ["a.pdf", "b.txt"] or {f["name"] for f in created} == {
        "a.pdf",
        "b.txt",
    }
    by_name = {f["name"]: f for f in created}
    assert by_name["a.pdf"]["content_type"] == "application/pdf"
    assert by_name["a.pdf"]["contact_id"] == contact.pk
    assert by_name["a.pdf"]["uploaded_by_id"] == personas.owner.pk
    assert by_name["a.pdf"]["size"] == 10
    file_id = by_name["a.pdf"]["id"]
    assert by_name["a.pdf"]["download_url"] == f"/api/files/{file_id}/download"
    assert TimelineEvent.objects.filter(kind=EventKind.FILE_ADDED, contact=contact).count() == 2

    listed = api.get(f"/api/contacts/{contact.pk}/files")
    assert listed.status_code == 200
    assert listed.data["count"] == 2 and len(listed.data["items"]) == 2

    one = api.get(f"/api/files/{file_id}")
    assert one.status_code == 200 and one.data["name"] == "a.pdf"

    download = api.client.get(f"/api/files/{file_id}/download", headers=api.headers)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 a"
    assert download["Content-Disposition"] == 'attachment; filename="a.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"

    assert api.delete(f"/api/files/{file_id}").status_code == 204
    assert api.get(f"/api/files/{file_id}").status_code == 404
    assert api.delete(f"/api/files/{file_id}").status_code == 404
    assert api.get(f"/api/contacts/{contact.pk}/files").data["count"] == 1


def test_invisible_record_and_its_files_are_404(api_as, personas, contact):
    [row] = record_files_add(
        record=contact, uploads=[upload("s.txt", b"secret")], actor=personas.owner
    )
    api = api_as(personas.outsider)
    assert api.get(f"/api/contacts/{contact.pk}/files").status_code == 404
    response = post_files(api, f"/api/contacts/{contact.pk}/files", upload("x.txt", b"x"))
    assert response.status_code == 404
    missing = api.get("/api/files/999999")
    hidden = api.get(f"/api/files/{row.pk}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.data == missing.data
    assert api.client.get(f"/api/files/{row.pk}/download", headers=api.headers).status_code == 404
    assert api.delete(f"/api/files/{row.pk}").status_code == 404
    assert StoredFile.objects.get(pk=row.pk).deleted_at is None


def test_readers_may_list_and_download_but_not_upload_or_remove(api_as, personas, contact):
    [row] = record_files_add(record=contact, uploads=[upload("r.txt", b"r")], actor=personas.owner)
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="read")
    api = api_as(personas.teammate)
    assert api.get(f"/api/contacts/{contact.pk}/files").data["count"] == 1
    assert api.client.get(f"/api/files/{row.pk}/download", headers=api.headers).status_code == 200
    response = post_files(api, f"/api/contacts/{contact.pk}/files", upload("x.txt", b"x"))
    assert response.status_code == 403
    assert api.delete(f"/api/files/{row.pk}").status_code == 403


def test_too_large_file_is_413_naming_the_field(api_as, personas, contact, settings):
    settings.RAPPORT_MAX_UPLOAD_BYTES = 100
    api = api_as(personas.owner)
    response = post_files(api, f"/api/contacts/{contact.pk}/files", upload("big.bin", b"x" * 101))
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "file_too_large" and body["field"] == "file"
    assert "big.bin" in body["detail"] and "100" in body["detail"]
    assert not StoredFile.objects.exists()


def test_missing_file_field_is_422_naming_it(api_as, personas, contact):
    api = api_as(personas.owner)
    response = api.client.post(
        f"/api/contacts/{contact.pk}/files", {"other": "x"}, headers=api.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "file"


def test_path_traversal_and_crlf_names_are_cleaned(api_as, personas, contact):
    api = api_as(personas.owner)
    response = post_files(
        api,
        f"/api/contacts/{contact.pk}/files",
        upload("x\r\nX-Evil: 1.txt", b"crlf"),
    )
    assert response.status_code == 201
    [created] = response.json()
    assert "\r" not in created["name"] and "\n" not in created["name"]
    download = api.client.get(created["download_url"], headers=api.headers)
    assert download.status_code == 200 and "X-Evil" not in download.headers


def test_mail_attachments_download_by_message_visibility_and_cannot_be_removed(
    api_as, personas, contact
):
    thread = MailThread.objects.create(token="t-api", subject="Quote")
    message = MailMessage.objects.create(thread=thread, direction=Direction.INBOUND)
    link_message(message, [{"contact_id": contact.pk}])
    stored = store_file(b"%PDF-1.4 q", name="q.pdf", kind=FileKind.MAIL_ATTACHMENT)
    MessageAttachment.objects.create(message=message, file=stored)
    owner = api_as(personas.owner)
    assert (
        owner.client.get(f"/api/files/{stored.pk}/download", headers=owner.headers).status_code
        == 200
    )
    assert owner.delete(f"/api/files/{stored.pk}").status_code == 409
    outsider = api_as(personas.outsider)
    assert (
        outsider.client.get(
            f"/api/files/{stored.pk}/download", headers=outsider.headers
        ).status_code
        == 404
    )


def test_the_schema_documents_the_file_endpoints(api_as, personas):
    schema = api_as(personas.owner).get("/api/openapi.json").data
    upload_op = schema["paths"]["/api/contacts/{pk}/files"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert "413" in upload_op["responses"]
    assert "/api/files/{pk}/download" in schema["paths"]

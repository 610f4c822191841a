"""Files on case entries through the API and the composer: a note's files stay on the
case, a reply's go out with the email (its outbox message carries them); downloads only
for who can see the case, and only files of that case."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rapport.cases.models import Case, CaseEntry, Queue
from rapport.cases.services import case_create
from rapport.conftest import ApiClient
from rapport.mail.models import Mailbox, MessageAttachment

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(personas, desk):
    desk["queue"].mailbox = Mailbox.objects.create(name="Help", email_address="help@rapport.test")
    desk["queue"].save()
    return case_create(
        actor=personas.teammate,
        fields={"subject": "Broken", "contact": desk["ann"], "queue": desk["queue"]},
    )


def _file(name="notes.txt", data=b"hello"):
    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_api_note_and_reply_with_files_and_download(personas, case):
    api = ApiClient(personas.teammate)
    note = api.client.post(
        f"/api/cases/{case.pk}/entries/with-files",
        {"kind": "note", "body": "Internal log", "file": [_file("log.txt", b"trace")]},
        headers=api.headers,
    )
    assert note.status_code == 201, note.content
    (attachment,) = note.json()["attachments"]
    assert attachment["name"] == "log.txt" and attachment["size"] == 5
    download = api.client.get(attachment["download_path"], headers=api.headers)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"trace"

    reply = api.client.post(
        f"/api/cases/{case.pk}/entries/with-files",
        {"kind": "reply", "body": "See attached", "file": [_file("guide.txt", b"guide")]},
        headers=api.headers,
    )
    assert reply.status_code == 201, reply.content
    entry = CaseEntry.objects.get(pk=reply.json()["id"])
    sent = MessageAttachment.objects.filter(message_id=entry.message_id).select_related("file")
    assert [a.file.name for a in sent] == ["guide.txt"]
    listed = api.get(f"/api/cases/{case.pk}/entries").data["items"]
    assert [len(e["attachments"]) for e in listed] == [1, 1]

    # An outsider cannot see the case: 404 for the entries and the file alike.
    outsider = ApiClient(personas.outsider)
    assert (
        outsider.client.get(attachment["download_path"], headers=outsider.headers).status_code
        == 404
    )


def test_a_file_of_another_case_is_not_downloadable_under_this_one(personas, case, desk):
    other = case_create(
        actor=personas.teammate, fields={"subject": "Other", "queue": desk["queue"]}
    )
    from rapport.cases.services import case_note

    entry = case_note(case=other, actor=personas.teammate, body="x", uploads=[_file()])
    file_id = entry.attachments.get().file_id
    client = Client()
    client.force_login(personas.teammate)
    assert client.get(f"/cases/{other.pk}/attachments/{file_id}").status_code == 200
    assert client.get(f"/cases/{case.pk}/attachments/{file_id}").status_code == 404


def test_composer_uploads_files_and_rejects_empty_ones(personas, case):
    client = Client()
    client.force_login(personas.teammate)
    response = client.post(
        f"/cases/{case.pk}/compose",
        {"kind": "note", "body": "With a file", "files": [_file("a.txt", b"aaa")]},
    )
    assert response.status_code == 302
    entry = CaseEntry.objects.get(case=case, kind="note")
    assert [a.file.name for a in entry.attachments.all()] == ["a.txt"]
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'enctype="multipart/form-data"' in page and "a.txt" in page

    client.post(
        f"/cases/{case.pk}/compose",
        {"kind": "note", "body": "Empty file", "files": [_file("empty.txt", b"")]},
    )
    assert not CaseEntry.objects.filter(body="Empty file").exists()
    assert Case.objects.count() == 1 and Queue.objects.count() == 1

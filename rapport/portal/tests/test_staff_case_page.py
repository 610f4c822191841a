"""What the customer does in the portal shows on the staff case page: files attached when
opening a case or replying sit on the conversation entry they came with, downloadable by
staff who see the case (and by nobody else)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rapport.cases.models import Case, CaseEntryAttachment
from rapport.portal.tests.factories import portal_client

pytestmark = pytest.mark.django_db


def _staff(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_portal_attachments_are_on_the_staff_conversation(customers, personas):
    alice = customers[0]
    portal = portal_client(alice.portal_user)
    opened = portal.post(
        "/portal/cases/new/",
        {
            "subject": "Paper tray cracked",
            "description": "See the photo",
            "files": SimpleUploadedFile("tray.txt", b"crack photo bytes", "text/plain"),
        },
    )
    assert opened.status_code == 302, opened.content
    case = Case.objects.get(subject="Paper tray cracked")
    replied = portal.post(
        f"/portal/cases/{case.pk}/reply",
        {
            "body": "And the invoice",
            "files": SimpleUploadedFile("invoice.txt", b"inv", "text/plain"),
        },
    )
    assert replied.status_code == 302
    links = {a.file.name: a for a in CaseEntryAttachment.objects.filter(entry__case=case)}
    assert set(links) == {"tray.txt", "invoice.txt"}
    assert links["tray.txt"].entry.body == "See the photo"
    assert links["invoice.txt"].entry.body == "And the invoice"
    assert all(a.entry.kind == "customer" for a in links.values())

    staff = _staff(personas.owner)
    page = staff.get(f"/cases/{case.pk}/").content.decode()
    for name, link in links.items():
        assert name in page and f"/cases/{case.pk}/attachments/{link.file_id}" in page
    download = staff.get(f"/cases/{case.pk}/attachments/{links['tray.txt'].file_id}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == (
        b"crack photo bytes"
    )
    outsider = _staff(personas.outsider)
    assert (
        outsider.get(f"/cases/{case.pk}/attachments/{links['tray.txt'].file_id}").status_code == 404
    )
    # The customer still lists and downloads them in the portal.
    assert b"tray.txt" in portal.get(f"/portal/cases/{case.pk}/").content


def test_files_without_a_description_still_get_an_entry(customers, personas):
    alice = customers[0]
    portal = portal_client(alice.portal_user)
    portal.post(
        "/portal/cases/new/",
        {"subject": "Only a file", "files": SimpleUploadedFile("a.txt", b"a", "text/plain")},
    )
    case = Case.objects.get(subject="Only a file")
    assert CaseEntryAttachment.objects.filter(entry__case=case, file__name="a.txt").exists()

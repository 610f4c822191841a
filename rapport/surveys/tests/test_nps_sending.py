"""Staff send NPS surveys from the UI: create one and send it to its segment, to one contact
from their page, to the contacts checked on the contact list; once per contact, through the
outbox, by administrators and managers only; and the API's send-to-contacts."""

import pytest
from django.test import Client
from django.utils import timezone

from rapport.mail.models import MailMessage
from rapport.segments.models import Segment, SegmentMember
from rapport.surveys.models import NpsSurvey, SurveyInvitation

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _nps_mails(address: str):
    return MailMessage.objects.filter(to=[address], template__name="NPS survey")


def test_manager_creates_a_survey_and_sends_it_to_the_segment(customers, personas):
    alice, bob = customers
    segment = Segment.objects.create(name="Printer owners", kind="static")
    SegmentMember.objects.create(
        segment=segment, contact=alice.contact, source="manual", added_at=timezone.now()
    )
    manager = _client(personas.manager)
    assert b"NPS surveys" in manager.get("/surveys/").content
    missing = manager.post("/surveys/nps/", {"name": "Q4", "question": "Recommend us?"})
    assert missing.status_code == 422 and not NpsSurvey.objects.exists()
    created = manager.post(
        "/surveys/nps/", {"name": "Q4", "question": "Recommend us?", "segment": segment.pk}
    )
    assert created.status_code == 302
    survey = NpsSurvey.objects.get()
    manager.post(f"/surveys/nps/{survey.pk}/send")
    manager.post(f"/surveys/nps/{survey.pk}/send")  # a second click invites nobody again
    assert SurveyInvitation.objects.filter(nps_survey=survey).count() == 1
    assert _nps_mails("alice@customer.example").count() == 1
    assert _nps_mails("bob@customer.example").count() == 0
    page = manager.get("/surveys/nps/").content.decode()
    assert "Q4" in page and "Printer owners" in page

    rep = _client(personas.owner)
    assert b"NPS surveys" not in rep.get("/surveys/").content
    assert rep.get("/surveys/nps/").status_code == 403
    assert rep.post(f"/surveys/nps/{survey.pk}/send").status_code == 403


def test_send_to_one_contact_from_their_page(customers, personas):
    alice, bob = customers
    survey = NpsSurvey.objects.create(name="Relationship", days_after_order=30)
    manager = _client(personas.manager)
    contact_page = manager.get(f"/contacts/{alice.contact.pk}/").content.decode()
    assert f"/surveys/nps/contact/{alice.contact.pk}/" in contact_page
    form = manager.get(f"/surveys/nps/contact/{alice.contact.pk}/")
    assert form.status_code == 200 and b"Relationship" in form.content
    sent = manager.post(f"/surveys/nps/contact/{alice.contact.pk}/", {"survey": survey.pk})
    assert sent.status_code == 302
    again = manager.post(f"/surveys/nps/contact/{alice.contact.pk}/", {"survey": survey.pk})
    assert again.status_code == 422 and b"already had this survey" in again.content
    assert _nps_mails("alice@customer.example").count() == 1
    invitation = SurveyInvitation.objects.get(nps_survey=survey)
    assert invitation.contact_id == alice.contact.pk and invitation.account_id == alice.account.pk
    rep = _client(personas.owner)
    assert "/surveys/nps/contact/" not in rep.get(f"/contacts/{alice.contact.pk}/").content.decode()
    assert (
        rep.post(f"/surveys/nps/contact/{alice.contact.pk}/", {"survey": survey.pk}).status_code
        == 403
    )
    assert _client(personas.outsider).get(
        f"/surveys/nps/contact/{bob.contact.pk}/"
    ).status_code in (
        403,
        404,
    )


def test_bulk_send_from_the_contact_list(customers, personas):
    alice, bob = customers
    survey = NpsSurvey.objects.create(name="Bulk", days_after_order=30)
    manager = _client(personas.manager)
    listing = manager.get("/contacts/").content.decode()
    assert 'value="send_nps"' in listing and "Bulk" in listing
    assert 'value="send_nps"' not in _client(personas.owner).get("/contacts/").content.decode()
    no_survey = manager.post(
        "/contacts/bulk", {"action": "send_nps", "ids": [alice.contact.pk]}, follow=True
    )
    assert b"Choose the survey" in no_survey.content
    manager.post(
        "/contacts/bulk",
        {"action": "send_nps", "survey_id": survey.pk, "ids": [alice.contact.pk, bob.contact.pk]},
    )
    assert set(
        SurveyInvitation.objects.filter(nps_survey=survey).values_list("contact_id", flat=True)
    ) == {alice.contact.pk, bob.contact.pk}
    # A rep posting the action anyway is refused by the form (not an offered action).
    _client(personas.owner).post(
        "/contacts/bulk",
        {"action": "send_nps", "survey_id": survey.pk, "ids": [alice.colleague.pk]},
    )
    assert not SurveyInvitation.objects.filter(contact=alice.colleague).exists()


def test_api_send_to_contacts(customers, personas, api_as):
    alice, bob = customers
    survey = NpsSurvey.objects.create(name="API", days_after_order=30)
    api = api_as(personas.manager)
    ok = api.post(
        f"/api/surveys/nps/{survey.pk}/send-contacts", {"contact_ids": [alice.contact.pk]}
    )
    assert ok.status_code == 200 and ok.json() == {"sent": 1}
    again = api.post(
        f"/api/surveys/nps/{survey.pk}/send-contacts", {"contact_ids": [alice.contact.pk]}
    )
    assert again.json() == {"sent": 0}
    assert (
        api_as(personas.owner)
        .post(f"/api/surveys/nps/{survey.pk}/send-contacts", {"contact_ids": [bob.contact.pk]})
        .status_code
        == 403
    )
    empty = api.post(f"/api/surveys/nps/{survey.pk}/send-contacts", {"contact_ids": []})
    assert empty.status_code == 422
    assert (
        api.post(
            "/api/surveys/nps/999999/send-contacts", {"contact_ids": [alice.contact.pk]}
        ).status_code
        == 404
    )

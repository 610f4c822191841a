"""CSAT on case resolution (through the timeline listener), the one-click signed links
(GET never votes; one answer per link; tampering refused), NPS and the results."""

import re
from collections import Counter

import pytest
from django.test import Client

from rapport.cases.services import case_set_status
from rapport.mail.models import MailMessage
from rapport.segments.models import Segment, SegmentMember
from rapport.surveys import selectors, services
from rapport.surveys.models import NpsSurvey, SurveyInvitation, SurveyKind
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def _links(message: MailMessage) -> dict[int, str]:
    return {
        int(score): path
        for score, path in re.findall(
            r"^(\d+)\b.*?https?://[^/]+(/s/\S+)$", message.text_body, re.M
        )
    }


def _resolve(case, actor):
    case_set_status(case=case, status="resolved", actor=actor)
    return SurveyInvitation.objects.get(case=case)


def test_resolving_a_case_mails_one_csat_survey(customers, personas):
    alice = customers[0]
    invitation = _resolve(alice.case, personas.owner)
    assert invitation.kind == SurveyKind.CSAT and invitation.email == "alice@customer.example"
    assert invitation.agent_id == alice.case.owner_id
    message = MailMessage.objects.get(template__name=services.CSAT_TEMPLATE)
    assert message.to == ["alice@customer.example"]
    assert sorted(_links(message)) == [1, 2, 3, 4, 5]
    # Reopened and resolved again: still one survey for the case.
    case_set_status(case=alice.case, status="open", actor=personas.owner)
    case_set_status(case=alice.case, status="resolved", actor=personas.owner)
    assert SurveyInvitation.objects.filter(case=alice.case).count() == 1


def test_one_click_link_confirms_then_records_once(customers, personas):
    alice = customers[0]
    invitation = _resolve(alice.case, personas.owner)
    path = _links(MailMessage.objects.get(template__name=services.CSAT_TEMPLATE))[4]
    client = Client()
    page = client.get(path)  # a link scanner or the customer's click: nothing recorded
    assert page.status_code == 200
    assert b'value="4" checked' in page.content
    invitation.refresh_from_db()
    assert invitation.answered_at is None
    response = client.post(path, {"score": "4", "comment": "Quick and kind"})
    assert response.status_code == 200 and b"Thank you" in response.content
    invitation.refresh_from_db()
    assert (invitation.score, invitation.comment) == (4, "Quick and kind")
    event = TimelineEvent.objects.get(kind="survey_answered")
    assert (event.contact_id, event.case_id, event.payload["score"]) == (
        alice.contact.pk,
        alice.case.pk,
        4,
    )
    # A forwarded link (another browser) cannot vote again: refused, the first answer stands.
    again = Client().post(path.rsplit("/", 1)[0] + "/1", {"score": "1"})
    assert again.status_code == 409
    assert Client().get(path).status_code == 409
    invitation.refresh_from_db()
    assert invitation.score == 4
    assert TimelineEvent.objects.filter(kind="survey_answered").count() == 1
    with pytest.raises(services.AlreadyAnswered):
        services.answer(invitation=invitation, score=2)


def test_tampered_and_foreign_links_are_refused(customers, personas):
    alice, bob = customers
    invitation = _resolve(alice.case, personas.owner)
    token = services.make_token(invitation)
    payload, _, signature = token.rpartition(":")
    # (A character the payload does not already end with: it ends with the signing time,
    # which ends in "x" one time in 62, and the "forgery" was then the valid token.)
    changed = "y" if payload.endswith("x") else "x"
    forged_other_id = token.replace(payload, payload[:-1] + changed)
    assert forged_other_id != token
    for bad in (token[:-3] + "abc", forged_other_id, "garbage", token + "x"):
        assert Client().post(f"/s/{bad}/5", {"score": "5"}).status_code == 404
    # A token signed with another salt (the consent preference links) is refused too.
    from rapport.consent.tokens import make_preferences_token

    assert Client().get(f"/s/{make_preferences_token(person='c1')}/5").status_code == 404
    # Out of scale: 422, nothing recorded.
    response = Client().post(f"/s/{token}", {"score": "9"})
    assert response.status_code == 422
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_results_csat_and_nps(customers, personas):
    alice, bob = customers
    a = _resolve(alice.case, personas.owner)
    b = _resolve(bob.case, personas.owner)
    services.answer(invitation=a, score=5)
    services.answer(invitation=b, score=2)
    segment = Segment.objects.create(name="Everyone", kind="static")
    for contact in (alice.contact, bob.contact, alice.colleague, bob.colleague):
        SegmentMember.objects.create(
            segment=segment, contact=contact, source="manual", added_at=a.sent_at
        )
    survey = services.nps_survey_create(
        actor=personas.manager, fields={"name": "Q4", "segment": segment}
    )
    assert services.nps_send_to_segment(survey=survey, actor=personas.admin) == 4
    assert services.nps_send_to_segment(survey=survey, actor=personas.admin) == 0  # once each
    scores = iter([10, 9, 7, 3])  # 2 promoters, 1 passive, 1 detractor → NPS 25
    for invitation in SurveyInvitation.objects.filter(kind="nps").order_by("pk"):
        services.answer(invitation=invitation, score=next(scores))
    result = selectors.results(personas.admin)
    assert result["csat"]["score"] == 50.0 and result["csat"]["answers"] == 2
    assert result["nps"]["score"] == 25.0
    assert (result["nps"]["promoters"], result["nps"]["detractors"]) == (2, 1)
    assert result["csat"]["by_category"][0]["label"] == "Complaint"
    # NPS by agent: each answer counts for the owner of the customer it was sent to.
    people = (alice.contact, bob.contact, alice.colleague, bob.colleague)
    owners = Counter(contact.owner.username for contact in people)
    by_agent = {row["label"]: row["answers"] for row in result["nps"]["by_agent"]}
    assert by_agent == dict(owners) and sum(by_agent.values()) == 4
    # The outsider sees none of these customers: no answers counted.
    assert selectors.results(personas.outsider)["csat"]["answers"] == 0


def test_nps_after_order_and_api(customers, personas, api_as):
    alice = customers[0]
    survey = NpsSurvey.objects.create(name="After order", days_after_order=7)
    import datetime

    today = alice.order.ordered_at.date() + datetime.timedelta(days=7)
    assert services.nps_send_due(today=today) == 2  # Alice's and Bob's orders of that day
    assert services.nps_send_due(today=today) == 0
    invitation = SurveyInvitation.objects.get(nps_survey=survey, contact=alice.contact)
    assert invitation.order_id == alice.order.pk and invitation.product_id == alice.line.product_id
    services.answer(invitation=invitation, score=9)
    api = api_as(personas.owner)
    response = api.get("/api/surveys/results")
    assert response.status_code == 200
    assert response.json()["nps"]["score"] == 100.0
    page = api.get("/api/surveys/answers", kind="nps")
    assert [item["score"] for item in page.json()["items"]] == [9]
    denied = api_as(personas.owner).post("/api/surveys/nps", {"name": "x", "days_after_order": 3})
    assert denied.status_code == 403
    created = api_as(personas.manager).post(
        "/api/surveys/nps", {"name": "x", "days_after_order": 3}
    )
    assert created.status_code == 201


def test_dashboard_page(customers, personas):
    alice = customers[0]
    services.answer(invitation=_resolve(alice.case, personas.owner), score=5)
    client = Client()
    client.force_login(personas.owner)
    response = client.get("/surveys/")
    assert response.status_code == 200 and b"100.0 %" in response.content
    case_page = client.get(f"/cases/{alice.case.pk}/")
    assert b'id="case-csat">5/5' in case_page.content

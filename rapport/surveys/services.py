"""Writes of surveys: CSAT invitations when a case is resolved (through the timeline
listener), NPS invitations to a segment or N days after an order, and answers.

Links are signed (`rapport.surveys.answer` salt) and carry the invitation id; the score in
the link is only preselected on a confirmation page (GET never votes, so mail scanners that
fetch links do not answer); the POST records the answer. One answer per invitation: a second
vote — a forwarded link, a double click — is refused and the first answer stands."""

import datetime
import logging

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.surveys.models import SCALE, NpsSurvey, SurveyInvitation, SurveyKind
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

log = logging.getLogger(__name__)
SALT = "rapport.surveys.answer"
CSAT_TEMPLATE = "CSAT survey"
NPS_TEMPLATE = "NPS survey"
_DEFAULTS = {
    CSAT_TEMPLATE: (
        "How did we do? Request #{{ case.number }}",
        "Hello {{ contact.first_name }},\n\nYour request #{{ case.number }} "
        "“{{ case.subject }}” is resolved. How satisfied are you with our help?\n\n"
        "{% for link in links %}{{ link.score }} {{ link.label }}: {{ link.url }}\n{% endfor %}"
        "\nOne click is enough; you can add a comment on the next page.\n",
    ),
    NPS_TEMPLATE: (
        "A quick question",
        "Hello {{ contact.first_name }},\n\n{{ question }} (0 = not at all, 10 = extremely)\n\n"
        "{% for link in links %}{{ link.score }}: {{ link.url }}\n{% endfor %}",
    ),
}
CSAT_LABELS = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neutral",
    4: "Satisfied",
    5: "Very satisfied",
}


class BadLink(Exception):
    """A changed, cut or foreign link (the page answers 404)."""


class AlreadyAnswered(Exception):
    def __init__(self, invitation):
        super().__init__("This survey was already answered")
        self.invitation = invitation


def make_token(invitation: SurveyInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "k": invitation.kind}, salt=SALT)


def read_token(token: str) -> SurveyInvitation:
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise BadLink("This link is not valid") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("i"), int):
        raise BadLink("This link is not valid")
    invitation = (
        SurveyInvitation.objects.select_related("case", "contact", "nps_survey")
        .filter(pk=payload["i"], kind=payload.get("k"))
        .first()
    )
    if invitation is None:
        raise BadLink("This link is not valid")
    return invitation


def answer_url(invitation: SurveyInvitation, score: int) -> str:
    from rapport.consent.tokens import absolute

    return absolute(reverse("survey_public:answer", args=[make_token(invitation), score]))


def _template(name: str):
    from rapport.mail.models import EmailTemplate, Purpose

    subject, body = _DEFAULTS[name]
    template, _ = EmailTemplate.objects.get_or_create(
        name=name,
        defaults={"purpose": Purpose.TRANSACTIONAL, "subject": subject, "body_text": body},
    )
    return template


def _mail(invitation: SurveyInvitation, template_name: str, context: dict, actor=None) -> None:
    from rapport.mail.models import Purpose
    from rapport.mail.rendering import render_template
    from rapport.mail.services import queue_email
    from rapport.portal.services import support_mailbox

    template = _template(template_name)
    low, high = SCALE[invitation.kind]
    context = {
        "contact": {
            "first_name": invitation.contact.first_name if invitation.contact else "",
            "last_name": invitation.contact.last_name if invitation.contact else "",
        },
        "links": [
            {
                "score": s,
                "label": CSAT_LABELS.get(s, "") if invitation.kind == SurveyKind.CSAT else "",
                "url": answer_url(invitation, s),
            }
            for s in range(high, low - 1, -1)
        ],
        **context,
    }
    queue_email(
        to=[invitation.email],
        subject=render_template(template.subject, context),
        text=render_template(template.body_text, context),
        html=render_template(template.body_html, context, html=True) if template.body_html else "",
        mailbox=support_mailbox(),
        links=[{"contact_id": invitation.contact_id, "account_id": invitation.account_id}],
        purpose=Purpose.TRANSACTIONAL,
        template=template,
        actor=actor,
    )


# ----- CSAT ---------------------------------------------------------------------------


def csat_send(*, case) -> SurveyInvitation | None:
    """Write and mail the CSAT survey of a resolved case (once per case; nothing without a
    contact email)."""
    contact = case.contact
    email = (getattr(contact, "email", "") or "").strip()
    if contact is None or not email:
        return None
    with transaction.atomic():
        if SurveyInvitation.objects.filter(kind=SurveyKind.CSAT, case=case).exists():
            return None
        invitation = SurveyInvitation.objects.create(
            kind=SurveyKind.CSAT,
            contact=contact,
            account_id=case.account_id,
            case=case,
            agent_id=case.owner_id,
            category_id=case.category_id,
            product_id=case.product_id,
            email=email,
            sent_at=timezone.now(),
        )
        _mail(
            invitation,
            CSAT_TEMPLATE,
            {"case": {"number": case.number, "subject": case.subject}},
        )
    return invitation


def on_timeline_events(events) -> None:
    """The timeline listener: a case moved to resolved sends its CSAT survey."""
    from rapport.cases.models import Case

    for event in events:
        if event.get("kind") != EventKind.CASE_STATUS:
            continue
        payload = event.get("payload") or {}
        if payload.get("to") != "resolved" or not event.get("case_id"):
            continue
        case = Case.objects.select_related("contact").filter(pk=event["case_id"]).first()
        if case is not None:
            csat_send(case=case)


# ----- NPS ----------------------------------------------------------------------------


def require_nps_sender(actor) -> None:
    """Only administrators and managers send NPS surveys (PermissionDenied otherwise)."""
    _require_manager(actor)


def can_send_nps(actor) -> bool:
    try:
        _require_manager(actor)
    except PermissionDenied:
        return False
    return True


def _require_manager(actor) -> None:
    if actor is None or not actor.is_authenticated or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot send surveys")
    if not (actor.is_admin or actor.role == "manager"):
        raise PermissionDenied("Only administrators and managers send NPS surveys")


def nps_survey_create(*, actor, fields: dict) -> NpsSurvey:
    _require_manager(actor)
    name = (fields.get("name") or "").strip()[:120]
    if not name:
        raise ValidationError({"name": ["required"]})
    if not fields.get("segment") and not fields.get("days_after_order"):
        raise ValidationError({"segment_id": ["give a segment or days_after_order"]})
    return NpsSurvey.objects.create(
        name=name,
        question=(fields.get("question") or NpsSurvey._meta.get_field("question").default)[:300],
        segment=fields.get("segment"),
        days_after_order=fields.get("days_after_order"),
        created_by=actor,
    )


def _nps_invite(survey: NpsSurvey, contact, order=None) -> SurveyInvitation | None:
    email = (contact.email or "").strip()
    if not email:
        return None
    if SurveyInvitation.objects.filter(nps_survey=survey, contact=contact, order=order).exists():
        return None
    invitation = SurveyInvitation.objects.create(
        kind=SurveyKind.NPS,
        nps_survey=survey,
        contact=contact,
        account_id=contact.account_id,
        order=order,
        email=email,
        sent_at=timezone.now(),
        product_id=_first_product(order),
        # NPS "by agent": the customer's account manager (the contact's owner) when invited.
        agent_id=contact.owner_id,
    )
    _mail(invitation, NPS_TEMPLATE, {"question": survey.question})
    return invitation


def _first_product(order) -> int | None:
    if order is None:
        return None
    line = order.lines.exclude(product=None).order_by("id").first()
    return line.product_id if line else None


def nps_send_to_segment(*, survey: NpsSurvey, actor) -> int:
    """Invite every member of the survey's segment (once each)."""
    _require_manager(actor)
    if survey.segment_id is None:
        raise ValidationError({"segment_id": ["this survey has no segment"]})
    from rapport.accounts.models import Contact

    sent = 0
    with transaction.atomic():
        contacts = Contact.objects.filter(segment_memberships__segment_id=survey.segment_id)
        for contact in contacts.distinct().order_by("pk")[:5000]:
            sent += _nps_invite(survey, contact) is not None
    return sent


def nps_send_to_contacts(*, survey: NpsSurvey, contacts, actor) -> int:
    """Invite chosen contacts (a contact's page, a list selection), loaded by the caller
    through the visibility layer: once each per survey, none without an email address."""
    _require_manager(actor)
    if not survey.is_active:
        raise ValidationError({"survey_id": ["this survey is switched off"]})
    sent = 0
    with transaction.atomic():
        for contact in list(contacts)[:5000]:
            sent += _nps_invite(survey, contact) is not None
    return sent


def nps_send_due(*, today: datetime.date | None = None) -> int:
    """Invite the contact of every order placed `days_after_order` days before `today`
    (the scheduler's daily run; an order is surveyed once per survey)."""
    from rapport.orders.models import Order

    today = today or timezone.localdate()
    sent = 0
    for survey in NpsSurvey.objects.filter(is_active=True, days_after_order__isnull=False):
        day = today - datetime.timedelta(days=survey.days_after_order)
        orders = Order.objects.filter(ordered_at__date=day, contact__isnull=False).select_related(
            "contact"
        )
        with transaction.atomic():
            for order in orders[:5000]:
                sent += _nps_invite(survey, order.contact, order) is not None
    return sent


# ----- answers ------------------------------------------------------------------------


def answer(
    *, invitation: SurveyInvitation, score, comment: str = "", ip: str | None = None
) -> SurveyInvitation:
    """Record the one answer of an invitation; AlreadyAnswered when it has one (the first
    answer stands). A `survey_answered` event on the contact's (and the case's) timeline."""
    low, high = SCALE[invitation.kind]
    try:
        score = int(score)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"score": ["choose a score"]}) from exc
    if not low <= score <= high:
        raise ValidationError({"score": [f"must be between {low} and {high}"]})
    now = timezone.now()
    with transaction.atomic():
        taken = SurveyInvitation.objects.filter(pk=invitation.pk, answered_at=None).update(
            score=score, comment=(comment or "").strip()[:2000], answered_at=now, answer_ip=ip
        )
        if not taken:
            raise AlreadyAnswered(invitation)
        invitation.refresh_from_db()
        what = "CSAT" if invitation.kind == SurveyKind.CSAT else "NPS"
        about = f" on case #{invitation.case.number}" if invitation.case_id else ""
        timeline_record(
            kind=EventKind.SURVEY_ANSWERED,
            summary=f"{what} answer {score}/{high}{about}"
            + (f": {invitation.comment[:120]}" if invitation.comment else ""),
            payload={
                "invitation_id": invitation.pk,
                "kind": invitation.kind,
                "score": score,
                "comment": invitation.comment[:500],
            },
            contact_id=invitation.contact_id,
            account_id=invitation.account_id,
            case_id=invitation.case_id,
            order_id=invitation.order_id,
        )
    return invitation


__all__ = [
    "Conflict",
    "answer",
    "csat_send",
    "nps_send_due",
    "nps_send_to_contacts",
    "nps_send_to_segment",
]

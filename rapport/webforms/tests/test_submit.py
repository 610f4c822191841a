"""A public submission: lead or contact written, consent pending with the confirmation mail
at the loopback SMTP sink, dedup that never attaches to the wrong person, spam refusals,
the timeline event and the automation trigger."""

import pytest
from django.core.exceptions import ValidationError

from rapport.accounts.services import contact_create
from rapport.automation.models import Rule, TriggerEvent
from rapport.consent import selectors as consent_selectors
from rapport.consent.models import ConsentRecord, ConsentStatus
from rapport.duplicates.models import DuplicateCandidate
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.mail.sender import send_due
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.webforms import services, spam
from rapport.webforms.models import FormSubmission, SubmissionOutcome
from rapport.webforms.tests.conftest import answers, later
from rapport.webtrack.identity import read_visitor_token

pytestmark = pytest.mark.django_db


def submit(form, ip="198.51.100.1", **values):
    return services.form_submit(
        form=form, data=answers(form, **values), ip=ip, user_agent="pytest", now=later()
    )


def test_submission_creates_a_lead_with_pending_consent_and_mails_the_confirmation(
    web_form, newsletter, smtp_sink
):
    result = submit(web_form, consent_newsletter="on", utm_source="fair", utm_campaign="x")
    lead = result.person
    assert isinstance(lead, Lead)
    assert (lead.first_name, lead.last_name, lead.email, lead.company) == (
        "Nora",
        "Berg",
        "nora@example.org",
        "Berg AB",
    )
    assert lead.owner == web_form.assign_user and lead.source == "web form"
    assert result.submission.outcome == SubmissionOutcome.LEAD_CREATED
    assert result.submission.utm == {"utm_source": "fair", "utm_campaign": "x"}
    status = consent_selectors.current_status(lead, purpose=newsletter, channel="email")
    assert status == ConsentStatus.PENDING
    record = ConsentRecord.objects.get(lead=lead)
    assert (record.source, record.ip_address, record.user_agent) == (
        "form",
        "198.51.100.1",
        "pytest",
    )
    event = TimelineEvent.objects.get(lead=lead, kind=EventKind.FORM_SUBMITTED)
    assert event.payload["form"] == web_form.slug
    assert read_visitor_token(result.visitor_token) == (None, lead.pk)

    send_due()
    received = [m for m in smtp_sink.sink.messages if m.rcpt_tos == ["nora@example.org"]]
    assert len(received) == 1
    assert "/consent/confirm/" in received[0].message.as_string()


def test_unticked_consent_records_nothing(web_form, newsletter):
    result = submit(web_form)
    assert ConsentRecord.objects.filter(lead=result.person).count() == 0


def test_contact_form_creates_then_updates_the_same_contact(personas, newsletter, settings):
    form = services.form_create(
        actor=personas.admin,
        data={"name": "Sign up", "target": "contact", "assign_user": personas.owner},
    )
    first = submit(form, first_name="Ada", last_name="Lind", email="ada@example.org")
    assert first.submission.outcome == SubmissionOutcome.CONTACT_CREATED
    second = submit(form, first_name="", last_name="", email="ADA@example.org", title="CTO")
    assert second.submission.outcome == SubmissionOutcome.CONTACT_UPDATED
    assert second.person.pk == first.person.pk


def test_existing_contact_is_updated_instead_of_a_new_lead(web_form, personas):
    contact = contact_create(
        actor=personas.owner,
        fields={"first_name": "Nora", "last_name": "Berg", "title": ""},
        emails=[{"email": "nora@example.org"}],
    )
    result = submit(web_form, company="")
    assert result.submission.outcome == SubmissionOutcome.CONTACT_UPDATED
    assert result.person.pk == contact.pk
    assert Lead.objects.count() == 0
    assert TimelineEvent.objects.filter(contact=contact, kind=EventKind.FORM_SUBMITTED).exists()


def test_existing_open_lead_is_updated_and_keeps_what_staff_recorded(web_form, personas):
    lead = lead_create(
        actor=personas.owner,
        fields={
            "first_name": "Nora",
            "last_name": "Berg",
            "email": "nora@example.org",
            "company": "Old",
        },
    )
    result = submit(web_form, company="New name", title="CFO")
    assert result.submission.outcome == SubmissionOutcome.LEAD_UPDATED
    lead.refresh_from_db()
    assert lead.company == "Old"  # an anonymous form never overwrites
    assert Lead.objects.count() == 1


def test_same_email_other_name_is_not_attached_to_that_person(web_form, personas):
    contact = contact_create(
        actor=personas.owner,
        fields={"first_name": "Sven", "last_name": "Berg"},
        emails=[{"email": "nora@example.org"}],
    )
    result = submit(web_form)  # Nora Berg, same (shared) address
    assert result.submission.outcome == SubmissionOutcome.AMBIGUOUS
    assert isinstance(result.person, Lead)
    assert "contact" in result.submission.review_note
    assert not TimelineEvent.objects.filter(contact=contact, kind=EventKind.FORM_SUBMITTED).exists()


def test_two_open_leads_with_the_address_give_a_new_flagged_lead(web_form, personas):
    a = lead_create(actor=personas.owner, fields={"last_name": "Berg", "email": "nora@example.org"})
    b = lead_create(actor=personas.owner, fields={"last_name": "Berg", "email": "nora@example.org"})
    result = submit(web_form)
    assert result.submission.outcome == SubmissionOutcome.AMBIGUOUS
    new = result.person
    assert new.pk not in (a.pk, b.pk)
    pairs = set(
        DuplicateCandidate.objects.filter(object_type="lead").values_list(
            "record_a_id", "record_b_id"
        )
    )
    assert {tuple(sorted((new.pk, a.pk))), tuple(sorted((new.pk, b.pk)))} <= pairs


def test_required_and_invalid_fields_are_refused_by_name(web_form):
    with pytest.raises(ValidationError) as exc:
        submit(web_form, last_name="", email="not-an-address")
    assert set(exc.value.message_dict) == {"last_name", "email"}
    assert FormSubmission.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({spam.HONEYPOT: "http://spam.example"}, "honeypot"),
        ({spam.STAMP: "forged"}, "bad_stamp"),
    ],
)
def test_spam_is_refused_with_a_code(web_form, change, code):
    data = answers(web_form, **change)
    with pytest.raises(spam.SpamRejected) as exc:
        services.form_submit(form=web_form, data=data, ip="198.51.100.2", now=later())
    assert exc.value.code == code
    assert Lead.objects.count() == 0


def test_too_fast_is_refused(web_form):
    with pytest.raises(spam.SpamRejected) as exc:
        services.form_submit(
            form=web_form, data=answers(web_form), ip="198.51.100.3", now=later(0.5)
        )
    assert exc.value.code == "too_fast"
    assert "too quickly" in exc.value.message


def test_rate_limit_per_address(web_form, settings):
    settings.RAPPORT_FORM_RATE_LIMIT = 2
    submit(web_form, ip="198.51.100.9", email="a@example.org")
    submit(web_form, ip="198.51.100.9", email="b@example.org")
    with pytest.raises(spam.SpamRejected) as exc:
        submit(web_form, ip="198.51.100.9", email="c@example.org")
    assert (exc.value.code, exc.value.status) == ("rate_limited", 429)
    submit(web_form, ip="198.51.100.10", email="c@example.org")  # another address passes


def test_form_submitted_trigger_is_emitted(web_form, personas):
    Rule.objects.create(
        name="listen", trigger_type="form.submitted", run_as=personas.admin, actions=[]
    )
    result = submit(web_form)
    event = TriggerEvent.objects.get(event_type="form.submitted")
    assert (event.object_type, event.object_id) == ("lead", result.person.pk)
    assert event.payload["form"] == web_form.slug and event.payload["form_id"] == web_form.pk


def test_round_robin_shares_submissions_in_the_team(personas, newsletter):
    form = services.form_create(
        actor=personas.admin,
        data={
            "name": "RR",
            "assign_mode": "round_robin",
            "assign_team": personas.team_a,
            "assign_user": personas.owner,
        },
    )
    owners = [submit(form, email=f"p{i}@example.org").person.owner for i in range(4)]
    members = sorted([personas.manager, personas.owner, personas.teammate], key=lambda u: u.pk)
    assert owners[:3] == members and owners[3] == members[0]


def test_redirects_only_to_allow_listed_sites(personas, settings):
    settings.RAPPORT_TRACKED_SITE_DOMAINS = ["example.com"]
    with pytest.raises(ValidationError) as exc:
        services.form_create(
            actor=personas.admin,
            data={"name": "x", "assign_user": personas.owner, "redirect_url": "https://evil.test/"},
        )
    assert "redirect_url" in exc.value.message_dict
    form = services.form_create(
        actor=personas.admin,
        data={
            "name": "y",
            "assign_user": personas.owner,
            "redirect_url": "https://www.example.com/thanks",
        },
    )
    result = submit(form, last_name="Z")
    assert result.redirect_url.startswith("https://www.example.com/thanks?rpv=")


def test_only_managers_and_admins_change_forms(personas):
    from rapport.records.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.form_create(
            actor=personas.owner, data={"name": "x", "assign_user": personas.owner}
        )

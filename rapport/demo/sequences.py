"""Demo sequences: an outbound sequence (email, wait, call, email, LinkedIn) and a shorter
lead follow-up, with people enrolled in them (some paused, one stopped by a reply)."""

from rapport.accounts.models import Contact
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.mail.models import EmailTemplate
from rapport.sequences import services
from rapport.sequences.models import StopReason


def _template(name: str, subject: str, body: str) -> EmailTemplate:
    template, _ = EmailTemplate.objects.get_or_create(
        name=name, defaults={"subject": subject, "body_text": body}
    )
    return template


def demo_sequences(*, admin: User, sellers: list[User]) -> int:
    from rapport.calendars.models import BusinessCalendar

    intro = _template(
        "Sequence: introduction",
        "A quick question, {{ contact.first_name }}",
        "Hi {{ contact.first_name }},\n\nWould a 20-minute call next week help your team?\n",
    )
    nudge = _template(
        "Sequence: follow-up",
        "Following up, {{ contact.first_name }}",
        "Hi {{ contact.first_name }},\n\nJust bringing my note to the top of your inbox.\n",
    )
    calendar = BusinessCalendar.objects.order_by("id").first()
    rep = next((u for u in sellers if u.username == "alex"), sellers[0])
    outbound = services.sequence_create(
        actor=rep,
        fields={
            "name": "Outbound: new accounts",
            "description": "Five touches over two weeks for a new account's decision maker.",
            "calendar_id": calendar.pk if calendar else None,
        },
        steps=[
            {"kind": "email", "template_id": intro.pk},
            {"kind": "wait", "wait_days": 3},
            {"kind": "call", "subject": "Call about the introduction", "due_in_days": 1},
            {"kind": "wait", "wait_days": 4},
            {"kind": "email", "template_id": nudge.pk},
            {"kind": "linkedin", "subject": "Connect on LinkedIn", "due_in_days": 2},
        ],
    )
    leads_seq = services.sequence_create(
        actor=admin,
        fields={"name": "Inbound lead follow-up", "description": "Call within a day, then a task."},
        steps=[
            {"kind": "call", "subject": "Call the new lead", "due_in_days": 1},
            {"kind": "wait", "wait_days": 2},
            {"kind": "task", "subject": "Qualify or disqualify the lead", "due_in_days": 1},
        ],
    )
    made = 0
    contacts = list(Contact.objects.filter(owner=rep).exclude(email="").order_by("id")[:8])
    for i, contact in enumerate(contacts):
        enrolment = services.enrolment_create(sequence=outbound, actor=rep, record=contact)
        made += 1
        if i == 1:
            services.enrolment_pause(enrolment=enrolment, actor=rep)
        elif i == 2:
            services.enrolment_stop(enrolment=enrolment, actor=None, reason=StopReason.REPLIED)
    for lead in Lead.objects.filter(owner__isnull=False).order_by("id")[:4]:
        services.enrolment_create(sequence=leads_seq, actor=admin, record=lead)
        made += 1
    # The first steps run now (as the worker would), so the pages have numbers to show.
    from rapport.automation.engine import execute_due_runs

    execute_due_runs()
    return made

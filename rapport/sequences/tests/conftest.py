"""Fixtures of the sequence tests: a rep's mailbox, a template, a Monday–Friday calendar,
sequences made through the service, and `worker()` (the automation worker's pass)."""

import datetime

import pytest

from rapport.accounts.services import contact_create
from rapport.automation.tests.conftest import drain
from rapport.calendars.services import calendar_save
from rapport.mail.models import EmailTemplate, Mailbox
from rapport.mail.tests.conftest import smtp_server  # noqa: F401
from rapport.sequences import services

WEEK = {d: [(datetime.time(9), datetime.time(17))] for d in range(5)}


@pytest.fixture
def worker():
    return drain


@pytest.fixture
def calendar(personas):
    return calendar_save(actor=personas.admin, name="Office", time_zone="UTC", week=WEEK)


@pytest.fixture
def template(db):
    return EmailTemplate.objects.create(
        name="Intro",
        subject="Hello {{ contact.first_name }}",
        body_text="Hi {{ contact.first_name }}, shall we talk?",
    )


@pytest.fixture
def rep_mailbox(personas):
    return Mailbox.objects.create(
        name="Olga",
        email_address="olga@rapport.test",
        display_name="Olga Owner",
        owner=personas.owner,
        smtp_host="127.0.0.1",
        smtp_port=1,
    )


@pytest.fixture
def make_sequence(personas, template, calendar):
    def make(steps=None, actor=None, **fields):
        steps = (
            steps
            if steps is not None
            else [
                {"kind": "email", "template_id": template.pk},
                {"kind": "wait", "wait_days": 2},
                {"kind": "call", "subject": "Follow up on the intro", "due_in_days": 1},
            ]
        )
        return services.sequence_create(
            actor=actor or personas.owner,
            fields={"name": "Outbound", "calendar_id": calendar.pk, **fields},
            steps=steps,
        )

    return make


@pytest.fixture
def ann(personas):
    return contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Lee"},
        emails=[{"email": "ann@customer.example", "is_primary": True}],
    )

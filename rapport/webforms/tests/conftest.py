import time

import pytest
from django.test import Client

from rapport.consent.models import ConsentPurpose
from rapport.mail.tests.conftest import make_mailbox, smtp_server  # noqa: F401 - fixture reuse
from rapport.webforms import services, spam


@pytest.fixture
def mailbox(db, smtp_server):  # noqa: F811
    return make_mailbox(smtp_server)


@pytest.fixture
def smtp_sink(settings, smtp_server):  # noqa: F811
    """Rapport's own mail (no mailbox: confirmations) goes to the loopback SMTP sink."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_server


@pytest.fixture
def newsletter(db) -> ConsentPurpose:
    return ConsentPurpose.objects.create(
        slug="newsletter",
        name="Newsletter",
        policy_text="A monthly newsletter; unsubscribe at any time.",
        policy_version="2026-11",
        requires_double_opt_in=True,
    )


@pytest.fixture
def web_form(personas, newsletter, settings):
    settings.RAPPORT_TRACKED_SITE_DOMAINS = ["example.com"]
    return services.form_create(
        actor=personas.manager,
        data={
            "name": "Contact us",
            "target": "lead",
            "assign_user": personas.owner,
            "fields": [
                {"key": "first_name", "label": "First name"},
                {"key": "last_name", "label": "Last name", "required": True},
                {"key": "email", "label": "Email", "required": True},
                {"key": "company", "label": "Company"},
            ],
            "min_fill_seconds": 3,
        },
        purposes=[newsletter],
    )


def answers(form, **values) -> dict:
    """A human's POST: the page's signed stamp (from 10 s ago), an empty honeypot."""
    data = {
        spam.STAMP: spam.stamp(form),
        spam.HONEYPOT: "",
        "first_name": "Nora",
        "last_name": "Berg",
        "email": "nora@example.org",
        "company": "Berg AB",
    }
    data.update(values)
    return data


def later(seconds: float = 10) -> float:
    return time.time() + seconds


@pytest.fixture
def public_client():
    return Client(REMOTE_ADDR="203.0.113.7")

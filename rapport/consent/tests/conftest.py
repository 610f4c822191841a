import pytest

from rapport.accounts.services import contact_create
from rapport.consent.models import ConsentPurpose
from rapport.mail.tests.conftest import make_mailbox, smtp_server  # noqa: F401 - fixture reuse


@pytest.fixture
def mailbox(db, smtp_server):  # noqa: F811
    return make_mailbox(smtp_server)


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
def offers(db) -> ConsentPurpose:
    return ConsentPurpose.objects.create(
        slug="offers",
        name="Offers",
        policy_text="Offers now and then.",
        policy_version="1",
        requires_double_opt_in=False,
    )


def make_contact(actor, email: str, first: str = "Bo", last: str = "Ng"):
    return contact_create(
        actor=actor,
        fields={"first_name": first, "last_name": last},
        emails=[{"email": email}] if email else [],
    )


def confirm_token_from_outbox(address: str) -> str:
    """The confirmation token of the last confirmation mail queued to `address`."""
    import re

    from rapport.mail.models import MailMessage

    message = [m for m in MailMessage.objects.order_by("-id") if address in m.to][0]
    match = re.search(r"/consent/confirm/(\S+)", message.text_body)
    assert match, message.text_body
    return match.group(1)

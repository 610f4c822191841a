import pytest

from rapport.mail.models import Mailbox, Security
from rapport.mail.tests.smtp_server import SmtpServer


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


def make_mailbox(server, *, owner=None, name="Sales", password="", user="") -> Mailbox:
    mailbox = Mailbox(
        name=name,
        email_address="sales@rapport.test",
        display_name="Rapport Sales",
        owner=owner,
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security=Security.NONE,
        smtp_user=user,
    )
    if password:
        mailbox.set_secret(password)
    mailbox.save()
    return mailbox


@pytest.fixture
def mailbox(db, smtp_server):
    return make_mailbox(smtp_server)

"""A reply stops the enrolment: the sequence's email is queued, its reply (In-Reply-To our
Message-ID) is APPENDed to a REAL dovecot and fetched by the mail sync; the mail app's
threading files it in the thread and the sequence's after-ingest handler stops the run."""

import email.utils
from email.message import EmailMessage

import pytest

from rapport.automation.models import Run
from rapport.mail.models import Mailbox, MailMessage
from rapport.mail.sync import sync_mailbox
from rapport.mail.tests import imap_server
from rapport.mail.tests.imap_server import PASSWORD
from rapport.sequences import selectors, services
from rapport.sequences.models import Enrolment

pytestmark = pytest.mark.django_db
dovecot_server = imap_server.dovecot_server


@pytest.fixture
def imap_mailbox(dovecot_server, settings, personas):
    settings.RAPPORT_MAIL_CA_FILE = str(dovecot_server.cert_path)
    user = dovecot_server.new_user("olga")
    box = Mailbox(
        name="Olga",
        email_address="olga@rapport.test",
        owner=personas.owner,
        **dovecot_server.mailbox_settings(user),
    )
    box.set_secret(PASSWORD)
    box.save()
    box.imap_test_user = user
    return box


def test_a_reply_fetched_over_imap_stops_the_enrolment(
    personas, make_sequence, ann, imap_mailbox, dovecot_server, worker
):
    sequence = make_sequence()
    enrolment = services.enrolment_create(sequence=sequence, actor=personas.owner, record=ann)
    worker()
    sent = MailMessage.objects.get(direction="out")
    assert sent.mailbox == imap_mailbox

    reply = EmailMessage()
    reply["From"] = "Ann Lee <ann@customer.example>"
    reply["To"] = "olga@rapport.test"
    reply["Subject"] = f"Re: {sent.subject}"
    reply["Date"] = email.utils.formatdate(localtime=False)
    reply["Message-ID"] = email.utils.make_msgid(domain="customer.example")
    reply["In-Reply-To"] = sent.message_id
    reply["References"] = sent.message_id
    reply.set_content("Yes, let's talk on Thursday.")
    dovecot_server.append(imap_mailbox.imap_test_user, reply.as_bytes())

    result = sync_mailbox(imap_mailbox.pk)
    assert not result.error, result
    received = MailMessage.objects.get(direction="in")
    assert received.thread_id == sent.thread_id  # matched by our token, not guessed

    enrolment = Enrolment.objects.get(pk=enrolment.pk)
    assert (enrolment.state, enrolment.stop_reason) == ("stopped", "replied")
    assert enrolment.replied_step.position == 0
    assert Run.objects.get(pk=enrolment.run_id).state == "cancelled"
    worker()  # nothing more happens
    assert MailMessage.objects.filter(direction="out").count() == 1
    stats = selectors.step_stats(sequence)
    assert (stats[0]["sent"], stats[0]["replied"]) == (1, 1)
    assert selectors.sequence_totals(sequence)["stopped_by"]["replied"] == 1

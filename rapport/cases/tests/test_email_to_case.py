"""Email-to-case over the real loopback servers: dovecot (IMAP, rapport/mail/tests/
imap_server.py) delivers the customer's mail, the aiosmtpd sink (smtp_server.py) is where
the agent's reply arrives. Nothing of imaplib or smtplib is mocked."""

import datetime

import pytest
from django.utils import timezone

from rapport.cases import services
from rapport.cases.models import Case, CaseEntry, CaseStatus
from rapport.cases.tests.journey import CUSTOMER, customer_mail, support_mailbox
from rapport.mail.models import MailboxPurpose
from rapport.mail.sender import send_due
from rapport.mail.sync import sync_mailbox
from rapport.mail.tests import imap_server
from rapport.mail.tests.imap_server import PASSWORD
from rapport.mail.tests.smtp_server import SmtpServer

dovecot_server = imap_server.dovecot_server


def mail(
    *, sender=CUSTOMER, subject="Printer broken", body="My printer does not print.", headers=None
):
    return customer_mail(subject, body, sender=sender, headers=headers).as_bytes()


@pytest.fixture
def help_user(dovecot_server):
    return dovecot_server.new_user("help")


@pytest.fixture
def smtp_server(help_user):
    # The mailbox's one secret logs in to both servers.
    with SmtpServer(user=help_user, password=PASSWORD) as server:
        yield server


@pytest.fixture
def support(dovecot_server, smtp_server, help_user, settings, desk):
    settings.RAPPORT_MAIL_CA_FILE = str(dovecot_server.cert_path)
    user = help_user
    box = support_mailbox(smtp_server, dovecot=dovecot_server, user=user)
    box.imap_test_user = user
    desk["queue"].mailbox = box
    desk["queue"].save()
    return box


def _deliver(server, box, *messages):
    server.append(box.imap_test_user, *messages)
    result = sync_mailbox(box.pk)
    assert not result.error, result


def test_mail_opens_case_reply_reaches_customer_and_answer_threads(
    dovecot_server, smtp_server, support, desk, personas
):
    _deliver(dovecot_server, support, mail())
    case = Case.objects.get()
    assert (case.subject, case.contact, case.account) == (
        "Printer broken",
        desk["ann"],
        desk["account"],
    )
    assert case.channel == "email" and case.mailbox == support
    # Re-syncing the same mailbox opens nothing twice.
    assert sync_mailbox(support.pk).created == 0 and Case.objects.count() == 1

    services.case_reply(case=case, actor=personas.teammate, body="Please restart it.")
    send_due()
    assert len(smtp_server.sink.messages) == 1
    sent = smtp_server.sink.messages[0]
    assert sent.rcpt_tos == ["ann@customer.example"]
    assert f"Case #{case.number}" in sent.message["Subject"]
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.first_response_at is not None

    services.case_set_status(case=case, status="pending_customer", actor=personas.teammate)
    reply = mail(
        subject=f"Re: {sent.message['Subject']}",
        body="Restarted, still broken.",
        headers={"In-Reply-To": sent.message_id, "References": sent.message_id},
    )
    _deliver(dovecot_server, support, reply)
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # the customer answered: open again
    kinds = list(CaseEntry.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["customer", "reply", "customer"]


def test_auto_replies_and_bounces_never_open_or_get_answered(
    dovecot_server, smtp_server, support, desk
):
    _deliver(
        dovecot_server,
        support,
        mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        mail(sender="MAILER-DAEMON@customer.example", subject="Undelivered Mail"),
        mail(sender="help@rapport.test", subject="Our own mail looping back"),
    )
    assert not Case.objects.exists()
    send_due()
    assert smtp_server.sink.messages == []


def test_late_reply_to_resolved_case_opens_linked_case(
    dovecot_server, smtp_server, support, desk, personas
):
    _deliver(dovecot_server, support, mail())
    case = Case.objects.get()
    services.case_reply(case=case, actor=personas.teammate, body="Fixed.")
    send_due()
    sent = smtp_server.sink.messages[0]
    long_ago = timezone.now() - datetime.timedelta(days=20)
    services.case_set_status(case=case, status="resolved", actor=personas.teammate, at=long_ago)
    _deliver(
        dovecot_server,
        support,
        mail(subject="Re: again", headers={"In-Reply-To": sent.message_id}),
    )
    follow_up = Case.objects.exclude(pk=case.pk).get()
    assert follow_up.related_to == case and follow_up.contact == desk["ann"]
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_reply_within_window_reopens_resolved_case(
    dovecot_server, smtp_server, support, desk, personas
):
    _deliver(dovecot_server, support, mail())
    case = Case.objects.get()
    services.case_reply(case=case, actor=personas.teammate, body="Fixed.")
    send_due()
    sent = smtp_server.sink.messages[0]
    services.case_set_status(case=case, status="resolved", actor=personas.teammate)
    _deliver(
        dovecot_server, support, mail(subject="Re: x", headers={"In-Reply-To": sent.message_id})
    )
    assert Case.objects.count() == 1
    case.refresh_from_db()
    assert (case.status, case.reopened_count) == (CaseStatus.OPEN, 1)


def test_mail_to_a_sales_mailbox_opens_no_case(dovecot_server, smtp_server, support):
    support.purpose = MailboxPurpose.SALES
    support.save()
    _deliver(dovecot_server, support, mail())
    assert not Case.objects.exists()


def test_attachments_both_ways_and_downloads_only_for_who_sees_the_case(
    dovecot_server, smtp_server, support, desk, personas
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    msg = customer_mail("Scan", "The error is in the photo.")
    msg.add_attachment(
        b"%PDF-1.4 error report", maintype="application", subtype="pdf", filename="error.pdf"
    )
    _deliver(dovecot_server, support, msg.as_bytes())
    case = Case.objects.get()
    # No routing rule here: the desk's queue takes it (its agent is the teammate).
    services.case_assign(case=case, actor=personas.admin, queue=desk["queue"])
    (first,) = CaseEntry.objects.filter(case=case)
    (inbound,) = first.attachments.select_related("file")
    assert inbound.file.name == "error.pdf"

    log = SimpleUploadedFile("steps.txt", b"1. restart\n2. print\n", content_type="text/plain")
    entry = services.case_reply(
        case=case, actor=personas.teammate, body="Try these steps.", uploads=[log]
    )
    (outbound,) = entry.attachments.select_related("file")
    send_due()
    sent = smtp_server.sink.messages[-1].message
    # (SMTP carries text lines with CRLF.)
    parts = {
        p.get_filename(): p.get_content().replace("\r\n", "\n") for p in sent.iter_attachments()
    }
    assert parts == {"steps.txt": "1. restart\n2. print\n"}

    # The case page lists both files; the queue's agent downloads them, an outsider gets 404.
    agent = Client()
    agent.force_login(personas.teammate)
    response = agent.get(f"/cases/{case.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    for stored in (inbound.file, outbound.file):
        url = f"/cases/{case.pk}/attachments/{stored.pk}"
        assert url in page
        response = agent.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) in (b"%PDF-1.4 error report", log_bytes())
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/cases/{case.pk}/attachments/{inbound.file.pk}").status_code == 404


def log_bytes() -> bytes:
    return b"1. restart\n2. print\n"

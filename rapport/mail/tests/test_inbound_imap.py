"""Receiving over a REAL dovecot (rapport/mail/tests/imap_server.py): messages are APPENDed
as an IMAP client, then the sync fetches them over IMAP. Nothing of imaplib is mocked."""

import email.utils
from email.message import EmailMessage

import pytest
from django.test import override_settings

from rapport.accounts.services import account_create, contact_create
from rapport.files.models import FileKind, StoredFile
from rapport.leads.models import Lead
from rapport.mail.imap import check_imap
from rapport.mail.inbound import may_auto_answer
from rapport.mail.models import (
    AddressStatus,
    Delivery,
    DeliveryState,
    Mailbox,
    MailMessage,
    MatchReason,
    MessageLink,
)
from rapport.mail.services import queue_email
from rapport.mail.sync import sync_mailbox, take_lease
from rapport.mail.tests import imap_server
from rapport.mail.tests.imap_server import PASSWORD
from rapport.mail.tokens import body_reference, make_message_id, subject_token
from rapport.sales.services.opportunities import opportunity_create
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db(transaction=False)
dovecot_server = imap_server.dovecot_server  # the session's real IMAP server


def mail(
    *,
    sender="Ann Customer <ann@customer.example>",
    to="sales@rapport.test",
    subject="Question about pricing",
    body="Hello, what does it cost?",
    headers=None,
    message_id=None,
    date=True,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if date:
        msg["Date"] = email.utils.format_datetime(
            email.utils.parsedate_to_datetime("Fri, 04 Dec 2026 10:00:00 +0000")
        )
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def world(personas):
    account = account_create(actor=personas.owner, fields={"name": "Customer Ltd"})
    ann = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Customer", "account": account},
        emails=[
            {"email": "ann.old@customer.example", "is_primary": True},
            {"email": "Ann@Customer.example"},
        ],
    )
    bob = contact_create(
        actor=personas.owner,
        fields={"first_name": "Bob", "last_name": "Other"},
        emails=[{"email": "bob@other.example", "is_primary": True}],
    )
    deal = opportunity_create(
        actor=personas.owner,
        fields={"name": "Big deal", "account": account, "primary_contact": ann},
    )
    return {"account": account, "ann": ann, "bob": bob, "deal": deal}


@pytest.fixture
def mailbox(dovecot_server, settings):
    settings.RAPPORT_MAIL_CA_FILE = str(dovecot_server.cert_path)
    user = dovecot_server.new_user("sales")
    box = Mailbox(
        name="Sales",
        email_address="sales@rapport.test",
        **dovecot_server.mailbox_settings(user),
    )
    box.set_secret(PASSWORD)
    box.save()
    box.imap_test_user = user
    return box


def _sync(box):
    result = sync_mailbox(box.pk)
    assert not result.error, result
    return result


def _links(message):
    return {
        (link.account_id, link.contact_id, link.lead_id, link.opportunity_id)
        for link in MessageLink.objects.filter(message=message)
    }


def test_check_imap_names_the_failing_stage(dovecot_server, mailbox):
    assert check_imap(mailbox).ok
    ssl_box = Mailbox(
        email_address="x@y.z", **dovecot_server.mailbox_settings(mailbox.imap_test_user, ssl=True)
    )
    ssl_box.set_secret(PASSWORD)
    with override_settings(RAPPORT_MAIL_CA_FILE=str(dovecot_server.cert_path)):
        assert check_imap(ssl_box).ok
    with override_settings(RAPPORT_MAIL_CA_FILE=""):
        result = check_imap(ssl_box)
        assert (result.ok, result.stage) == (False, "tls")  # self-signed, not trusted
    mailbox.set_secret("wrong")
    assert check_imap(mailbox).stage == "login"
    mailbox.set_secret(PASSWORD)
    mailbox.imap_folder = "Nope"
    assert check_imap(mailbox).stage == "folder"
    mailbox.imap_host = "no-such-host.invalid"
    assert check_imap(mailbox).stage == "dns"
    mailbox.imap_host, mailbox.imap_port = "127.0.0.1", 1
    assert check_imap(mailbox).stage == "tcp"


def test_test_connection_walks_smtp_then_imap(dovecot_server, mailbox):
    from rapport.mail.connection import check_mailbox, summary
    from rapport.mail.models import Security
    from rapport.mail.tests.smtp_server import SmtpServer

    with SmtpServer(user=mailbox.imap_user, password=PASSWORD) as smtp:
        mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security = (
            smtp.host,
            smtp.port,
            Security.NONE,
        )
        mailbox.smtp_user = mailbox.imap_user
        stages = check_mailbox(mailbox)
        assert [s.protocol for s in stages][-1] == "imap"
        assert summary(stages)[0], summary(stages)
        mailbox.imap_folder = "Nope"
        ok, sentence = summary(check_mailbox(mailbox))
        assert not ok and sentence.startswith("IMAP folder")


def test_customer_mail_lands_on_contact_account_and_open_opportunity(
    dovecot_server,
    mailbox,
    world,
):
    dovecot_server.append(mailbox.imap_test_user, mail(sender="Ann <ann@customer.example>"))
    result = _sync(mailbox)
    assert (result.created, result.failed) == (1, 0)
    message = MailMessage.objects.get()
    assert message.from_address == "ann@customer.example"
    assert message.match_reason == MatchReason.NEW_THREAD
    assert message.raw.kind == FileKind.MAIL_RAW and message.raw.size > 0
    assert message.sent_at is not None and message.parse_warnings == []
    ann, account, deal, bob = world["ann"], world["account"], world["deal"], world["bob"]
    assert _links(message) == {
        (account.pk, ann.pk, None, None),
        (account.pk, None, None, deal.pk),
    }
    assert not MessageLink.objects.filter(contact=bob).exists()
    events = TimelineEvent.objects.filter(kind=EventKind.EMAIL_RECEIVED)
    assert events.filter(contact=ann).count() == 1
    assert events.filter(opportunity=deal).count() == 1
    assert events.filter(account=account).count() == 1  # once, not once per record
    assert events.first().payload["thread_id"] == message.thread_id


def test_unknown_sender_creates_a_lead_only_when_the_mailbox_says_so(
    dovecot_server,
    mailbox,
    world,
    personas,
):
    dovecot_server.append(mailbox.imap_test_user, mail(sender="Zed Stranger <zed@new.example>"))
    _sync(mailbox)
    assert not Lead.objects.exists()
    assert not MessageLink.objects.exists()
    mailbox.create_leads_from_unknown = True
    mailbox.save()
    dovecot_server.append(mailbox.imap_test_user, mail(sender="Yan Newbie <yan@new.example>"))
    _sync(mailbox)
    lead = Lead.objects.get()
    assert (lead.email, lead.last_name, lead.first_name) == ("yan@new.example", "Newbie", "Yan")
    message = MailMessage.objects.get(from_address="yan@new.example")
    assert _links(message) == {(None, None, lead.pk, None)}


def test_reply_to_our_message_threads_onto_it(dovecot_server, mailbox, world, personas):
    ann, deal = world["ann"], world["deal"]
    sent = queue_email(
        to=["ann@customer.example"],
        subject="Our offer",
        text="See attached",
        mailbox=mailbox,
        links=[{"opportunity_id": deal.pk, "account_id": deal.account_id}],
        actor=personas.owner,
    )
    reply = mail(
        subject="Re: Our offer",
        headers={"In-Reply-To": sent.message_id, "References": sent.message_id},
    )
    dovecot_server.append(mailbox.imap_test_user, reply)
    _sync(mailbox)
    received = MailMessage.objects.get(direction="in")
    assert received.thread_id == sent.thread_id
    assert received.match_reason == MatchReason.OUR_TOKEN
    assert (deal.account_id, ann.pk, None, None) in _links(received)

    # A second reply citing only the stored (foreign) Message-ID of the first reply.
    again = mail(subject="Re: Re: Our offer", headers={"In-Reply-To": received.message_id})
    # A third one carrying only a signed body reference.
    by_body = mail(subject="Something else", body=f"Hi\n> {body_reference(sent.thread.token)}")
    dovecot_server.append(mailbox.imap_test_user, again, by_body)
    _sync(mailbox)
    second = MailMessage.objects.get(subject="Re: Re: Our offer")
    assert (second.thread_id, second.match_reason) == (
        sent.thread_id,
        MatchReason.STORED_MESSAGE_ID,
    )
    third = MailMessage.objects.get(subject="Something else")
    assert (third.thread_id, third.match_reason) == (sent.thread_id, MatchReason.BODY_REFERENCE)


def test_a_reply_quoting_someone_elses_reference_does_not_attach(
    dovecot_server,
    mailbox,
    world,
    personas,
):
    sent = queue_email(
        to=["ann@customer.example"],
        subject=f"Contract {subject_token('0' * 16)}",
        mailbox=mailbox,
        links=[{"contact_id": world["ann"].pk}],
        actor=personas.owner,
    )
    thread = sent.thread
    # Our Message-ID format, the right message and thread, a wrong signature.
    forged_id = f"<r{sent.pk}.{thread.token}.{'0' * 16}@rapport.invalid>"
    assert make_message_id(sent.pk, thread.token) != forged_id
    forged = mail(
        sender="bob@other.example",
        subject="Re: contract",
        headers={"In-Reply-To": forged_id, "References": forged_id},
    )
    token_subject = mail(
        sender="bob@other.example", subject=f"Re: hello {subject_token(thread.token)}"
    )
    bad_body = mail(
        sender="bob@other.example", subject="Fwd", body=f"[ref:{thread.token}.{'a' * 16}]"
    )
    dovecot_server.append(mailbox.imap_test_user, forged, token_subject, bad_body)
    _sync(mailbox)
    for message in MailMessage.objects.filter(direction="in"):
        assert message.thread_id != thread.pk, message.subject
        assert message.match_reason == MatchReason.NEW_THREAD
        assert _links(message) == {(None, world["bob"].pk, None, None)}  # Bob only, never Ann

    # The same subject token from a participant (Ann) does join.
    ann_token = mail(subject=f"Re: hello {subject_token(thread.token)}")
    dovecot_server.append(mailbox.imap_test_user, ann_token)
    _sync(mailbox)
    joined = MailMessage.objects.get(direction="in", from_address="ann@customer.example")
    assert (joined.thread_id, joined.match_reason) == (thread.pk, MatchReason.SUBJECT_TOKEN)


@pytest.mark.parametrize(
    "headers,subject",
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: Our offer"),
        ({"X-Autoreply": "yes"}, "Re: Our offer"),
        ({"Precedence": "auto_reply"}, "Re: Our offer"),
        ({"Precedence": "bulk"}, "Newsletter"),
        ({}, "Out of Office: Re: Our offer"),
        ({}, "Automatic reply: Our offer"),
    ],
)
def test_auto_reply_is_filed_but_never_answered(
    dovecot_server,
    mailbox,
    world,
    headers,
    subject,
):
    dovecot_server.append(mailbox.imap_test_user, mail(subject=subject, headers=headers))
    _sync(mailbox)
    message = MailMessage.objects.get()
    assert message.is_auto_reply
    assert not may_auto_answer(message)
    assert (world["account"].pk, world["ann"].pk, None, None) in _links(message)
    assert Delivery.objects.count() == 0  # nothing was sent back: no loop


def test_an_ordinary_message_may_be_answered(dovecot_server, mailbox, world):
    dovecot_server.append(
        mailbox.imap_test_user,
        mail(headers={"Auto-Submitted": "no"}),
        mail(sender="MAILER-DAEMON@customer.example"),
    )
    _sync(mailbox)
    human = MailMessage.objects.get(from_address="ann@customer.example")
    assert not human.is_auto_reply and may_auto_answer(human)
    daemon = MailMessage.objects.get(from_address="mailer-daemon@customer.example")
    assert not may_auto_answer(daemon)


def _dsn(original_message_id: str, recipient: str, status: str, action: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.rapport.test>\r\n"
        "To: sales@rapport.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 04 Dec 2026 10:05:00 +0000\r\n"
        f"Message-ID: <dsn-{status}-{recipient}@mx.rapport.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "\r\n--B\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.rapport.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} User unknown\r\n"
        "\r\n--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "From: sales@rapport.test\r\n"
        f"To: {recipient}\r\n"
        "Subject: Our offer\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "\r\n--B--\r\n"
    ).encode()


def test_dsn_marks_address_bounced_and_suppressed(
    dovecot_server,
    mailbox,
    world,
    personas,
):
    sent = queue_email(
        to=["ann@customer.example"],
        subject="Our offer",
        mailbox=mailbox,
        links=[{"contact_id": world["ann"].pk}],
        actor=personas.owner,
    )
    Delivery.objects.filter(message=sent).update(state=DeliveryState.SENT)
    dovecot_server.append(
        mailbox.imap_test_user,
        _dsn(sent.message_id, "ann@customer.example", "5.1.1", "failed"),
        _dsn("<other@elsewhere>", "slow@customer.example", "4.4.7", "delayed"),
    )
    _sync(mailbox)
    hard = AddressStatus.objects.get(address="ann@customer.example")
    assert (hard.bounce_kind, hard.suppressed, hard.bounce_count) == ("hard", True, 1)
    assert "5.1.1" in hard.last_bounce_reason
    soft = AddressStatus.objects.get(address="slow@customer.example")
    assert (soft.bounce_kind, soft.suppressed) == ("soft", False)
    delivery = Delivery.objects.get(message=sent)
    assert delivery.state == DeliveryState.FAILED
    assert "5.1.1" in delivery.last_error
    bounce = MailMessage.objects.get(
        direction="in",
        subject__startswith="Undelivered",
        to=["sales@rapport.test"],
        message_id__contains="5.1.1",
    )
    assert bounce.is_bounce and not may_auto_answer(bounce)
    assert bounce.thread_id == sent.thread_id  # shown in the thread it bounced from


def _malformed() -> list[bytes]:
    broken_mime = (
        b"From: ann@customer.example\r\nTo: sales@rapport.test\r\nSubject: broken\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <broken@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain\r\n\r\nhalf a message\r\n"
        b"--never-closed\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n"
    )
    unknown_charset = (
        b"From: ann@customer.example\r\nTo: sales@rapport.test\r\nSubject: charset\r\n"
        b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <charset@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-klingon-42\r\n\r\n"
        b"caf\xe9 \xff\r\n"
    )
    no_date = mail(subject="no date", date=False, message_id="<nodate@x>")
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "ann@customer.example", "sales@x", "big"
    big["Message-ID"] = "<big@x>"
    big["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    big.set_content("The catalogue is attached.")
    payload = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    big.add_attachment(payload, maintype="application", subtype="octet-stream", filename="c.bin")
    return [broken_mime, unknown_charset, no_date, big.as_bytes(), mail(subject="after")]


def test_malformed_messages_are_stored_with_warnings_and_the_sync_goes_on(
    dovecot_server,
    mailbox,
    world,
):
    dovecot_server.append(mailbox.imap_test_user, *_malformed())
    result = _sync(mailbox)
    assert (result.created, result.failed) == (5, 0)
    by_subject = {m.subject: m for m in MailMessage.objects.all()}
    assert any("defect" in w.lower() for w in by_subject["broken"].parse_warnings)
    charset = by_subject["charset"]
    assert any("x-klingon-42" in w for w in charset.parse_warnings)
    assert "caf" in charset.text_body
    assert by_subject["no date"].sent_at is None
    assert any("No Date" in w for w in by_subject["no date"].parse_warnings)
    big = by_subject["big"]
    attachment = big.attachments.get()
    assert attachment.file.size == 20 * 1024 * 1024 and attachment.file.name == "c.bin"
    assert by_subject["after"].parse_warnings == []
    for message in by_subject.values():
        assert (world["account"].pk, world["ann"].pk, None, None) in _links(message)


def test_sync_is_idempotent_and_a_uidvalidity_change_creates_no_duplicates(
    dovecot_server,
    mailbox,
    world,
):
    user = mailbox.imap_test_user
    messages = [mail(subject=f"m{i}") for i in range(5)] + [
        mail(subject="no id", message_id="<placeholder>").replace(
            b"Message-ID: <placeholder>\n", b""
        )
    ]
    mailbox.imap_folder = "Work"
    mailbox.save()
    dovecot_server.append(user, *messages, folder="Work")
    first = sync_mailbox(mailbox.pk, batch_messages=2)
    assert (first.created, first.failed) == (6, 0)
    mailbox.refresh_from_db()
    validity = mailbox.uidvalidity
    assert mailbox.last_uid == 6

    again = sync_mailbox(mailbox.pk)
    assert (again.fetched, again.created) == (0, 0)

    dovecot_server.recreate_folder(user, "Work")
    dovecot_server.append(user, *messages, mail(subject="new one"), folder="Work")
    resync = sync_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    assert mailbox.uidvalidity != validity and resync.resynced
    assert (resync.created, resync.duplicates) == (1, 6)
    assert MailMessage.objects.count() == 7
    assert StoredFile.objects.filter(kind=FileKind.MAIL_RAW).count() == 7
    assert (
        TimelineEvent.objects.filter(kind=EventKind.EMAIL_RECEIVED, contact=world["ann"]).count()
        == 7
    )


def test_a_locked_mailbox_is_not_synced_twice(dovecot_server, mailbox):
    dovecot_server.append(mailbox.imap_test_user, mail())
    assert take_lease(mailbox.pk, "other-worker")
    assert sync_mailbox(mailbox.pk).skipped_locked
    assert MailMessage.objects.count() == 0
    mailbox.refresh_from_db()
    assert mailbox.sync_locked_by == "other-worker"


def test_a_message_that_fails_is_kept_and_the_next_one_is_stored(
    dovecot_server,
    mailbox,
    world,
    monkeypatch,
):
    # The one failure we cannot produce from outside: a database error while filing.
    import rapport.mail.inbound as inbound

    real = inbound.link_message

    def explode(message, links):
        if message.subject == "poison":
            raise RuntimeError("filing exploded")
        return real(message, links)

    monkeypatch.setattr(inbound, "link_message", explode)
    dovecot_server.append(mailbox.imap_test_user, mail(subject="poison"), mail(subject="fine"))
    result = sync_mailbox(mailbox.pk)
    assert (result.created, result.failed) == (1, 1)
    kept = MailMessage.objects.get(subject="")
    assert "filing exploded" in kept.parse_warnings[0] and kept.raw is not None
    assert MailMessage.objects.filter(subject="fine").exists()
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 2 and "filing exploded" in mailbox.last_error


def test_a_mailbox_set_to_xoauth2_syncs_through_an_oauth2_login(dovecot_server, mailbox, world):
    """AUTHENTICATE XOAUTH2 against the real dovecot: its oauth2 passdb asks the test's token
    introspection endpoint about the token; only an active token for this user logs in."""
    from rapport.mail.models import AuthMethod

    user = mailbox.imap_test_user
    token = dovecot_server.new_oauth_token(user)
    mailbox.auth_method = AuthMethod.XOAUTH2
    mailbox.set_secret(token)
    mailbox.save()
    dovecot_server.append(user, mail(sender="Ann <ann@customer.example>"))
    assert check_imap(mailbox).ok
    result = _sync(mailbox)
    assert (result.created, result.failed) == (1, 0)
    assert token in dovecot_server.introspection.requests  # not a password login
    assert _links(MailMessage.objects.get())

    # The password is no XOAUTH2 token, and another user's token does not open this mailbox
    # (one failed attempt each: dovecot delays the next logins from the address after each).
    mailbox.set_secret(PASSWORD)
    mailbox.save()
    check = check_imap(mailbox)
    assert (check.ok, check.stage) == (False, "login"), check
    mailbox.set_secret(dovecot_server.new_oauth_token(dovecot_server.new_user("other")))
    mailbox.save()
    assert sync_mailbox(mailbox.pk).stage == "login"


def test_the_timeline_listeners_hear_a_synced_chunk_once(dovecot_server, mailbox, world):
    """The sync writes a chunk's timeline events in one INSERT and tells the listeners
    (lifecycle, segments, automation, webhooks) once, with all of them."""
    from rapport.timeline import hooks

    heard: list[list[dict]] = []

    def listener(events):
        heard.append([e for e in events if e["kind"] == EventKind.EMAIL_RECEIVED])

    dovecot_server.append(
        mailbox.imap_test_user,
        *(mail(sender="Ann <ann@customer.example>", subject=f"Q{i}") for i in range(3)),
    )
    hooks.timeline_listener(listener)
    try:
        _sync(mailbox)
    finally:
        hooks._listeners.remove(listener)
    (chunk,) = [events for events in heard if events]
    assert len(chunk) == 3 * 2  # each message: on Ann (with her account) and on the deal
    assert all(e["id"] for e in chunk)
    assert {e["contact_id"] for e in chunk} == {world["ann"].pk, None}


def test_the_batch_after_ingest_handlers_get_each_message_exactly_once(
    dovecot_server, mailbox, world
):
    """A chunk's stored messages reach a `register_after_ingest_many` handler together, each
    once; when the handler fails on the chunk, it gets the messages again one by one (in
    their own savepoints), so one message it cannot handle deprives no other."""
    from rapport.mail import inbound

    calls: list[list[str]] = []

    def handler(messages, _mailbox):
        subjects = [m.subject for m in messages]
        calls.append(subjects)
        if "Q1" in subjects:
            world["bob"].__class__.objects.filter(pk=world["bob"].pk).update(last_name="Undone")
            raise RuntimeError("this handler cannot take Q1")

    dovecot_server.append(
        mailbox.imap_test_user,
        *(mail(sender="Ann <ann@customer.example>", subject=f"Q{i}") for i in range(3)),
    )
    inbound.register_after_ingest_many(handler)
    try:
        result = _sync(mailbox)
    finally:
        inbound._AFTER_INGEST_MANY.remove(handler)
    assert (result.created, result.failed) == (3, 0)
    assert calls == [["Q0", "Q1", "Q2"], ["Q0"], ["Q1"], ["Q2"]]
    world["bob"].refresh_from_db()
    assert world["bob"].last_name == "Other"  # the failed calls' writes were rolled back
    assert MailMessage.objects.filter(direction="in").count() == 3

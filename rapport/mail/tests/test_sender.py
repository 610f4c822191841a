"""The outbox worker against a real SMTP server (aiosmtpd on loopback; no mocked smtplib)."""

import datetime
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from rapport.accounts.services import contact_create
from rapport.files.models import FileKind
from rapport.files.services import store_file
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.mail.models import AddressStatus, BounceKind, Delivery, DeliveryState, Purpose
from rapport.mail.sender import claim_due, new_claim_id, send_claimed, send_due
from rapport.mail.services import queue_email
from rapport.mail.tests.conftest import make_mailbox
from rapport.mail.tests.smtp_server import SmtpServer
from rapport.timeline.models import EventKind, TimelineEvent

ROOT = Path(__file__).resolve().parents[3]


def _delivery(message) -> Delivery:
    return Delivery.objects.get(message=message)


@pytest.mark.django_db
def test_sends_mime_with_our_message_id_attachment_and_thread_headers(mailbox, smtp_server):
    user = user_create(username="ann", role=Role.SALES_REP, first_name="Ann", last_name="Lee")
    contact = contact_create(
        actor=user,
        fields={"first_name": "Bo", "last_name": "Ng"},
        emails=[{"email": "bo@example.com"}],
    )
    stored = store_file(b"%PDF-1.4 quote", name="quote.pdf", content_type="application/pdf")
    first = queue_email(
        to=["bo@example.com"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        subject="Your quote",
        text="Hello Bo",
        html="<p>Hello <b>Bo</b></p>",
        mailbox=mailbox,
        attachments=[stored],
        links=[{"contact_id": contact.pk, "account_id": None}],
        actor=user,
    )
    queue_email(
        to=["bo@example.com"],
        subject="Re: Your quote",
        text="more",
        in_reply_to=first,
        mailbox=mailbox,
    )
    assert send_due() == {"sent": 2}
    assert len(smtp_server.sink.messages) == 2
    got = smtp_server.sink.messages[0]
    assert got.mail_from == "sales@rapport.test"
    assert sorted(got.rcpt_tos) == ["bo@example.com", "cc@example.com", "hidden@example.com"]
    parsed = got.message
    assert parsed["Message-ID"] == first.message_id
    assert "hidden" not in str(parsed)  # Bcc is envelope only
    assert parsed["From"] == "Rapport Sales <sales@rapport.test>"
    assert parsed["Date"]
    assert parsed.get_body(("plain",)).get_content().strip() == "Hello Bo"
    assert "<b>Bo</b>" in parsed.get_body(("html",)).get_content()
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "quote.pdf"
    assert attachment.get_content() == b"%PDF-1.4 quote"
    second = smtp_server.sink.messages[1].message
    assert second["In-Reply-To"] == first.message_id
    assert first.message_id in second["References"]
    delivery = _delivery(first)
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 1
    assert delivery.last_response.startswith("250")
    event = TimelineEvent.objects.get(contact=contact, kind=EventKind.EMAIL_SENT)
    assert event.payload["state"] == "sent" and event.payload["message_id"] == first.pk
    assert event.actor == user


@pytest.mark.django_db
def test_temporary_failure_is_retried_with_backoff_then_sent(mailbox, smtp_server):
    smtp_server.sink.data_answers = ["451 4.3.0 Try again later", "452 4.3.1 Still busy"]
    message = queue_email(to=["bo@example.com"], subject="Hello", text="Hi", mailbox=mailbox)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send_due()
    delivery = _delivery(message)
    assert delivery.state == DeliveryState.QUEUED
    assert delivery.last_error.startswith("451 4.3.0 Try again later")
    assert delivery.next_attempt_at == start + timezone.timedelta(seconds=60)
    with time_machine.travel(start + timezone.timedelta(seconds=30), tick=False):
        assert send_due() == {}  # not due yet
    with time_machine.travel(start + timezone.timedelta(seconds=61), tick=False):
        send_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.QUEUED and delivery.attempts == 2
    assert delivery.next_attempt_at == start + timezone.timedelta(seconds=61 + 120)
    with time_machine.travel(start + timezone.timedelta(seconds=200), tick=False):
        send_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT and delivery.attempts == 3
    assert smtp_server.sink.message_ids() == [message.message_id]


@pytest.mark.django_db
def test_permanent_failure_is_failed_with_the_servers_reason_on_the_timeline(mailbox, smtp_server):
    user = user_create(username="ann", role=Role.SALES_REP)
    contact = contact_create(actor=user, fields={"first_name": "Bo", "last_name": "Ng"})
    smtp_server.sink.rcpt_answers = ["550 5.1.1 <nobody@example.com>: Recipient address rejected"]
    message = queue_email(
        to=["nobody@example.com"],
        subject="Hello",
        text="Hi",
        mailbox=mailbox,
        links=[{"contact_id": contact.pk}],
    )
    send_due()
    delivery = _delivery(message)
    assert delivery.state == DeliveryState.FAILED
    assert "550 5.1.1 <nobody@example.com>: Recipient address rejected" in delivery.last_error
    event = TimelineEvent.objects.get(contact=contact, kind=EventKind.EMAIL_SENT)
    assert event.payload["state"] == "failed"
    assert "Recipient address rejected" in event.summary
    assert smtp_server.sink.messages == []
    assert send_due() == {}  # a failed row is never claimed again


@pytest.mark.django_db
def test_hard_bounced_address_is_never_sent_to(mailbox, smtp_server):
    AddressStatus.objects.create(
        address="gone@example.com",
        bounce_kind=BounceKind.HARD,
        suppressed=True,
        last_bounce_reason="550 no such user",
    )
    AddressStatus.objects.create(address="quiet@example.com", suppressed=True)
    only_bounced = queue_email(to=["Gone@example.com"], subject="a", text="a", mailbox=mailbox)
    mixed = queue_email(
        to=["gone@example.com", "ok@example.com"], subject="b", text="b", mailbox=mailbox
    )
    marketing = queue_email(
        to=["quiet@example.com"], subject="c", text="c", mailbox=mailbox, purpose=Purpose.MARKETING
    )
    service = queue_email(to=["quiet@example.com"], subject="d", text="d", mailbox=mailbox)
    send_due()
    assert _delivery(only_bounced).state == DeliveryState.FAILED
    assert "hard bounce: 550 no such user" in _delivery(only_bounced).last_error
    assert _delivery(mixed).state == DeliveryState.SENT
    assert "gone@example.com" in _delivery(mixed).skipped
    assert _delivery(marketing).state == DeliveryState.FAILED
    assert _delivery(service).state == DeliveryState.SENT  # suppression is marketing-only
    assert [m.rcpt_tos for m in smtp_server.sink.messages] == [
        ["ok@example.com"],
        ["quiet@example.com"],
    ]


@pytest.mark.django_db
def test_smtp_auth_with_the_mailbox_password(db):
    with SmtpServer(user="sales", password="s3cret") as server:
        good = make_mailbox(server, user="sales", password="s3cret")
        message = queue_email(to=["bo@example.com"], subject="Hi", text="Hi", mailbox=good)
        send_due()
        assert _delivery(message).state == DeliveryState.SENT
        bad = make_mailbox(server, user="sales", password="wrong", name="Bad")
        refused = queue_email(to=["bo@example.com"], subject="Hi", text="Hi", mailbox=bad)
        send_due()
        delivery = _delivery(refused)
        # A wrong password is ours to fix: kept for a retry, with the reason shown.
        assert delivery.state == DeliveryState.QUEUED
        assert delivery.last_error.startswith("login failed: 535")
        assert len(server.sink.messages) == 1


@pytest.mark.django_db
def test_without_a_mailbox_the_console_backend_writes_the_message(capsys):
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend"):
        message = queue_email(to=["bo@example.com"], subject="Console hello", text="Body here")
        send_due()
    out = capsys.readouterr().out
    assert "Subject: Console hello" in out and message.message_id in out
    assert _delivery(message).state == DeliveryState.SENT
    assert _delivery(message).last_response == "accepted by console"


@pytest.mark.django_db
def test_without_a_mailbox_django_smtp_settings_are_used(smtp_server):
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=smtp_server.host,
        EMAIL_PORT=smtp_server.port,
        DEFAULT_FROM_EMAIL="Rapport <noreply@rapport.test>",
    ):
        message = queue_email(to=["bo@example.com"], subject="Hi", text="Hi")
        send_due()
    assert _delivery(message).state == DeliveryState.SENT
    (got,) = smtp_server.sink.messages
    assert got.mail_from == "noreply@rapport.test"
    assert got.message["From"] == "Rapport <noreply@rapport.test>"


@pytest.mark.django_db
def test_send_later_waits(mailbox, smtp_server):
    later = timezone.now() + timezone.timedelta(hours=2)
    message = queue_email(
        to=["bo@example.com"], subject="Hi", text="Hi", mailbox=mailbox, send_at=later
    )
    assert send_due() == {}
    with time_machine.travel(later + timezone.timedelta(seconds=1)):
        send_due()
    assert _delivery(message).state == DeliveryState.SENT


@pytest.mark.django_db
def test_a_lost_claim_is_not_sent(mailbox, smtp_server):
    """The fence: a worker whose lease ran out and whose row another worker took does not
    hand the message over."""
    message = queue_email(to=["bo@example.com"], subject="Hi", text="Hi", mailbox=mailbox)
    slow = new_claim_id()
    assert claim_due(claim_id=slow) == [_delivery(message).pk]
    later = timezone.now() + timezone.timedelta(seconds=301)
    with time_machine.travel(later):
        fast = new_claim_id()
        assert claim_due(claim_id=fast) == [_delivery(message).pk]
        assert send_claimed([_delivery(message).pk], slow) == {}
        assert send_claimed([_delivery(message).pk], fast) == {"sent": 1}
    assert len(smtp_server.sink.messages) == 1


# ----- killed workers and concurrent workers (real processes / connections) ---------------

# The workers below are the only senders: the web process's "wake the sender" task is only
# recorded, not run (the immediate task backend of the tests would send in-process).
NO_WAKE = override_settings(
    TASKS={"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
)


LEASE = 3600  # seconds: far longer than any worker start, even on a loaded machine; the tests
# move the leases into the past themselves (_lease_runs_out) instead of waiting them out


def _worker_env(tmp_path) -> dict:
    env = dict(os.environ, RAPPORT_MAIL_LEASE_SECONDS=str(LEASE), PYTHONPATH=str(ROOT))
    env["DJANGO_SETTINGS_MODULE"] = "rapport.settings_test"
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        # The test database lives in memory: hand the worker processes a copy in a file.
        path = tmp_path / "worker.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
            f"{settings['NAME']}"
        )
    return env


def _worker(mode: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rapport.mail.tests.worker_proc", mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lease_runs_out(env: dict) -> None:
    """What waiting out the lease would do, without the wait: the dead worker's leases now
    lie in the past (a live worker renews its lease; a dead one never does). On SQLite the
    workers share the file copy of the database, not the test's in-memory one."""
    past = timezone.now() - datetime.timedelta(seconds=1)
    url = env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        with db:
            db.execute(
                f"UPDATE {Delivery._meta.db_table} SET lease_expires_at = ? WHERE state = ?",
                (past.replace(tzinfo=None).isoformat(sep=" "), DeliveryState.SENDING.value),
            )
        db.close()
    else:
        Delivery.objects.filter(state=DeliveryState.SENDING).update(lease_expires_at=past)


def _run_worker(mode: str, env: dict) -> dict:
    process = _worker(mode, env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@NO_WAKE
@pytest.mark.django_db(transaction=True)
def test_worker_killed_after_claim_delivers_exactly_once_after_restart(tmp_path, smtp_server):
    mailbox = make_mailbox(smtp_server)
    messages = [
        queue_email(to=[f"p{i}@example.com"], subject=f"m{i}", text="hi", mailbox=mailbox)
        for i in range(3)
    ]
    env = _worker_env(tmp_path)
    worker = _worker("claim-and-hang", env)
    claimed = json.loads(worker.stdout.readline())["claimed"]
    assert len(claimed) == 3
    worker.send_signal(signal.SIGKILL)  # really killed: no cleanup runs
    worker.wait(timeout=10)
    assert smtp_server.sink.messages == []
    # A restarted worker at once: the lease still holds the rows, nothing is sent.
    state = _run_worker("send", env)
    assert {d["state"] for d in state["deliveries"]} == {"sending"}
    _lease_runs_out(env)
    state = _run_worker("send", env)
    assert [d["state"] for d in state["deliveries"]] == ["sent"] * 3
    assert sorted(smtp_server.sink.message_ids()) == sorted(m.message_id for m in messages)
    state = _run_worker("send", env)  # and never again
    assert len(smtp_server.sink.messages) == 3


@NO_WAKE
@pytest.mark.django_db(transaction=True)
def test_worker_killed_after_the_server_accepted_resends_with_the_same_message_id(
    tmp_path, smtp_server
):
    """The documented bound: the one window (server said 250, row not yet marked) gives at
    most one extra copy, with the same Message-ID, and the row says so."""
    mailbox = make_mailbox(smtp_server)
    message = queue_email(to=["p@example.com"], subject="m", text="hi", mailbox=mailbox)
    env = _worker_env(tmp_path)
    smtp_server.sink.hold_data = threading.Event()
    worker = _worker("send", env)
    assert smtp_server.sink.data_received.wait(timeout=60)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    smtp_server.sink.hold_data.set()
    _lease_runs_out(env)
    state = _run_worker("send", env)
    (delivery,) = state["deliveries"]
    assert delivery["state"] == "sent"
    assert "sent again with the same Message-ID" in delivery["last_error"]
    assert smtp_server.sink.message_ids() == [message.message_id, message.message_id]


@NO_WAKE
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_message_once(smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("threads on SQLite's shared in-memory test database lock whole tables")
    mailbox = make_mailbox(smtp_server)
    messages = [
        queue_email(to=[f"p{i}@example.com"], subject=f"m{i}", text="hi", mailbox=mailbox)
        for i in range(60)
    ]
    errors = []

    def work():
        try:
            send_due(limit=5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    ids = smtp_server.sink.message_ids()
    assert sorted(ids) == sorted(m.message_id for m in messages)  # each exactly once
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}


@pytest.mark.django_db
def test_locmem_outbox_in_tests():
    message = queue_email(to=["bo@example.com"], subject="Hi", text="Hi")
    send_due()
    assert mail.outbox[-1].extra_headers["Message-ID"] == message.message_id


def test_store_file_kind_is_used_for_attachments():
    assert FileKind.MAIL_ATTACHMENT == "mail_attachment"


@pytest.mark.django_db
def test_a_mailbox_set_to_xoauth2_signs_in_with_its_token():
    """The stored secret of an XOAUTH2 mailbox is an OAuth2 access token: the SMTP login is
    SASL XOAUTH2 with it (a server offering only XOAUTH2 accepts the message). The IMAP side
    (AUTHENTICATE XOAUTH2 against dovecot's oauth2 passdb) is tested in test_inbound_imap."""
    from rapport.mail.models import AuthMethod

    with SmtpServer(user="sales@example.com", oauth_token="ya29.token-1") as server:
        mailbox = make_mailbox(server, user="sales@example.com", password="ya29.token-1")
        mailbox.auth_method = AuthMethod.XOAUTH2
        mailbox.save(update_fields=["auth_method"])
        queue_email(to=["bo@example.com"], subject="Via OAuth", text="Hi", mailbox=mailbox)
        send_due()
        assert server.sink.oauth_logins == [("sales@example.com", "Bearer ya29.token-1")]
        assert [m.message["Subject"] for m in server.sink.messages] == ["Via OAuth"]
        assert Delivery.objects.get().state == DeliveryState.SENT

        # A wrong token is refused by the server and the message waits for a retry.
        mailbox.set_secret("expired-token")
        mailbox.save()
        queue_email(to=["bo@example.com"], subject="Second", text="Hi", mailbox=mailbox)
        send_due()
        assert len(server.sink.messages) == 1
        second = Delivery.objects.get(message__subject="Second")
        assert second.state == DeliveryState.QUEUED and second.last_error


def test_message_bytes_sets_random_boundaries_that_parse_back():
    import email as email_lib

    from django.core.mail import EmailMultiAlternatives

    from rapport.mail.sender import message_bytes

    def build():
        msg = EmailMultiAlternatives(
            "Hi", "plain body --=_ text", "a@example.com", ["b@example.com"]
        )
        msg.attach_alternative("<p>html body</p>", "text/html")
        return message_bytes(msg)

    first, second = build(), build()
    parsed = email_lib.message_from_bytes(first)
    assert parsed.is_multipart()
    assert parsed.get_boundary().startswith("=_")
    assert parsed.get_boundary() != email_lib.message_from_bytes(second).get_boundary()
    parts = [p.get_payload(decode=True).decode() for p in parsed.walk() if not p.is_multipart()]
    assert parts == ["plain body --=_ text", "<p>html body</p>"]


def test_message_bytes_equal_the_standard_librarys_output_for_the_same_boundary():
    """The short-ASCII header shortcut writes exactly what compat32's folding writes."""
    import email as email_lib

    from django.core.mail import EmailMultiAlternatives

    from rapport.mail.sender import message_bytes

    headers = {
        "Date": "Sat, 05 Dec 2026 20:00:00 -0000",
        "Message-ID": "<r1.abcdef.0123456789@mail.example.com>",
        "List-Unsubscribe": "<https://crm.example.com/u/" + "x" * 90 + ">, <mailto:u@x.org>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Spaces": "a  b\tc",
    }

    def build(subject):
        msg = EmailMultiAlternatives(
            subject, "Hello\n", "Shop <shop@example.com>", ["Zoë <z@example.com>"], headers=headers
        )
        msg.attach_alternative("<p>Hello</p>", "text/html")
        return msg

    for subject in ("Offer for Ann", "Offre spéciale pour Zoë", "word " * 30):
        ours = message_bytes(build(subject))
        boundary = email_lib.message_from_bytes(ours).get_boundary()
        theirs = build(subject).message()
        theirs.set_boundary(boundary)
        assert ours == theirs.as_bytes(linesep="\r\n")

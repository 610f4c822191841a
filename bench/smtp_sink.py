"""The local SMTP sink of the mail benchmarks (bench_mail_send, bench_campaign_send): the
aiosmtpd sink of the tests in a process of its own, the bare `smtplib` baseline measured
against it, and a mailbox that sends to it.

Import after django.setup() (the mailbox is a model)."""

import json
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = "Hello,\n\nthis is a benchmark message from Rapport.\n\nRegards\n" * 3


class SinkProcess:
    """The aiosmtpd sink in its own process (an SMTP server is one; in this process it would
    compete with the sender for the interpreter lock). `stop()` returns what it received:
    {"count": messages, "unique": distinct Message-IDs}."""

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rapport.mail.tests.smtp_server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.host, self.port = "127.0.0.1", json.loads(self.process.stdout.readline())["port"]
        return self

    def stop(self) -> dict:
        self.process.stdin.close()
        stats = json.loads(self.process.stdout.readline())
        self.process.wait(timeout=30)
        return stats

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.kill()


def assert_each_once(stats: dict, n: int) -> None:
    """The sink got n messages, each exactly once."""
    assert stats == {"count": n, "unique": n}, stats


def bare_loop(server: SinkProcess, n: int) -> float:
    """Seconds for n messages over one `smtplib` connection, each built with the standard
    library's EmailMessage: the baseline of the mail benchmarks."""
    start = time.perf_counter()
    with smtplib.SMTP(server.host, server.port) as smtp:
        for i in range(n):
            message = EmailMessage()
            message["From"] = "bench@example.com"
            message["To"] = f"person{i}@example.com"
            message["Subject"] = f"Bench {i}"
            message["Message-ID"] = make_msgid(domain="example.com")
            message.set_content(BODY)
            smtp.sendmail("bench@example.com", [f"person{i}@example.com"], message.as_bytes())
    return time.perf_counter() - start


def bare_baseline(n: int) -> float:
    """The bare loop against a sink of its own, checked: seconds for n messages."""
    with SinkProcess() as server:
        seconds = bare_loop(server, n)
        assert_each_once(server.stop(), n)
    return seconds


def sink_mailbox(server: SinkProcess, name: str):
    """A mailbox that sends to the sink (plain SMTP, no login); the caller deletes it."""
    from rapport.mail.models import Mailbox, Security

    return Mailbox.objects.create(
        name=name,
        email_address="bench@example.com",
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security=Security.NONE,
    )

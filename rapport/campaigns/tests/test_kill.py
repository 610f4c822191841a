"""The kill test: a 2,000-recipient campaign, its worker process SIGKILLed at random points
several times (between claim, outbox write, SMTP hand-over and mark), then a last worker
finishes (each worker forked from one process that loaded Django once, so that no start-up
runs between the kills): one message per recipient in the loopback SMTP sink, none lost.

The one window the mail outbox documents (the server answered 250 to DATA, the row is not
marked yet: rapport.mail.sender) can give a second copy with the SAME Message-ID; the test
allows at most the copies the outbox flagged as "sent again" and requires 2,000 distinct
Message-IDs, one per recipient."""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.test import override_settings

from rapport.campaigns import services
from rapport.campaigns.tests.conftest import bulk_audience
from rapport.mail.tests.conftest import make_mailbox
from rapport.mail.tests.test_sender import ROOT, _worker_env

N = 2000
KILLS = 5
LEASE = 2  # seconds: short, the workers never overlap (each starts after the last died)

NO_WAKE = override_settings(
    TASKS={"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
)


class Workers:
    """The worker server (worker_proc serve): Django loaded once; each `start()` forks a
    worker process from it, which a test can SIGKILL like any process."""

    def __init__(self, env, stderr_path):
        self.stderr = open(stderr_path, "w+")  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rapport.campaigns.tests.worker_proc", "serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        assert self.read().get("ready"), self.errors()

    def read(self) -> dict:
        line = self.process.stdout.readline()
        assert line, self.errors()
        return json.loads(line)

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-3000:]

    def start(self) -> int:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return self.read()["pid"]

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a worker still running: the test failed already
            self.process.kill()
            self.process.wait()
        self.stderr.close()


@NO_WAKE
@pytest.mark.django_db(transaction=True)
def test_killed_workers_send_each_recipient_exactly_once(
    tmp_path, smtp_server, personas, offers, template
):
    admin = personas.admin
    mailbox = make_mailbox(smtp_server)
    segment, contacts = bulk_audience(admin, offers, N)
    campaign = services.campaign_create(
        actor=admin,
        fields={"name": "Kill test"},
        send={
            "include_segments": [segment.pk],
            "template_id": template.pk,
            "consent_purpose_id": offers.pk,
            "mailbox_id": mailbox.pk,
            "rate_per_minute": 1_000_000,
            "track_opens": True,
            "track_clicks": True,
        },
    )
    services.campaign_start(campaign=campaign, actor=admin)
    env = _worker_env(tmp_path)
    env["RAPPORT_MAIL_LEASE_SECONDS"] = str(LEASE)
    env["RAPPORT_CAMPAIGN_LEASE_SECONDS"] = str(LEASE)
    rng = random.Random()
    kills = 0
    workers = Workers(env, tmp_path / "workers.err")
    try:
        for _ in range(KILLS):
            pid = workers.start()
            time.sleep(rng.uniform(0.2, 2.5))
            with contextlib.suppress(ProcessLookupError):  # it may have finished
                os.kill(pid, signal.SIGKILL)  # really killed: no cleanup runs
            line = workers.read()
            if line.get("summary") is not None:  # it finished before the kill
                line = workers.read()
            assert line["exited"] == pid
            kills += line["status"] == -signal.SIGKILL
        workers.start()
        line = workers.read()
        assert "summary" in line, workers.errors()
        result = line["summary"]
        assert workers.read()["status"] == 0, workers.errors()
    finally:
        workers.close()
    assert kills >= 3
    assert result["recipients"] == N
    assert result["recipient_states"] == ["queued"]
    assert result["delivery_states"] == ["sent"]
    # One message (one Message-ID) per recipient, and the sink got each of them.
    assert len(set(result["message_ids"])) == N
    received = smtp_server.sink.message_ids()
    assert set(received) == set(result["message_ids"])
    per_address = Counter(m.rcpt_tos[0] for m in smtp_server.sink.messages)
    assert set(per_address) == {c.email for c in contacts}
    # Only copies of the documented window, each flagged by the outbox, same Message-ID. A
    # flagged row need not be a copy: a kill during DATA leaves an incomplete transaction the
    # server discards, and the re-send is then the only copy.
    extra = len(received) - N
    assert 0 <= extra <= result["resent_notes"] <= kills, (extra, result["resent_notes"])
    print(f"kills={kills} messages={len(received)} distinct={len(set(received))}")

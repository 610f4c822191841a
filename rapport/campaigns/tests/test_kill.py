"""The kill test: a 2,000-recipient campaign, its worker process SIGKILLed at random points
several times (between claim, outbox write, SMTP hand-over and mark), then a last worker
finishes: one message per recipient in the loopback SMTP sink, none lost.

The one window the mail outbox documents (the server answered 250 to DATA, the row is not
marked yet: rapport.mail.sender) can give a second copy with the SAME Message-ID; the test
allows at most the copies the outbox flagged as "sent again" and requires 2,000 distinct
Message-IDs, one per recipient."""

import json
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


def _start(env) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "rapport.campaigns.tests.worker_proc", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert json.loads(process.stdout.readline())["ready"], process.stderr.read()[-3000:]
    return process


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
    for _ in range(KILLS):
        worker = _start(env)
        time.sleep(rng.uniform(0.2, 2.5))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)  # really killed: no cleanup runs
            kills += 1
        worker.wait(timeout=30)
    worker = _start(env)
    out, err = worker.communicate(timeout=240)
    assert worker.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
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

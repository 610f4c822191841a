"""Benchmark: sending N messages to a local SMTP sink (aiosmtpd on loopback, in this process)
through the outbox and its worker, against a bare `smtplib` loop in the same run.

  - bare loop: one SMTP connection, each message built with the standard library's
    EmailMessage and sent with `sendmail` (no database);
  - outbox: N messages queued with `queue_email` (one transaction, not timed in the ratio),
    then `send_due` until the outbox is empty: claims of 200 rows, one SMTP connection per
    batch, the gate, the fence before each hand-over and the mark after it (what a real
    worker does, database writes included).

Target: the outbox sends at ≥ 50% of the bare loop's rate. N = MAIL_BENCH_N, else 1,000 at
SCALE=small and 10,000 at SCALE=1m. The rows it writes are deleted at the end.

    SCALE=small python bench/bench_mail_send.py
    MAIL_BENCH_N=10000 DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        python bench/bench_mail_send.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from bench.smtp_sink import (  # noqa: E402
    BODY,
    SinkProcess,
    assert_each_once,
    bare_baseline,
    sink_mailbox,
)
from rapport.mail.models import Delivery, DeliveryState, MailThread  # noqa: E402
from rapport.mail.sender import send_due  # noqa: E402
from rapport.mail.services import queue_email  # noqa: E402

SIZES = {"small": 1_000, "1m": 10_000}


def outbox(server, n: int) -> tuple[float, float]:
    mailbox = sink_mailbox(server, "bench")
    try:
        start = time.perf_counter()
        with transaction.atomic():
            for i in range(n):
                queue_email(
                    to=[f"person{i}@example.com"],
                    subject=f"Bench {i}",
                    text=BODY,
                    mailbox=mailbox,
                )
        queued = time.perf_counter() - start
        start = time.perf_counter()
        while send_due(limit=200, max_batches=1000):
            pass
        sent = time.perf_counter() - start
        left = Delivery.objects.filter(message__mailbox=mailbox).exclude(state=DeliveryState.SENT)
        assert not left.exists(), "some messages were not sent"
        return queued, sent
    finally:
        MailThread.objects.filter(mailbox=mailbox).delete()
        mailbox.delete()


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    scale = os.environ.get("SCALE", "small")
    n = int(os.environ.get("MAIL_BENCH_N") or SIZES.get(scale, 1_000))
    call_command("migrate", verbosity=0)
    # Only the worker sends here (the web process's wake-up task is recorded, not run).
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    ):
        bare = bare_baseline(n)
        with SinkProcess() as server:
            queued, sent = outbox(server, n)
            assert_each_once(server.stop(), n)
    results = {
        "messages": n,
        "database": connection.vendor,
        "bare_smtplib_per_s": round(n / bare, 1),
        "outbox_queue_per_s": round(n / queued, 1),
        "outbox_send_per_s": round(n / sent, 1),
        "ratio": round(bare / sent, 3),
    }
    print(
        f"{n:,} messages on {connection.vendor}: bare smtplib {results['bare_smtplib_per_s']:,}/s, "
        f"outbox worker {results['outbox_send_per_s']:,}/s "
        f"({results['ratio']:.0%} of bare; target ≥ 50%); "
        f"queueing {results['outbox_queue_per_s']:,}/s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

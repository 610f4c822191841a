"""Benchmark: an email campaign of N recipients sent to a local SMTP sink (aiosmtpd on
loopback, in its own process), against a bare `smtplib` loop in the same run.

  - bare loop: one SMTP connection, each message built with the standard library's
    EmailMessage and sent with `sendmail` (no database, no rendering);
  - campaign: N opted-in contacts in a static segment; `campaign_start` (the snapshot: one
    recipient row each, the marketing gate asked for the whole audience), then a worker loop
    of `dispatch_due` (claim, render the template per recipient with tracked links, pixel and
    unsubscribe footer, queue_email, mark queued, timeline event) and `send_due` (the outbox:
    claim, gate again, fence, SMTP, mark) until everything is sent. The ratio compares the
    whole campaign path (snapshot + dispatch + send, until every delivery is marked sent)
    with the bare loop.

Memory: the process's RSS is sampled after every worker pass; "flat" means the peak of the
last half of the run is not above the first half's by more than a few MiB (batches, no
per-recipient state kept).

Target: ≥ 50% of the bare loop's rate. N = CAMPAIGN_BENCH_N, else 2,000 at SCALE=small and
100,000 at SCALE=1m. The rows it writes are deleted at the end.

    SCALE=small python bench/bench_campaign_send.py
    CAMPAIGN_BENCH_N=100000 DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        python bench/bench_campaign_send.py
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
from django.utils import timezone  # noqa: E402

from bench.smtp_sink import (  # noqa: E402
    SinkProcess,
    assert_each_once,
    bare_baseline,
    sink_mailbox,
)

SIZES = {"small": 2_000, "1m": 100_000}


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def audience(n: int, purpose, owner):
    from rapport.accounts.models import Contact
    from rapport.consent.models import (
        Channel,
        ConsentAction,
        ConsentRecord,
        ConsentSource,
        ConsentState,
        ConsentStatus,
    )
    from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember

    now = timezone.now()
    segment = Segment.objects.create(name="bench audience", kind=SegmentKind.STATIC)
    step = 5_000
    for start in range(0, n, step):
        with transaction.atomic():
            contacts = Contact.objects.bulk_create(
                Contact(
                    first_name=f"F{i}",
                    last_name="Bench",
                    email=f"bench{i}@example.com",
                    owner=owner,
                    description="campaign-bench",
                )
                for i in range(start, min(n, start + step))
            )
            records = ConsentRecord.objects.bulk_create(
                ConsentRecord(
                    contact=c,
                    address=c.email,
                    channel=Channel.EMAIL,
                    purpose=purpose,
                    action=ConsentAction.OPT_IN,
                    source=ConsentSource.IMPORT,
                    occurred_at=now,
                    policy_version="1",
                )
                for c in contacts
            )
            ConsentState.objects.bulk_create(
                ConsentState(
                    contact=c,
                    channel=Channel.EMAIL,
                    purpose=purpose,
                    status=ConsentStatus.OPTED_IN,
                    record=r,
                    changed_at=now,
                )
                for c, r in zip(contacts, records, strict=True)
            )
            SegmentMember.objects.bulk_create(
                SegmentMember(segment=segment, contact=c, source=MemberSource.IMPORT, added_at=now)
                for c in contacts
            )
    return segment


def campaign_run(server, n: int) -> dict:
    from rapport.accounts.models import Contact
    from rapport.campaigns import services
    from rapport.campaigns.models import Campaign
    from rapport.consent.models import ConsentPurpose, ConsentRecord, ConsentState
    from rapport.identity.models import User
    from rapport.mail.models import (
        Delivery,
        DeliveryState,
        EmailTemplate,
        MailThread,
        Purpose,
    )
    from rapport.mail.sender import send_due
    from rapport.segments.models import Segment

    owner = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "campaign-bench", password="x"
    )
    purpose = ConsentPurpose.objects.create(
        slug="campaign-bench", name="Bench", policy_text="bench", requires_double_opt_in=False
    )
    template = EmailTemplate.objects.create(
        name="campaign-bench",
        purpose=Purpose.MARKETING,
        consent_purpose=purpose,
        subject="Offer for {{ contact.first_name }}",
        body_text="Hello {{ contact.first_name }},\n\nhttps://shop.example.com/offer\n" * 3,
        body_html='<p>Hello {{ contact.first_name }}, <a href="https://shop.example.com/offer">'
        "the offer</a></p>",
    )
    mailbox = sink_mailbox(server, "campaign-bench")
    campaign = None
    try:
        segment = audience(n, purpose, owner)
        campaign = services.campaign_create(
            actor=owner,
            fields={"name": "campaign-bench"},
            send={
                "include_segments": [segment.pk],
                "template_id": template.pk,
                "consent_purpose_id": purpose.pk,
                "mailbox_id": mailbox.pk,
                "rate_per_minute": 1_000_000,
            },
        )
        rss_start = rss_mib()
        start, cpu = time.perf_counter(), time.process_time()
        services.campaign_start(campaign=campaign, actor=owner)
        snapshot = time.perf_counter() - start
        snapshot_cpu = time.process_time() - cpu
        samples = []
        start, cpu = time.perf_counter(), time.process_time()
        while services.dispatch_due(batch=500, max_batches=1):
            samples.append(rss_mib())
        dispatched = time.perf_counter() - start
        dispatch_cpu = time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        while send_due(limit=500, max_batches=1):
            samples.append(rss_mib())
        sent = time.perf_counter() - start
        send_cpu = time.process_time() - cpu
        left = Delivery.objects.filter(message__mailbox=mailbox).exclude(state=DeliveryState.SENT)
        assert not left.exists(), "some messages were not sent"
        half = len(samples) // 2 or 1
        return {
            "snapshot_s": snapshot,
            "snapshot_cpu_s": snapshot_cpu,
            "rss_start_mib": round(rss_start, 1),
            "rss_end_mib": round(rss_mib(), 1),
            "dispatch_s": dispatched,
            "send_s": sent,
            "dispatch_cpu_s": dispatch_cpu,
            "send_cpu_s": send_cpu,
            "rss_first_half_peak_mib": round(max(samples[:half]), 1),
            "rss_second_half_peak_mib": round(max(samples[half:] or samples), 1),
        }
    finally:
        if campaign is not None:
            Campaign.objects.filter(pk=campaign.pk).delete()
        MailThread.objects.filter(mailbox=mailbox).delete()
        mailbox.delete()
        template.delete()
        ConsentState.objects.filter(purpose=purpose).delete()
        with connection.cursor() as cursor:  # the ledger refuses ORM deletes (append-only)
            cursor.execute(
                f"DELETE FROM {ConsentRecord._meta.db_table} WHERE purpose_id = %s", [purpose.pk]
            )
        Contact.objects.filter(description="campaign-bench").delete()
        Segment.objects.filter(name="bench audience").delete()
        purpose.delete()


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    scale = os.environ.get("SCALE", "small")
    n = int(os.environ.get("CAMPAIGN_BENCH_N") or SIZES.get(scale, 2_000))
    call_command("migrate", verbosity=0)
    # Load the URL configuration (the tracked links are reversed) before anything is timed:
    # a worker does it once when it starts.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    ):
        cpu = time.process_time()
        bare = bare_baseline(n)
        bare_cpu = time.process_time() - cpu
        with SinkProcess() as server:
            run = campaign_run(server, n)
            assert_each_once(server.stop(), n)  # each recipient exactly once
    results = {
        "recipients": n,
        "database": connection.vendor,
        "bare_smtplib_per_s": round(n / bare, 1),
        "snapshot_per_s": round(n / run["snapshot_s"], 1),
        "dispatch_per_s": round(n / run["dispatch_s"], 1),
        "outbox_send_per_s": round(n / run["send_s"], 1),
        # End to end: the snapshot of the audience, the dispatch (render, queue) and the
        # outbox send until every delivery is marked sent.
        "end_to_end_per_s": round(n / (run["snapshot_s"] + run["dispatch_s"] + run["send_s"]), 1),
        "ratio_send": round(bare / run["send_s"], 3),
        "ratio_end_to_end": round(
            bare / (run["snapshot_s"] + run["dispatch_s"] + run["send_s"]), 3
        ),
        # CPU seconds of this process (the sink runs in its own): what the other builds'
        # load on a shared machine does not distort.
        "bare_cpu_ms_per_message": round(bare_cpu * 1000 / n, 3),
        "snapshot_cpu_ms_per_message": round(run["snapshot_cpu_s"] * 1000 / n, 3),
        "dispatch_cpu_ms_per_message": round(run["dispatch_cpu_s"] * 1000 / n, 3),
        "send_cpu_ms_per_message": round(run["send_cpu_s"] * 1000 / n, 3),
        "ratio_send_cpu": round(bare_cpu / run["send_cpu_s"], 3),
        "ratio_end_to_end_cpu": round(
            bare_cpu / (run["snapshot_cpu_s"] + run["dispatch_cpu_s"] + run["send_cpu_s"]), 3
        ),
        "rss_start_mib": run["rss_start_mib"],
        "rss_end_mib": run["rss_end_mib"],
        "rss_first_half_peak_mib": run["rss_first_half_peak_mib"],
        "rss_second_half_peak_mib": run["rss_second_half_peak_mib"],
    }
    print(
        f"{n:,} recipients on {connection.vendor}: bare smtplib {results['bare_smtplib_per_s']:,}/s, "
        f"outbox send {results['outbox_send_per_s']:,}/s ({results['ratio_send']:.0%} of bare; "
        f"target ≥ 50%); end to end (snapshot, rendering and queueing, send) "
        f"{results['end_to_end_per_s']:,}/s ({results['ratio_end_to_end']:.0%}); "
        f"snapshot {results['snapshot_per_s']:,}/s; CPU ms a message: bare "
        f"{results['bare_cpu_ms_per_message']}, snapshot {results['snapshot_cpu_ms_per_message']}, "
        f"dispatch {results['dispatch_cpu_ms_per_message']}, "
        f"send {results['send_cpu_ms_per_message']} (CPU ratio send "
        f"{results['ratio_send_cpu']:.0%}, end to end {results['ratio_end_to_end_cpu']:.0%}); "
        f"peak RSS {results['rss_first_half_peak_mib']} → {results['rss_second_half_peak_mib']} MiB "
        f"(RSS at start {results['rss_start_mib']}, at end {results['rss_end_mib']} MiB); "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

"""Benchmark: IMAP sync of N messages from a local dovecot (the tests' private server).

Starts dovecot (rapport/mail/tests/imap_server.py) on loopback, migrates a temporary SQLite
database once (a template copied per run), creates 200 contacts with two addresses each, then
for each size (2,000 and 10,000 messages; SCALE=small: 500 and 2,000) in a fresh child
process, so that its peak memory is its own:

  1. APPENDs the messages to a new user's INBOX over IMAP (not timed): 2/3 from known
     contacts, 1/3 from unknown senders, a third of them replies (In-Reply-To an earlier
     message), a fifth with an HTML part, one in twenty with a 20 KB attachment;
  2. times `sync_mailbox` (fetch in batches, parse, store raw + attachments, thread, file,
     timeline) and reports messages/s, the peak RSS (resource.getrusage) and its growth
     over the process's RSS before the sync, and the tracemalloc peak of a second, smaller
     traced sync (tracemalloc slows Python down, so it is not part of the rate).

Memory is flat in the number of messages when the RSS growth of the large run is close to
the small one's. Target: ≥ 200 messages/s.

`--support` measures email-to-case instead (issue 12): the mailbox is a support mailbox
routed to a queue, so each new message opens a case (contact and account matched, routing,
SLA clock, timeline) and each reply threads onto its case as a customer entry; the table
adds the cases and conversation entries made.

    python bench/bench_mail_sync.py                 # 2,000 and 10,000
    SCALE=small python bench/bench_mail_sync.py     # 500 and 2,000
    python bench/bench_mail_sync.py --sizes 1000 5000
    python bench/bench_mail_sync.py --support --sizes 500 2000 --no-trace
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 200.0


def _setup(db: Path, media: Path) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.settings"
    os.environ["RAPPORT_MEDIA_DIR"] = str(media)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("RAPPORT_MAIL_KEY"):
        from cryptography.fernet import Fernet

        os.environ["RAPPORT_MAIL_KEY"] = Fernet.generate_key().decode()
    import django

    django.setup()
    from django.conf import settings

    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _messages(n: int, seed: int):
    """Raw messages: realistic mix, deterministic."""
    import email.utils
    import random
    from email.message import EmailMessage

    rng = random.Random(seed)
    ids: list[str] = []
    attachment = bytes(rng.getrandbits(8) for _ in range(20 * 1024))
    for i in range(n):
        msg = EmailMessage()
        if rng.random() < 2 / 3:
            c = rng.randrange(200)
            sender = f"Contact {c} <contact{c}@customer{c % 40}.example>"
        else:
            sender = f"Stranger {i} <stranger{i % 500}@unknown.example>"
        msg["From"] = sender
        msg["To"] = "sales@rapport.test"
        mid = f"<bench-{seed}-{i}@customer.example>"
        msg["Message-ID"] = mid
        msg["Date"] = email.utils.format_datetime(
            email.utils.parsedate_to_datetime("Fri, 04 Dec 2026 10:00:00 +0000")
        )
        if ids and rng.random() < 1 / 3:
            parent = rng.choice(ids[-200:])
            msg["In-Reply-To"] = parent
            msg["References"] = parent
            msg["Subject"] = f"Re: Question {i % 97}"
        else:
            msg["Subject"] = f"Question {i % 97}"
        body = ("Hello, about the offer we discussed. " * 25) + f"\nMessage {i}\n"
        msg.set_content(body)
        if rng.random() < 0.2:
            msg.add_alternative(f"<p>{body}</p><p><b>Regards</b></p>", subtype="html")
        if rng.random() < 0.05:
            msg.add_attachment(
                attachment, maintype="application", subtype="pdf", filename=f"doc{i}.pdf"
            )
        ids.append(mid)
        yield msg.as_bytes()


def _contacts() -> None:
    from rapport.accounts.models import Contact, ContactEmail
    from rapport.identity.models import Role, User

    owner = User.objects.filter(username="bench").first() or User.objects.create(
        username="bench", role=Role.ADMIN
    )
    contacts = Contact.objects.bulk_create(
        Contact(
            owner=owner,
            first_name="Contact",
            last_name=str(c),
            email=f"contact{c}@customer{c % 40}.example",
        )
        for c in range(200)
    )
    ContactEmail.objects.bulk_create(
        [ContactEmail(contact=ct, email=ct.email, is_primary=True) for ct in contacts]
        + [ContactEmail(contact=ct, email=f"alt{ct.pk}@home.example") for ct in contacts]
    )


def _cases_made() -> tuple[int, int]:
    from rapport.cases.models import Case, CaseEntry

    return Case.objects.count(), CaseEntry.objects.count()


def child(args) -> None:
    _setup(Path(args.db), Path(args.media))
    from rapport.mail.models import Mailbox, MailMessage
    from rapport.mail.sync import sync_mailbox
    from rapport.mail.tests.imap_server import PASSWORD, DovecotServer

    info = json.loads(args.server)
    server = DovecotServer(
        root=Path(info["root"]),
        port=info["port"],
        ssl_port=info["ssl_port"],
        cert_path=Path(info["root"]) / "cert.pem",
        uid=info["uid"],
        gid=info["gid"],
    )
    n = args.n
    user = server.new_user(f"bench{n}-{args.trace}-")
    conn = server.client(user)
    t0 = time.perf_counter()
    for raw in _messages(n, seed=n):
        conn.append("INBOX", None, None, raw)
    conn.logout()
    append_s = time.perf_counter() - t0
    box = Mailbox(
        name=f"Bench {n}", email_address="sales@rapport.test", **server.mailbox_settings(user)
    )
    if args.support:
        from rapport.mail.models import MailboxPurpose

        box.purpose = MailboxPurpose.SUPPORT
    box.set_secret(PASSWORD)
    box.save()
    if args.support:
        from rapport.cases.models import Queue, RoutingRule

        queue = Queue.objects.create(name=f"Support {n}", mailbox=box)
        RoutingRule.objects.create(name="All mail", queue=queue)
    if args.trace:
        import tracemalloc

        tracemalloc.start()
    rss_before = _rss_mib()
    t0, cpu0 = time.perf_counter(), time.process_time()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(sync_mailbox, box.pk)
        profile_out = (
            ROOT / "var" / "bench" / f"mail-sync-{n}{'-support' if args.support else ''}.prof"
        )
        profiler.dump_stats(profile_out)  # for pstats / snakeviz
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(
            "rapport|email/__init__|feedparser|parser.py|imaplib|storage", 40
        )
    else:
        result = sync_mailbox(box.pk)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    traced = None
    if args.trace:
        import tracemalloc

        traced = tracemalloc.get_traced_memory()[1] / 2**20
    print(
        json.dumps(
            {
                "n": n,
                "trace": args.trace,
                "append_s": round(append_s, 1),
                "sync_s": round(seconds, 2),
                "created": result.created,
                "failed": result.failed,
                "error": result.error,
                "stored": MailMessage.objects.filter(mailbox=box).count(),
                "cases": _cases_made() if args.support else None,
                "rate": round(result.created / seconds, 1) if seconds else 0,
                "cpu_s": round(cpu, 2),
                "rate_per_cpu_s": round(result.created / cpu, 1) if cpu else 0,
                "rss_before_mib": round(rss_before, 1),
                "peak_rss_mib": round(_peak_mib(), 1),
                "rss_growth_mib": round(_peak_mib() - rss_before, 1),
                "tracemalloc_peak_mib": round(traced, 1) if traced is not None else None,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--n", type=int)
    parser.add_argument("--trace", type=int, default=0)
    parser.add_argument("--db")
    parser.add_argument("--media")
    parser.add_argument("--server")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-trace", action="store_true", help="skip the traced run")
    parser.add_argument(
        "--support", action="store_true", help="a support mailbox: email-to-case throughput"
    )
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    small = os.environ.get("SCALE", "") in ("small", "tiny")
    sizes = args.sizes or ([500, 2_000] if small else [2_000, 10_000])

    from rapport.mail.tests.imap_server import start_dovecot

    work = Path(tempfile.mkdtemp(prefix="rapport-bench-mail-"))
    os.chmod(work, 0o755)  # dovecot's auth process (user dovecot) reads the users' files
    server = start_dovecot(work / "dovecot")
    try:
        # The migrated database with its contacts is kept in var/bench/ and reused (delete it
        # to rebuild): migrating takes longer than the benchmark.
        template = ROOT / "var" / "bench" / "mail-sync-template.sqlite3"
        template.parent.mkdir(parents=True, exist_ok=True)
        media = work / "media"
        env = {**os.environ, "RAPPORT_DEV": "1", "DATABASE_URL": f"sqlite:///{template}"}
        t0 = time.perf_counter()
        fresh = not template.exists()
        fresh and subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        fresh and subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, 'bench'); import bench_mail_sync as b; "
                f"b._setup(__import__('pathlib').Path({str(template)!r}), "
                f"__import__('pathlib').Path({str(media)!r})); b._contacts()",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        print(f"database ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        info = json.dumps(
            {
                "root": str(server.root),
                "port": server.port,
                "ssl_port": server.ssl_port,
                "uid": server.uid,
                "gid": server.gid,
            }
        )
        rows = []
        runs = [(n, 0) for n in sizes] + ([] if args.no_trace else [(min(sizes), 1)])
        for n, trace in runs:
            db = work / f"run-{n}-{trace}.sqlite3"
            shutil.copy(template, db)
            out = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__)),
                    "--child",
                    "--n",
                    str(n),
                    "--trace",
                    str(trace),
                    "--db",
                    str(db),
                    "--media",
                    str(media / f"{n}-{trace}"),
                    "--server",
                    info,
                ]
                + (["--profile"] if args.profile and not trace else [])
                + (["--support"] if args.support else []),
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if out.returncode:
                sys.exit(f"the run of {n} messages failed:\n{out.stderr[-4000:]}")
            if args.profile:
                print(out.stderr, file=sys.stderr)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    if args.support:
        print("email-to-case (support mailbox routed to a queue)")
    print(
        "| messages | sync s | messages/s | target | CPU s | messages per CPU s | "
        "peak RSS MiB | RSS growth MiB | traced peak MiB |"
        + (" cases / entries |" if args.support else "")
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if args.support else ""))
    for row in rows:
        ok = "met" if row["rate"] >= TARGET else "MISSED"
        if row["trace"]:
            print(
                f"| {row['n']:,} (traced) | {row['sync_s']} | — | — | — | — | — | — | "
                f"{row['tracemalloc_peak_mib']} |"
            )
            continue
        print(
            f"| {row['n']:,} | {row['sync_s']} | {row['rate']:,} | ≥ {TARGET:.0f} ({ok}) | "
            f"{row['cpu_s']} | {row['rate_per_cpu_s']:,} | "
            f"{row['peak_rss_mib']} | {row['rss_growth_mib']} | |"
            + (f" {row['cases'][0]:,} / {row['cases'][1]:,} |" if row.get("cases") else "")
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    plain = [r for r in rows if not r["trace"]]
    if len(plain) >= 2:
        a, b = plain[0], plain[-1]
        print(
            f"\nRSS growth {a['n']:,}: {a['rss_growth_mib']} MiB, {b['n']:,}: "
            f"{b['rss_growth_mib']} MiB ({b['n'] / a['n']:.0f}× the messages)"
        )


if __name__ == "__main__":
    main()

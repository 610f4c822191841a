"""Benchmark: duplicate detection over N contacts, merge, and the review endpoints.

Fills the database of DATABASE_URL (default: a scratch SQLite file in /tmp, migrated
first) up to --contacts contacts with `bulk_create` — people with accounts, company or
free-mail addresses, phones and cities — plus --dup-rate of planted duplicates, each a
variation of an original (same address in another case or with gmail dots/+tag, the same
phone written another way, or a misspelt name in the same city). The planted pairs are
marked (description "dup-of:<id>") so recall can be measured on reruns.

Then times:
  full run          duplicates_find(full=True): key filing, blocking, scoring, upsert
  incremental run   after touching --touch contacts
  rerun             a second full run (upserts, nothing new)
  check             the create-time check (selectors.duplicates_check), p50/p95
  queue             GET /api/duplicates as an admin and as a team member, p50/p95
  merge / undo      record_merge and merge_undo of planted pairs, p50

and reports pairs compared against the bound and against n(n-1)/2, recall on the planted
pairs, and the peak RSS of the process.

    python bench/bench_duplicates.py --contacts 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench python bench/bench_duplicates.py

It writes to that database: point it at a scratch one.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_duplicates.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone  # noqa: E402
from rapport.duplicates.models import DuplicateCandidate, MergeLog  # noqa: E402
from rapport.duplicates.selectors import duplicates_check  # noqa: E402
from rapport.duplicates.services import duplicates_find, merge_undo, record_merge  # noqa: E402
from rapport.identity.models import Role, Team, User  # noqa: E402
from rapport.identity.services import api_token_create, team_create, user_create  # noqa: E402

BATCH = 5000
TEAMS = 5
OWNERS_PER_TEAM = 4

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Edsger",
    "Donald",
    "Margaret",
    "Ken",
    "Dennis",
    "Frances",
    "Tim",
    "Radia",
    "Vint",
    "Bjarne",
    "Guido",
    "Anita",
    "Shafi",
    "Leslie",
    "John",
    "Mary",
    "Katherine",
    "Hedy",
    "Claude",
    "Sophie",
    "Marie",
    "Pierre",
    "Jean",
    "Luc",
    "Emma",
    "Lucas",
    "Léa",
    "Hugo",
    "Chloé",
    "Louis",
    "Manon",
    "Jules",
    "Camille",
    "Noah",
    "Zoé",
    "Arthur",
    "Inès",
    "Mohamed",
    "Fatima",
    "Yuki",
    "Hiroshi",
    "Mei",
    "Wei",
    "Olga",
    "Ivan",
    "Sven",
    "Ingrid",
    "Lars",
    "Astrid",
    "Paolo",
    "Giulia",
    "Carlos",
    "Lucía",
    "Diego",
    "Sofía",
    "Aiden",
    "Olivia",
    "Liam",
    "Ava",
    "Ethan",
    "Mia",
    "Priya",
    "Arjun",
    "Ananya",
    "Ravi",
]
SYLLABLES = [
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "da",
    "de",
    "di",
    "do",
    "du",
    "fa",
    "fe",
    "fi",
    "fo",
    "ka",
    "ke",
    "ki",
    "ko",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "mu",
    "na",
    "ne",
    "ni",
    "no",
    "nu",
    "pa",
    "pe",
    "pi",
    "po",
    "ra",
    "re",
    "ri",
    "ro",
    "ru",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "va",
    "ve",
    "vi",
    "vo",
    "za",
    "zo",
    "son",
    "sen",
    "berg",
    "man",
    "stein",
    "ton",
    "ley",
    "ford",
    "field",
    "wood",
    "well",
    "ski",
    "ova",
    "ez",
    "ini",
    "elli",
    "ard",
]
CITIES = [
    "Paris",
    "Lyon",
    "Berlin",
    "Munich",
    "Austin",
    "Boston",
    "Leeds",
    "York",
    "Rome",
    "Milan",
    "Madrid",
    "Lisbon",
    "Oslo",
    "Bergen",
    "Vienna",
    "Prague",
    "Warsaw",
    "Dublin",
    "Cork",
    "Zurich",
    "Geneva",
    "Lille",
    "Nantes",
    "Toulouse",
    "Seville",
    "Porto",
    "Turin",
    "Denver",
    "Seattle",
    "Portland",
]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de"]


def last_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def phone(rng: random.Random) -> str:
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04}"


def typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + rng.choice("aeiou")
    i = rng.randint(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap two letters


def reformat(number: str) -> str:
    """+16502530000 → (650) 253-0000, as a raw import would store it."""
    d = number[2:]
    return f"({d[:3]}) {d[3:6]}-{d[6:]}"


# ----- data -------------------------------------------------------------------------------


def bench_users() -> tuple[User, User]:
    admin = User.objects.filter(username="bench-admin").first() or user_create(
        username="bench-admin", role=Role.ADMIN, password="x", validate=False
    )
    for t in range(TEAMS):
        if Team.objects.filter(name=f"Bench team {t}").exists():
            continue
        manager = user_create(username=f"bench-manager-{t}", role=Role.MANAGER)
        team = team_create(name=f"Bench team {t}", manager=manager)
        for o in range(OWNERS_PER_TEAM):
            user_create(username=f"bench-owner-{t}-{o}", team=team)
    return admin, User.objects.get(username="bench-owner-0-0")


def fill(target: int, dup_rate: float, seed: int) -> float:
    """Add contacts until there are `target` originals plus their planted duplicates."""
    rng = random.Random(seed)
    owners = list(User.objects.filter(username__startswith="bench-owner-"))
    if Contact.all_objects.count() >= target:
        return 0.0
    started = time.perf_counter()
    accounts = []
    for start in range(0, target // 20, BATCH):
        rows = []
        for _ in range(min(BATCH, target // 20 - start)):
            owner = rng.choice(owners)
            name = last_name(rng)
            rows.append(
                Account(
                    owner=owner,
                    team_id=owner.team_id,
                    name=f"{name} {rng.choice(['Inc', 'GmbH', 'SA', 'Ltd', ''])}".strip(),
                    domain=f"{name.lower()}{rng.randint(1, 999)}.example",
                    city=rng.choice(CITIES),
                )
            )
        accounts += Account.objects.bulk_create(rows)
    made = 0
    while made < target:
        n = min(BATCH, target - made)
        rows = []
        for _ in range(n):
            account = rng.choice(accounts) if rng.random() < 0.7 else None
            owner = account.owner if account else rng.choice(owners)
            first, last = rng.choice(FIRST), last_name(rng)
            local = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}"
            domain = account.domain if account else rng.choice(FREE_MAIL)
            rows.append(
                Contact(
                    owner=owner,
                    team_id=owner.team_id,
                    first_name=first,
                    last_name=last,
                    account=account,
                    email=f"{local}@{domain}",
                    phone=phone(rng),
                    city=account.city if account and rng.random() < 0.6 else rng.choice(CITIES),
                )
            )
        originals = Contact.objects.bulk_create(rows)
        dups = []
        for c in originals:
            if rng.random() >= dup_rate:
                continue
            kind = rng.choice(["email", "phone", "name"])
            d = Contact(
                owner=c.owner,
                team_id=c.team_id,
                first_name=c.first_name,
                last_name=c.last_name,
                account_id=c.account_id if rng.random() < 0.5 else None,
                city=c.city,
                description=f"dup-of:{c.pk}",
            )
            if kind == "email":
                local, _, domain = c.email.partition("@")
                d.email = (
                    f"{local.upper()}@{domain}" if rng.random() < 0.5 else f"{local}+crm@{domain}"
                )
                d.first_name = c.first_name[0] + "."
                d.city = rng.choice(CITIES)
            elif kind == "phone":
                d.phone = reformat(c.phone)
                d.city = ""
            else:
                d.last_name = typo(rng, c.last_name)
            dups.append(d)
        dups = Contact.objects.bulk_create(dups)
        everyone = originals + dups
        ContactEmail.objects.bulk_create(
            [ContactEmail(contact=c, email=c.email, is_primary=True) for c in everyone if c.email]
        )
        ContactPhone.objects.bulk_create(
            [ContactPhone(contact=c, number=c.phone, is_primary=True) for c in everyone if c.phone]
        )
        made += n
    return time.perf_counter() - started


# ----- measures ---------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return statistics.median(samples) * 1000, p95 * 1000


def timed(fn, repeat: int) -> str:
    """p50 / p95 of wall time, and of the process's CPU time (what the call costs when the
    machine is not shared: SQLite runs in the process, so its work is counted)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    (w50, w95), (c50, c95) = percentiles(wall), percentiles(cpu)
    return f"{w50:.1f} / {w95:.1f} ms wall, {c50:.1f} / {c95:.1f} ms CPU"


def planted_pairs() -> set[tuple[int, int]]:
    out = set()
    for pk, description in Contact.all_objects.filter(
        description__startswith="dup-of:"
    ).values_list("pk", "description"):
        original = int(description.removeprefix("dup-of:"))
        out.add((min(pk, original), max(pk, original)))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--dup-rate", type=float, default=0.01)
    parser.add_argument("--touch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    admin, member = bench_users()
    fill_seconds = fill(args.contacts, args.dup_rate, args.seed)
    n = Contact.objects.count()
    rows: list[tuple[str, str]] = []
    print(f"{n} contacts ({connection.vendor}); generated in {fill_seconds:.1f} s", flush=True)

    cpu = time.process_time()
    run = duplicates_find(object_type="contact", full=True)
    cpu = time.process_time() - cpu
    rows.append(
        (
            "full run",
            f"{run.seconds:.1f} s wall, {cpu:.1f} s CPU ({n / run.seconds:,.0f} records/s wall)",
        )
    )
    rows.append(
        ("keys filed / blocks", f"{run.keys:,} / {run.blocks:,} (largest {run.largest_block})")
    )
    all_pairs = n * (n - 1) // 2
    rows.append(
        (
            "pairs compared",
            f"{run.pairs_compared:,} (bound {run.pairs_bound:,}; "
            f"{run.pairs_compared / n:.1f} per record; n(n-1)/2 = {all_pairs:,})",
        )
    )
    planted = planted_pairs()
    found = set(
        DuplicateCandidate.objects.filter(object_type="contact").values_list(
            "record_a_id", "record_b_id"
        )
    )
    hit = len(planted & found)
    rows.append(("candidates", f"{len(found):,} ({len(found - planted):,} not planted)"))
    rows.append(("recall on planted", f"{hit}/{len(planted)} = {hit / max(len(planted), 1):.1%}"))
    rows.append(("peak RSS after full run", f"{rss_mb():.0f} MB"))

    ids = list(Contact.objects.order_by("?").values_list("pk", flat=True)[: args.touch])
    Contact.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    cpu = time.process_time()
    inc = duplicates_find(object_type="contact")
    cpu = time.process_time() - cpu
    rows.append(
        (
            f"incremental run ({args.touch} changed)",
            f"{inc.seconds:.2f} s wall, {cpu:.2f} s CPU, {inc.pairs_compared:,} pairs",
        )
    )
    rerun = duplicates_find(object_type="contact", full=True)
    rows.append(
        (
            "full rerun",
            f"{rerun.seconds:.1f} s, {rerun.candidates_new} new, {rerun.candidates_removed} removed",
        )
    )

    rng = random.Random(args.seed + 1)
    sample = list(
        Contact.objects.order_by("?").values("first_name", "last_name", "email", "phone", "city")[
            : args.repeat
        ]
    )
    probes = iter(sample * 3)

    def check(user):
        probe = dict(next(probes))
        if rng.random() < 0.5:
            probe["email"] = probe["email"].upper()
        duplicates_check(user=user, object_type="contact", fields=probe)

    rows.append(("check as admin p50/p95", timed(lambda: check(admin), len(sample))))
    rows.append(
        (
            "check as team member p50/p95",
            timed(lambda: check(User.objects.get(pk=member.pk)), len(sample)),
        )
    )

    for label, user in (("admin", admin), ("team member", member)):
        _, secret = api_token_create(user=user, name="bench")
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        response = client.get("/api/duplicates?object_type=contact")
        assert response.status_code == 200, response.content
        rows.append(
            (
                f"GET /api/duplicates as {label} p50/p95",
                timed(lambda c=client: c.get("/api/duplicates?object_type=contact"), 30),
            )
        )

    merges, undos = [], []
    for a_id, b_id in sorted(planted & found)[:20]:
        survivor, merged = Contact.objects.get(pk=a_id), Contact.objects.get(pk=b_id)
        start = time.perf_counter()
        log = record_merge(
            object_type="contact", survivor=survivor, merged=merged, field_choices={}, actor=admin
        )
        merges.append(time.perf_counter() - start)
        start = time.perf_counter()
        merge_undo(log=MergeLog.objects.get(pk=log.pk), actor=admin)
        undos.append(time.perf_counter() - start)
    if merges:
        rows.append(
            ("merge / undo p50", f"{percentiles(merges)[0]:.1f} / {percentiles(undos)[0]:.1f} ms")
        )
    rows.append(("peak RSS", f"{rss_mb():.0f} MB"))

    print(
        f"\nDuplicates benchmark — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
        f"Python {platform.python_version()}, {connection.vendor}"
    )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()

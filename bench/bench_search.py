"""Benchmark: typeahead search over N contacts, the search service against the bare index SQL.

Fills the database of the current DATABASE_URL (migrated first) up to --contacts contacts
(with their email and phone rows, plus accounts, leads and opportunities at 1/20, 1/10 and
1/20 of that) with `bulk_create`, rebuilds and optimizes the search indexes, then times
typeahead queries drawn from the data:

  substring  3–5 characters from a name or an email     ("vel", "ettan", "gmai")
  two words  the start of a first name and of a last name ("ada lov")
  phone      4–7 digits of a phone, sometimes with dashes ("253-00")
  prefix     two letters: the short-term prefix path      ("lo")

for each: the bare SQL (FTS5 MATCH / pg_trgm LIKE on the contact table, LIMIT 20), the
search service's contact typeahead as an admin and as a team member (visibility applied,
ranked, LIMIT 20), and GET /api/search over the four record types through Django's test
client. Reports p50/p95 in milliseconds.

    DATABASE_URL=sqlite:////tmp/bench_search.sqlite3 python bench/bench_search.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench python bench/bench_search.py

It writes to that database: point it at a scratch one.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")
os.environ.setdefault("SQLITE_NO_PERSIST", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.timing import p50_p95  # noqa: E402
from bench.top_rep import top_rep_id  # noqa: E402
from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone  # noqa: E402
from rapport.identity.models import Role, Team, User  # noqa: E402
from rapport.identity.services import api_token_create, team_create, user_create  # noqa: E402
from rapport.leads.models import Lead  # noqa: E402
from rapport.sales.models import Opportunity, Pipeline  # noqa: E402
from rapport.search.indexes import CONTACT  # noqa: E402
from rapport.search.matching import _fts_query, escape_like, parse_query  # noqa: E402
from rapport.search.schema import pg_document  # noqa: E402
from rapport.search.selectors import search_typeahead  # noqa: E402
from rapport.search.services import search_optimize, search_rebuild  # noqa: E402

BATCH = 5000
TEAMS = 5
OWNERS_PER_TEAM = 4

FIRST = (  # noqa: SIM905
    "Ada Alan Grace Linus Barbara Edsger Donald Margaret Ken Dennis Frances Tim Radia "
    "Vint Bjarne Guido Anita Shafi Leslie John Mary Katherine Hedy Claude Sophie Marie "
    "Pierre Jean Luc Emma Lucas Léa Hugo Chloé Louis Manon Jules Camille Noah Zoé Arthur "
    "Inès Mohamed Fatima Yuki Hiroshi Mei Wei Olga Ivan Sven Ingrid Lars Astrid Paolo "
    "Giulia Carlos Lucía Diego Sofía Aiden Olivia Liam Ava Ethan Mia Priya Arjun Ananya "
    "Ravi"
).split()
SYLLABLES = (  # noqa: SIM905
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko la le li lo lu ma me mi mo mu "
    "na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to va ve vi vo za zo "
    "son sen berg man stein ton ley ford field wood well ski ova ez ini elli ard"
).split()
TITLES = (  # noqa: SIM905
    "CEO CTO CFO Buyer Engineer Analyst Director Manager Consultant Founder"
).split()
DOMAINS = (  # noqa: SIM905
    "gmail.com outlook.com example.com acme.io globex.net initech.org"
).split()


def last_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def phone(rng: random.Random) -> str:
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04}"


# ----- data -------------------------------------------------------------------------------


def bench_users() -> tuple[User, User]:
    """An admin and a team member (private records: sees their own, ~1/20 of them when this
    script generated the data; nothing in a demo_data database, where it owns nothing)."""
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


def typical_rep(member: User) -> User:
    """The active sales rep who owns the most contacts (a demo_data database: one of the
    demo reps, ~1/6 of a million contacts), else `member` (this script's data)."""
    top = top_rep_id()
    return User.objects.get(pk=top) if top is not None else member


def fill(target: int, seed: int) -> dict[str, float]:
    """Add contacts (and accounts, leads, opportunities) until there are `target` contacts."""
    rng = random.Random(seed)
    owners = list(User.objects.filter(username__startswith="bench-owner-"))
    have = Contact.all_objects.count()
    timings: dict[str, float] = {}
    if have >= target:
        return timings
    start = time.perf_counter()
    made = 0
    while have + made < target:
        n = min(BATCH, target - have - made)
        rows = []
        for _ in range(n):
            owner = rng.choice(owners)
            first, last = rng.choice(FIRST), last_name(rng)
            rows.append(
                Contact(
                    owner=owner,
                    team_id=owner.team_id,
                    first_name=first,
                    last_name=last,
                    title=rng.choice(TITLES),
                    email=f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}",
                    phone=phone(rng),
                )
            )
        contacts = Contact.objects.bulk_create(rows)
        ContactEmail.objects.bulk_create(
            [ContactEmail(contact=c, email=c.email, is_primary=True) for c in contacts]
        )
        ContactPhone.objects.bulk_create(
            [ContactPhone(contact=c, number=c.phone, is_primary=True) for c in contacts]
        )
        made += n
    timings["contacts + emails + phones bulk_create, data generation included (contacts/s)"] = (
        made / (time.perf_counter() - start)
    )

    pipeline = Pipeline.objects.filter(is_default=True).first()
    stage = pipeline.stages.order_by("position").first()
    cities = ["Paris", "Lyon", "Berlin", "Austin", "Osaka"]
    suffixes = ["Inc", "GmbH", "SA", "Ltd"]

    def account(owner):
        return Account(name=f"{last_name(rng)} {rng.choice(suffixes)}", city=rng.choice(cities))

    def lead(owner):
        return Lead(
            first_name=rng.choice(FIRST),
            last_name=last_name(rng),
            company=f"{last_name(rng)} Corp",
            phone=phone(rng),
        )

    def opportunity(owner):
        return Opportunity(
            name=f"{last_name(rng)} renewal",
            pipeline=pipeline,
            stage=stage,
            amount=Decimal(rng.randint(1, 900) * 100),
            account_id=rng.choice(account_ids),
        )

    account_ids: list[int] = []
    for model, count, make in (
        (Account, target // 20, account),
        (Lead, target // 10, lead),
        (Opportunity, target // 20, opportunity),
    ):
        missing = count - model.all_objects.count()
        for offset in range(0, max(missing, 0), BATCH):
            batch = []
            for _ in range(min(BATCH, missing - offset)):
                owner = rng.choice(owners)
                row = make(owner)
                row.owner, row.team_id = owner, owner.team_id
                batch.append(row)
            model.objects.bulk_create(batch)
        if model is Account:
            account_ids = list(Account.all_objects.values_list("id", flat=True))

    start = time.perf_counter()
    search_rebuild()
    timings["search_rebuild (s)"] = time.perf_counter() - start
    start = time.perf_counter()
    search_optimize()
    timings["search_optimize (s)"] = time.perf_counter() - start
    return timings


# ----- queries ----------------------------------------------------------------------------


def query_sets(per_kind: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 1)
    sample = list(
        Contact.objects.order_by("?").values_list("first_name", "last_name", "email", "phone")[
            : per_kind * 2
        ]
    )

    def substring(text: str) -> str:
        size = rng.randint(3, 5)
        at = rng.randint(0, max(len(text) - size, 0))
        return text[at : at + size]

    sets: dict[str, list[str]] = {"substring": [], "two words": [], "phone": [], "prefix": []}
    for first, last, email, number in sample[:per_kind]:
        sets["substring"].append(substring(rng.choice([first, last, last, email])))
        sets["two words"].append(f"{first[: rng.randint(2, 4)]} {last[: rng.randint(3, 5)]}")
        digits = number.lstrip("+")
        at = rng.randint(1, len(digits) - 7)
        frag = digits[at : at + rng.randint(4, 7)]
        sets["phone"].append(f"{frag[:3]}-{frag[3:]}" if rng.random() < 0.5 else frag)
        sets["prefix"].append(last[:2].lower())
    return sets


def bare_sql(q: str) -> tuple[str, list]:
    """The index alone: the contact table's FTS5 MATCH / trigram LIKE (or the name prefix for
    short words), LIMIT 20."""
    terms = parse_query(q)
    long_terms = [t for t in terms if not t.short]
    if connection.vendor == "sqlite":
        if long_terms:
            return (
                "SELECT rowid FROM search_contact_fts WHERE search_contact_fts MATCH %s LIMIT 20",
                [_fts_query(long_terms)],
            )
        return (
            "SELECT id FROM accounts_contact WHERE last_name LIKE %s ESCAPE '\\' LIMIT 20",
            [escape_like(terms[0].text) + "%"],
        )
    if long_terms:
        doc = pg_document(CONTACT.main)
        where = " AND ".join(
            "(" + " OR ".join(f"{doc} LIKE %s" for _ in t.variants) + ")" for t in long_terms
        )
        params = ["%" + escape_like(v) + "%" for t in long_terms for v in t.variants]
        return f"SELECT id FROM accounts_contact WHERE {where} LIMIT 20", params  # noqa: S608
    return (
        "SELECT id FROM accounts_contact WHERE lower(last_name) LIKE %s LIMIT 20",
        [escape_like(terms[0].text) + "%"],
    )


def percentiles(fn: Callable[[str], object], queries: list[str]) -> tuple[float, float]:
    return p50_p95(fn, queries, warm=20)  # warm caches and connections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="queries per kind")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    admin, member = bench_users()
    timings = fill(args.contacts, args.seed)
    rep = typical_rep(member)
    _, secret = api_token_create(user=admin, name="bench")
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    def bare(q: str) -> None:
        sql, params = bare_sql(q)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    def service(user: User) -> Callable[[str], object]:
        return lambda q: search_typeahead(user=user, q=q, types=["contact"], limit=20)

    def api(q: str) -> None:
        response = client.get("/api/search", {"q": q, "limit": 5})
        assert response.status_code == 200, response.content

    db = connection.vendor
    version = (
        connection.cursor().connection.execute("select sqlite_version()").fetchone()[0]
        if db == "sqlite"
        else connection.cursor().connection.info.server_version
    )
    print(f"# search typeahead on {db} {version}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
    print(
        f"contacts {Contact.all_objects.count():,} (emails {ContactEmail.objects.count():,}, "
        f"phones {ContactPhone.objects.count():,}), accounts {Account.all_objects.count():,}, "
        f"leads {Lead.all_objects.count():,}, opportunities {Opportunity.all_objects.count():,}"
    )
    print(f"load average before timing: {os.getloadavg()[0]:.1f}")
    visible = Contact.objects.filter(owner=member).count()
    print(f"member sees {visible:,} contacts; DEBUG={settings.DEBUG}")
    print(f"rep {rep.username} owns {Contact.objects.filter(owner=rep).count():,} contacts")
    for name, value in timings.items():
        print(f"{name}: {value:,.1f}")
    print()
    header = (
        "| queries | bare SQL p50 / p95 | service admin p50 / p95 | service member p50 / p95 "
        "| API 4 types p50 / p95 | p95 service admin / bare | service rep p50 / p95 |"
    )
    print(header)
    print("|" + "---|" * 7)
    for kind, queries in query_sets(args.queries, args.seed).items():
        b = percentiles(bare, queries)
        s_admin = percentiles(service(admin), queries)
        s_member = percentiles(service(member), queries)
        a = percentiles(api, queries)
        s_rep = percentiles(service(rep), queries)
        print(
            f"| {kind} ({len(queries)}) | {b[0]:.2f} / {b[1]:.2f} | {s_admin[0]:.2f} / "
            f"{s_admin[1]:.2f} | {s_member[0]:.2f} / {s_member[1]:.2f} | {a[0]:.2f} / "
            f"{a[1]:.2f} | {s_admin[1] / b[1]:.1f}× | {s_rep[0]:.2f} / {s_rep[1]:.2f} |"
        )
    print(f"load average after timing: {os.getloadavg()[0]:.1f}")
    print(f"\n(ms; {args.queries} queries per kind after a warm-up; LIMIT 20 for the service, "
          "5 per type for the API)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Benchmark per persona (issue 17): typeahead for the admin, a typical sales rep and a user
who sees nothing; the dashboard blocks and the account / home pages for the admin and the
rep. Runs with the code of the current directory, so the same script measures two checkouts
back to back (e.g. main exported with `git archive`, then a branch) on the same data:

    cd <checkout> && DATABASE_URL=postgres://…/rapport_bench1m N=12 \\
        .venv/bin/python <this file> <label> [search,dash,pages]

Prints p50/p95 in ms per row and writes <OUT_DIR, default /tmp/rapport-bench>/res-<label>.json.
Creates the user `bench-lonely` (in a team of its own) when missing. REP=<user id> picks the
rep (default: the first active sales rep with activities).
"""

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from bench.timing import p50_p95 as timed  # noqa: E402
from bench.top_rep import top_rep_id  # noqa: E402
from rapport.accounts.models import Account, Contact  # noqa: E402
from rapport.identity.models import Role, User  # noqa: E402
from rapport.identity.services import team_create, user_create  # noqa: E402
from rapport.search.selectors import search_typeahead  # noqa: E402
from rapport.web import dashboard  # noqa: E402

N = int(os.environ.get("N", "40"))


def query_sets(rng: random.Random) -> dict[str, list[str]]:
    """As bench_search.py: substring, two words, phone fragment, two-letter prefix."""
    top = Contact.objects.order_by("-id").values_list("id", flat=True).first()
    ids = [rng.randint(1, top) for _ in range(N * 3)]
    fields = ("first_name", "last_name", "email", "phone")
    sample = list(Contact.objects.filter(pk__in=ids).values_list(*fields))[:N]
    sets: dict[str, list[str]] = {"substring": [], "two words": [], "phone": [], "prefix": []}
    for first, last, email, number in sample:
        text = rng.choice([first, last, last, email])
        size = rng.randint(3, 5)
        at = rng.randint(0, max(len(text) - size, 0))
        sets["substring"].append(text[at : at + size])
        sets["two words"].append(f"{first[: rng.randint(2, 4)]} {last[: rng.randint(3, 5)]}")
        digits = number.lstrip("+")
        at = rng.randint(1, len(digits) - 7)
        frag = digits[at : at + rng.randint(4, 7)]
        sets["phone"].append(f"{frag[:3]}-{frag[3:]}" if rng.random() < 0.5 else frag)
        sets["prefix"].append(last[:2].lower())
    return sets


CLK = os.sysconf("SC_CLK_TCK")


def backend_cpu() -> float:
    """CPU seconds (utime + stime) of this connection's PostgreSQL backend, from /proc (the
    server runs on this machine); 0 on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def timed_cpu(fn, args) -> tuple[float, float, float, float]:
    """p50 / p95 wall (ms) as `timed`, and the mean CPU per call (ms) of this process and
    of its PostgreSQL backend over the same timed calls: numbers the machine's load does not
    inflate the way it inflates wall time. The three warm-up calls run first, outside both."""
    for a in args[:3]:
        fn(a)
    cpu, db = time.process_time(), backend_cpu()
    p50, p95 = timed(fn, args, warm=0)
    return (
        p50,
        p95,
        (time.process_time() - cpu) * 1000 / len(args),
        (backend_cpu() - db) * 1000 / len(args),
    )


def fresh(user: User) -> User:
    """`user` without what the visibility layer caches on the user object (org defaults,
    managed teams, shared types, typeahead sizes): those live for one request, so each
    timed call pays for them as a request would."""
    for key in [k for k in user.__dict__ if k.startswith("_rapport_")]:
        del user.__dict__[key]
    return user


def admin_and_top_rep() -> tuple[User, User]:
    """The first active admin, and the active sales rep who owns the most contacts (not a
    bench-made user; `REP=<id>` picks another): the search benches' admin and typical rep."""
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    return admin, User.objects.get(pk=int(os.environ.get("REP", top_rep_id())))


def main() -> None:
    label = sys.argv[1]
    sections = sys.argv[2].split(",") if len(sys.argv) > 2 else ["search", "dash", "pages"]
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    reps = User.objects.filter(role=Role.SALES_REP, is_active=True, activities__isnull=False)
    rep = User.objects.get(pk=int(os.environ["REP"])) if "REP" in os.environ else None
    rep = rep or reps.order_by("id").first()
    lonely = User.objects.filter(username="bench-lonely").first() or user_create(
        username="bench-lonely", team=team_create(name="Bench lonely team")
    )
    who = {"admin": admin, "rep": rep, "nobody": lonely}
    owned = Contact.objects.filter(owner=rep).count()
    print(f"# {label}: load {os.getloadavg()[0]:.1f}; rep {rep.username} owns {owned:,} contacts")
    res: dict[str, tuple[float, ...]] = {}
    if "search" in sections:
        for kind, queries in query_sets(random.Random(11)).items():
            for name, user in who.items():
                res[f"typeahead {kind} {name}"] = timed_cpu(
                    lambda q, u=user: search_typeahead(
                        user=fresh(u), q=q, types=["contact"], limit=20
                    ),
                    queries,
                )
    if "dash" in sections:
        blocks = {
            "tasks": dashboard.dashboard_tasks,
            "pipeline": dashboard.pipeline_by_stage,
            "won": dashboard.won_by_month,
            "recent events": dashboard.recent_events,
        }
        for block, fn in blocks.items():
            for name in ("admin", "rep"):
                res[f"KPI {block} {name}"] = timed_cpu(
                    lambda _, f=fn, u=who[name]: f(user=u), list(range(N))
                )
    if "pages" in sections:
        account = Account.objects.filter(owner=rep, contacts__isnull=False).order_by("-id").first()
        for name in ("admin", "rep"):
            client = Client()
            client.force_login(who[name])

            def get(path: str, client: Client = client) -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            res[f"account page {name}"] = timed_cpu(
                lambda _: get(f"/accounts/{account.pk}/"), list(range(N))
            )
            res[f"home page {name}"] = timed_cpu(lambda _: get("/"), list(range(N)))
    for key, (p50, p95, cpu, db) in res.items():
        print(
            f"{label:6} {key:<34} p50 {p50:8.1f}  p95 {p95:8.1f}  "
            f"CPU/call {cpu:7.1f}  PG CPU/call {db:7.1f}"
        )
    print(f"# load after {os.getloadavg()[0]:.1f}")
    out = Path(os.environ.get("OUT_DIR", "/tmp/rapport-bench"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"res-{label}.json").write_text(json.dumps(res))


if __name__ == "__main__":
    main()

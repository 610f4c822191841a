"""Benchmark: importing contacts from a CSV file, against baselines on the same rows.

Builds a fresh database (SQLite in a temporary directory by default, or --database-url),
writes a CSV of N contacts (names, email, phone, company, city, country; a few hundred
companies), then measures:
  - Rapport's import (the same service the task runs: file scan, validation with
    email-validator and phonenumbers, matching on email then phone, bulk writes of the
    contacts, their emails and phones, accounts and one timeline event per record);
  - the same file again (every row matches: the idempotent rerun);
  - a dry run of the file;
  - the baseline: every row the import writes, raw into the same tables (accounts,
    contacts, contact emails and phones, timeline events, lifecycle rows; the search index
    kept by the database, SQLite's FTS triggers or PostgreSQL's indexes) with one prepared
    sqlite3 `executemany` per table (SQLite) or `COPY` (PostgreSQL), parsed from the same
    CSV, without validation or matching;
  - for comparison with earlier runs, the old baseline: the contacts alone into their table;
  - django-import-export on the same file, when it is importable (run this script with
    /tmp/dievenv/bin/python, a venv that adds django-import-export to Rapport's packages).

Prints one table: rows/s, the ratio to the baseline, CPU seconds of this process and (on
PostgreSQL) of its server process, which load on the machine does not inflate, and peak RSS.

    .venv/bin/python bench/bench_import.py --rows 100000
    /tmp/dievenv/bin/python bench/bench_import.py --rows 100000 --die
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Inès", "Jonas"]
LAST = ["Schmidt", "Martin", "García", "Smith", "Rossi", "Dubois", "Müller", "Brown", "Weber"]
CITIES = [("Berlin", "DE"), ("Paris", "FR"), ("London", "GB"), ("Boston", "US")]
# Unique numbers (a shared number would rightly match another row's contact).
PHONES = {
    "DE": "+49 30 {:08d}",
    "FR": "+33 1 {:08d}",
    "GB": "+44 20 7{:07d}",
    "US": "+1 617 {:07d}",
}


def _setup(database_url: str | None, workdir: Path) -> None:
    os.environ.setdefault("RAPPORT_DEV", "1")
    os.environ["TASK_BACKEND"] = "immediate"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["RAPPORT_IMPORT_DIR"] = str(workdir / "imports")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _phone(country: str, i: int) -> str:
    return PHONES[country].format(1_000_000 + i)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    companies = [f"Company {i:04d}" for i in range(max(1, rows // 200))]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["First name", "Last name", "E-mail", "Phone", "Company", "City", "Country"])
        for i in range(rows):
            city, country = rnd.choice(CITIES)
            w.writerow(
                [
                    rnd.choice(FIRST),
                    rnd.choice(LAST),
                    f"person{i}@example{i % 97}.com",
                    _phone(country, i),
                    rnd.choice(companies),
                    city,
                    country,
                ]
            )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """The process's largest resident set while a block runs (sampled every 20 ms)."""

    def __enter__(self):
        import threading

        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        page = resource.getpagesize()
        while not self._stop.is_set():
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page / 1024 / 1024
            self.peak = max(self.peak, rss)
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def rapport_import(path: Path, user, *, dry_run: bool = False, policy: str = "update"):
    from rapport.imports.models import ImportJob
    from rapport.imports.services import import_job_create, import_job_read, import_run
    from rapport.imports.services.files import new_upload_path

    copy = new_upload_path(path.name)
    copy.write_bytes(path.read_bytes())
    job = import_job_create(
        actor=user,
        object_type="contacts",
        path=copy,
        original_name=path.name,
        policy=policy,
        dry_run=dry_run,
        read=False,
    )
    job = import_job_read(job=job)  # the worker's reading of the header
    ImportJob.objects.filter(pk=job.pk).update(queued_at=job.created_at)
    job.refresh_from_db()
    with RssSampler() as rss:
        started = time.perf_counter()
        job = import_run(job=job)
        elapsed = time.perf_counter() - started
    job.peak_rss = rss.peak
    assert job.status == "done", (job.status, job.error)
    return elapsed, job


def baseline_executemany(path: Path, user) -> tuple[float, str]:
    """The same rows into the same contacts table, raw: the floor of any importer."""
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now().isoformat()
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        params = (
            (first, last, email, phone, city, country, now, now, user.pk, user.team_id)
            for first, last, email, phone, _company, city, country in reader
        )
        if connection.vendor == "sqlite":
            sql = (
                "INSERT INTO accounts_contact (first_name, last_name, email, phone, city, "
                "country, created_at, updated_at, owner_id, team_id, version, custom, title, "
                "description, street, region, postal_code) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, '{}', '', '', '', '', '')"
            )
            with transaction.atomic():
                raw = connection.cursor().connection  # the sqlite3 connection itself
                raw.executemany(sql, params)
            label = "sqlite3 executemany"
        else:
            columns = (
                "first_name, last_name, email, phone, city, country, created_at, "
                "updated_at, owner_id, team_id, version, custom, title, description, "
                "street, region, postal_code"
            )
            sql = f"COPY accounts_contact ({columns}) FROM STDIN"
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.cursor.copy(sql) as copy,
            ):
                for p in params:
                    copy.write_row((*p, 1, "{}", "", "", "", "", ""))
            label = "PostgreSQL COPY"
    return time.perf_counter() - started, label


def baseline_same_tables(path: Path, user) -> tuple[float, str]:
    """The baseline: every row the import writes for the file, raw into the same tables
    (accounts for the companies, contacts, their emails and phones, one timeline event per
    new account and contact, the contacts' lifecycle rows), the search index maintained by
    the database as for the import (SQLite: the FTS triggers; PostgreSQL: the trigram and
    phone-digit indexes on those tables); no validation, no matching. PostgreSQL: ids
    reserved from the sequences, then one COPY per table; SQLite: one prepared
    executemany per table."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rapport.accounts.models import Account
    from rapport.imports.services.bulk_sql import BulkInsert

    now = timezone.now()
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        records = [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in reader]
    n = len(records)
    companies = list(dict.fromkeys(r[4] for r in records))

    def accounts_insert() -> list[int]:
        # The few hundred companies (0.5% of the rows): through the import's own COPY /
        # executemany writer, which fills the account table's many defaulted columns.
        return BulkInsert(Account).insert(
            [{"name": name, "owner_id": user.pk, "team_id": user.team_id} for name in companies],
            ids=True,
        )

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            stamp = now.isoformat()
            raw = cursor.cursor

            def next_ids(table: str, count: int) -> range:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
                first = cursor.fetchone()[0] + 1
                return range(first, first + count)

            account_ids = accounts_insert()
            account_of = dict(zip(companies, account_ids, strict=True))
            ids = next_ids("accounts_contact", n)
            raw.executemany(
                "INSERT INTO accounts_contact (id, first_name, last_name, email, phone, city, "
                "country, account_id, created_at, updated_at, owner_id, team_id, version, "
                "custom, title, description, street, region, postal_code) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, '{}', '', '', '', '', '')",
                [
                    (pk, r[0], r[1], r[2], r[3], r[5], r[6], account_of[r[4]], stamp, stamp)
                    + (user.pk, user.team_id)
                    for pk, r in zip(ids, records, strict=True)
                ],
            )
            raw.executemany(
                "INSERT INTO accounts_contactemail (contact_id, email, kind, is_primary) "
                "VALUES (?, ?, 'work', 1)",
                [(pk, r[2]) for pk, r in zip(ids, records, strict=True)],
            )
            raw.executemany(
                "INSERT INTO accounts_contactphone (contact_id, number, kind, is_primary) "
                "VALUES (?, ?, 'work', 1)",
                [(pk, r[3]) for pk, r in zip(ids, records, strict=True)],
            )
            raw.executemany(
                "INSERT INTO timeline_timelineevent (kind, actor_id, occurred_at, summary, "
                "payload, account_id) VALUES ('created', ?, ?, ?, '{}', ?)",
                [
                    (user.pk, stamp, f"Created {name}", pk)
                    for pk, name in zip(account_ids, companies, strict=True)
                ],
            )
            raw.executemany(
                "INSERT INTO timeline_timelineevent (kind, actor_id, occurred_at, summary, "
                "payload, contact_id) VALUES ('created', ?, ?, ?, '{}', ?)",
                [
                    (user.pk, stamp, f"Created {r[0]} {r[1]}", pk)
                    for pk, r in zip(ids, records, strict=True)
                ],
            )
            raw.executemany(
                "INSERT INTO segments_contactlifecycle (contact_id, stage, since) "
                "VALUES (?, 'prospect', ?)",
                [(pk, stamp) for pk in ids],
            )
            label = "sqlite3 executemany"
        else:

            def next_ids(table: str, count: int) -> list[int]:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]

            pg = cursor.cursor
            account_ids = accounts_insert()
            account_of = dict(zip(companies, account_ids, strict=True))
            ids = next_ids("accounts_contact", n)
            columns = (
                "id, first_name, last_name, email, phone, city, country, account_id, "
                "created_at, updated_at, owner_id, team_id, version, custom, title, "
                "description, street, region, postal_code"
            )
            with pg.copy(f"COPY accounts_contact ({columns}) FROM STDIN") as copy:
                for pk, r in zip(ids, records, strict=True):
                    copy.write_row(
                        (pk, r[0], r[1], r[2], r[3], r[5], r[6], account_of[r[4]], now, now)
                        + (user.pk, user.team_id, 1, "{}", "", "", "", "", "")
                    )
            with pg.copy(
                "COPY accounts_contactemail (contact_id, email, kind, is_primary) FROM STDIN"
            ) as copy:
                for pk, r in zip(ids, records, strict=True):
                    copy.write_row((pk, r[2], "work", True))
            with pg.copy(
                "COPY accounts_contactphone (contact_id, number, kind, is_primary) FROM STDIN"
            ) as copy:
                for pk, r in zip(ids, records, strict=True):
                    copy.write_row((pk, r[3], "work", True))
            with pg.copy(
                "COPY timeline_timelineevent (kind, actor_id, occurred_at, summary, payload, "
                "account_id, contact_id) FROM STDIN"
            ) as copy:
                for pk, name in zip(account_ids, companies, strict=True):
                    copy.write_row(("created", user.pk, now, f"Created {name}", "{}", pk, None))
                for pk, r in zip(ids, records, strict=True):
                    copy.write_row(
                        ("created", user.pk, now, f"Created {r[0]} {r[1]}", "{}", None, pk)
                    )
            with pg.copy(
                "COPY segments_contactlifecycle (contact_id, stage, since) FROM STDIN"
            ) as copy:
                for pk in ids:
                    copy.write_row((pk, "prospect", now))
            label = "PostgreSQL COPY"
    return time.perf_counter() - started, label


def die_import(path: Path, user) -> float | None:
    """django-import-export, default settings, matching on email (when installed)."""
    try:
        import tablib
        from import_export import fields, resources
    except ImportError:
        return None
    from rapport.accounts.models import Contact

    class ContactResource(resources.ModelResource):
        email = fields.Field(attribute="email", column_name="E-mail")
        first_name = fields.Field(attribute="first_name", column_name="First name")
        last_name = fields.Field(attribute="last_name", column_name="Last name")
        phone = fields.Field(attribute="phone", column_name="Phone")
        city = fields.Field(attribute="city", column_name="City")
        country = fields.Field(attribute="country", column_name="Country")

        class Meta:
            model = Contact
            import_id_fields = ("email",)
            fields = ("email", "first_name", "last_name", "phone", "city", "country")

        def before_save_instance(self, instance, row, **kwargs):
            instance.owner_id = user.pk
            instance.team_id = user.team_id

    started = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        dataset = tablib.Dataset().load(f.read(), format="csv")
    result = ContactResource().import_data(dataset, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    return time.perf_counter() - started


IMPORTED_TABLES = (
    "accounts_account",
    "accounts_contact",
    "accounts_contactemail",
    "accounts_contactphone",
    "timeline_timelineevent",
    "segments_contactlifecycle",
)


def _droppables() -> list[tuple[str, str, str, str]]:
    """PostgreSQL: (table, name, drop statement, group) of every index and constraint on the
    tables the import writes, primary keys excepted (foreign keys point at them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, c.conname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = t.oid
            WHERE t.relname = ANY(%s) AND NOT x.indisprimary
            ORDER BY 1, 2
            """,
            [list(IMPORTED_TABLES)],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT t.relname, c.conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE t.relname = ANY(%s) AND c.contype = 'f' ORDER BY 1, 2
            """,
            [list(IMPORTED_TABLES)],
        )
        fks = cursor.fetchall()
    columns = {(t, n): d.split(" USING ", 1)[1] for t, n, _c, d in indexes}
    found = []
    for table, index, constraint, definition in indexes:
        using = columns[(table, index)]
        if constraint or " UNIQUE " in definition:
            group = "unique indexes and constraints"
        elif index.startswith("search_") and "trgm" in index:
            group = "search: trigram GIN"
        elif "grams" in index:
            group = "search: phone digit-gram GIN"
        elif index.startswith("search_"):
            group = "search: name-prefix btrees"
        elif "_pattern_ops" in using:
            group = "varchar_pattern_ops (_like) btrees"
        elif (
            using.startswith("btree (")
            and "," not in using
            and any(
                other.startswith(using[:-1] + ",")
                for (t, n), other in columns.items()
                if t == table and n != index
            )
        ):
            group = "one-column btrees another index starts with"
        elif "occurred_at" in using:
            group = "timeline (subject, occurred_at, id) btrees"
        else:
            group = "other btrees"
        drop = (
            f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'
            if constraint
            else f'DROP INDEX "{index}"'
        )
        found.append((table, index, drop, group))
    found += [
        (table, f"FK {name}", f'ALTER TABLE {table} DROP CONSTRAINT "{name}"', "foreign keys")
        for table, name in fks
    ]
    return found


class _Undo(Exception):
    """Ends a measurement's transaction (rolled back)."""


def _baseline_server_cpu(path: Path, user, before: list[str], after: str = "") -> float:
    """PostgreSQL: the server CPU seconds of the COPY baseline (and of `after`) run after the
    statements `before` in a transaction that is then rolled back, foreign-key checks made
    immediate (deferred, they would run at the commit that never comes). The tables are
    vacuumed after it, so no run pays for the dead rows of the ones before (without it the
    later runs of a series grew dearer whatever they changed)."""
    from django.db import connection, transaction

    cpu = CpuMeter()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for sql in before:
                    cursor.execute(sql)
            with cpu.measure():
                baseline_same_tables(path, user)
                if after:
                    with connection.cursor() as cursor:
                        cursor.execute(after)
            raise _Undo()
    except _Undo:
        pass
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(IMPORTED_TABLES)}")
    return cpu.last[1] or 0.0


def index_costs(path: Path, user, rounds: int, only: str = "") -> None:
    """PostgreSQL: what the indexes and constraints of the imported tables cost the COPY
    baseline, in server CPU per imported row, by group (and, with `only`, each object whose
    name or table contains it): the baseline without them against the baseline with them
    (`_baseline_server_cpu`), references and drops alternating; the reference is the median
    of its runs."""
    import statistics

    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in f) - 1

    def run(drops: list[str]) -> float:
        return _baseline_server_cpu(path, user, drops)

    objects = _droppables()
    groups: dict[str, list[str]] = {}
    for _table, _name, drop, group in objects:
        groups.setdefault(group, []).append(drop)
    measured = {f"{group} ({len(drops)})": drops for group, drops in groups.items()}
    if only:
        measured.update(
            {f"{table}.{name}": [drop] for table, name, drop, _g in objects if only in table + name}
        )
    measured["everything above"] = [drop for _t, _n, drop, _g in objects]
    run([])  # warm-up: the first run pays for reading the catalog and the sequences
    reference: list[float] = []
    costs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, drops in measured.items():
            reference.append(run([]))
            costs.setdefault(label, []).append(run(drops))
    ref = statistics.median(reference)
    print(f"\nServer CPU of the COPY baseline, {n:,} contacts, {rounds} round(s)")
    print(
        f"reference (every index and constraint): {ref:.2f} s = {ref / n * 1e6:.0f} µs per "
        f"contact (runs: {', '.join(f'{r:.2f}' for r in reference)})"
    )
    print(f"{'dropped':<60} {'saves s':>8} {'µs/contact':>10} {'share':>6}")
    for label, runs in costs.items():
        saved = ref - statistics.median(runs)
        print(f"{label[:60]:<60} {saved:8.2f} {saved / n * 1e6:10.0f} {saved / ref:6.0%}")
    for table, name, _drop, group in objects:
        print(f"  {group}: {table}.{name}")


def gin_settings(path: Path, user, rounds: int) -> None:
    """PostgreSQL: the COPY baseline's server CPU under other settings of the GIN indexes of
    the imported tables, each in a transaction that is rolled back. Every run ends by
    merging the GIN pending lists (`gin_clean_pending_list`), which fastupdate leaves for a
    later insert, a vacuum or the searches to pay: the settings are compared on the whole
    work, not on the part they postpone (`_baseline_server_cpu`)."""
    import statistics

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = i.relam
            WHERE t.relname = ANY(%s) AND a.amname = 'gin' ORDER BY 1
            """,
            [list(IMPORTED_TABLES)],
        )
        gins = [name for (name,) in cursor.fetchall()]
    variants = {
        "default (fastupdate on, pending list 4 MB)": [],
        "fastupdate off": [f'ALTER INDEX "{g}" SET (fastupdate = off)' for g in gins],
        "pending list 32 MB": [
            f'ALTER INDEX "{g}" SET (gin_pending_list_limit = 32768)' for g in gins
        ],
        "pending list 1 MB": [
            f'ALTER INDEX "{g}" SET (gin_pending_list_limit = 1024)' for g in gins
        ],
    }
    clean = "SELECT " + ", ".join(f"gin_clean_pending_list('\"{g}\"'::regclass)" for g in gins)
    seen: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, statements in variants.items():
            seen[name].append(_baseline_server_cpu(path, user, statements, after=clean))
    print(f"\nServer CPU of the COPY baseline + merging the GIN pending lists ({', '.join(gins)})")
    for name, runs in seen.items():
        print(
            f"{name:<44} {statistics.median(runs):6.2f} s  (runs {', '.join(f'{r:.2f}' for r in runs)})"
        )


class FreshDatabase:
    """Each measurement starts from the same freshly migrated database (SQLite: a copy of
    a template file; PostgreSQL: the imported tables emptied), so none pays for another's
    leftovers (deleted rows weigh on the search index)."""

    def __init__(self, workdir: Path):
        from django.db import connection

        self.vendor = connection.vendor
        self.path = Path(connection.settings_dict["NAME"]) if self.vendor == "sqlite" else None
        self.template = workdir / "template.sqlite3"
        if self.path:
            connection.close()
            shutil.copyfile(self.path, self.template)

    def reset(self) -> None:
        from django.db import connection

        if self.path:
            connection.close()
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, self.path)
            return
        from django.db import connection as db

        tables = (
            "timeline_timelineevent, accounts_contactemail, accounts_contactphone, "
            "accounts_contact_tags, accounts_contact, accounts_account_tags, accounts_account"
        )
        with db.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--die", action="store_true", help="also run django-import-export")
    parser.add_argument(
        "--index-costs",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="PostgreSQL: only measure what each index and constraint costs the COPY baseline",
    )
    parser.add_argument(
        "--only", default="", help="with --index-costs: also each object whose name contains this"
    )
    parser.add_argument(
        "--gin-settings",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="PostgreSQL: only compare GIN index settings on the COPY baseline",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rapport-bench-import-") as tmp:
        workdir = Path(tmp)
        _setup(args.database_url, workdir)
        from django.db import connection

        from rapport.identity.models import User
        from rapport.identity.services import team_create, user_create

        user = User.objects.filter(username="bench").first() or user_create(
            username="bench", team=team_create(name="Bench team"), validate=False
        )
        fresh = FreshDatabase(workdir)
        fresh.reset()
        path = workdir / "contacts.csv"
        write_csv(path, args.rows)
        size_mib = path.stat().st_size / 1024 / 1024
        if args.index_costs:
            index_costs(path, user, args.index_costs, args.only)
            return
        if args.gin_settings:
            gin_settings(path, user, args.gin_settings)
            return
        n = args.rows
        results = []

        cpu = CpuMeter()
        with cpu.measure():
            elapsed, job = rapport_import(path, user, dry_run=True)
        results.append(("Rapport dry run (validate + match, no writes)", elapsed, cpu.last))
        rss_dry = job.peak_rss
        fresh.reset()
        with cpu.measure():
            elapsed, job = rapport_import(path, user)
        assert job.created == n, (job.created, job.failed)
        imported = elapsed
        results.append(("Rapport import (new contacts, emails, phones, events)", elapsed, cpu.last))
        rss_import = job.peak_rss
        with cpu.measure():
            elapsed, job = rapport_import(path, user)
        assert job.unchanged == n and job.created == 0, (job.unchanged, job.created)
        results.append(("Rapport rerun of the same file (every row matches)", elapsed, cpu.last))

        fresh.reset()
        with cpu.measure():
            baseline, label = baseline_same_tables(path, user)
        results.append((f"baseline: {label} into the same tables", baseline, cpu.last))
        fresh.reset()
        with cpu.measure():
            elapsed, label = baseline_executemany(path, user)
        results.append((f"{label} into accounts_contact alone", elapsed, cpu.last))
        die = None
        if args.die:
            fresh.reset()
            with cpu.measure():
                die = die_import(path, user)
            if die is None:
                results.append(("django-import-export: not installed", None, None))
            else:
                results.append(("django-import-export (default, match on email)", die, cpu.last))

        print(f"\nImport of {n:,} contacts ({size_mib:.1f} MiB CSV) on {connection.vendor}")
        print(
            f"{'path':<58} {'seconds':>8} {'rows/s':>9} {'vs baseline':>11} "
            f"{'CPU s client':>12} {'CPU s server':>12}"
        )
        for label, seconds, used in results:
            if seconds is None:
                print(f"{label:<58} {'-':>8} {'-':>9} {'-':>11}")
                continue
            client, server = used
            server_text = "-" if server is None else f"{server:.2f}"
            print(
                f"{label:<58} {seconds:8.2f} {n / seconds:9,.0f} {baseline / seconds:10.0%} "
                f"{client:12.2f} {server_text:>12}"
            )
        print(f"import: {baseline / imported:.0%} of the baseline in wall time", end="")
        cpu_of = {label: used for label, _s, used in results if used is not None}
        imp_cpu = cpu_of.get("Rapport import (new contacts, emails, phones, events)")
        base_cpu = next(used for label, _s, used in results if label.startswith("baseline:"))
        if imp_cpu and base_cpu:
            total = imp_cpu[0] + (imp_cpu[1] or 0)
            base_total = base_cpu[0] + (base_cpu[1] or 0)
            print(f", {base_total / total:.0%} by CPU seconds (client + server)", end="")
        if die:
            print(f", {die / imported:.1f}× django-import-export", end="")
        print()
        die_cpu = cpu_of.get("django-import-export (default, match on email)")
        if die and die_cpu and imp_cpu and base_cpu:
            # Issue 17's ×20: django-import-export writes the contact rows alone, one by one,
            # with the same indexes on them; the baseline writes every row the import writes
            # (emails, phones, events, lifecycle too) at the database's own speed.
            die_total = die_cpu[0] + (die_cpu[1] or 0)
            print(
                f"django-import-export: {die_total:.1f} CPU s (client + server); import "
                f"{die_total / total:.1f}×, the raw baseline {die_total / base_total:.1f}× it "
                f"by CPU ({die / baseline:.1f}× in wall time): ×20 needs the import within "
                f"{die_total / 20:.1f} CPU s, the raw baseline alone takes {base_total:.1f}"
            )
        print(
            "target ≥ 50% of the baseline and ≥ 20× django-import-export (bench/RESULTS.md, "
            "issue 17 import: the indexes' share of the baseline, --index-costs)"
        )
        print(
            f"peak RSS of the process: {rss_dry:.0f} MiB during the dry run, {rss_import:.0f} "
            f"MiB during the import (file {size_mib:.1f} MiB); {peak_rss_mib():.0f} MiB over the "
            "whole benchmark (the baselines hold the file's rows in memory)"
        )


class CpuMeter:
    """CPU seconds of a block: this process (all threads) and, on PostgreSQL, the server
    process of the connection (read from /proc: the bench runs on the database's machine).
    Unlike wall time, these do not grow when other processes take the cores."""

    def __init__(self):
        self.last: tuple[float, float | None] = (0.0, None)

    def _server(self) -> float | None:
        from django.db import connection

        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(self):
        import contextlib

        @contextlib.contextmanager
        def block():
            client, server = time.process_time(), self._server()
            yield
            used = time.process_time() - client
            after = self._server()
            self.last = (used, None if server is None or after is None else after - server)

        return block()


if __name__ == "__main__":
    main()

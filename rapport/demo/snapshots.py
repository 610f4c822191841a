"""Saved copies of a built test database, for tests that need the demo company (test support:
see the `demo_snapshot` fixture in rapport/conftest.py).

Building the demo company through the services takes a minute or more; the tests that only
read it (browser journeys, analytics pages, dashboard queries on generated data) restore a copy
instead, built once per test run and shared by the xdist workers through a file lock:

- SQLite (the in-memory test database): SQLite's online backup API, page for page, in both
  directions (schema, search tables and all);
- PostgreSQL: every table of the schema as binary COPY, restored after a TRUNCATE with the
  triggers off (the rows already carry what the triggers wrote), sequences set past the rows.

Files that belong to the state go with it: the analytics warehouse and the media folder.
A restore replaces the whole database, so only transactional tests (no open transaction
around the test) may use it; their teardown flushes it as usual.
"""

import fcntl
import os
import pickle
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def restore_or_build(folder: Path, build: Callable[[], None]) -> bool:
    """Restore the database (and warehouse, media) saved under `folder`, or run `build` on the
    current database and save the result there. True when it restored."""
    marker = folder / "done"
    with _locked(folder):
        if marker.exists():
            _restore(folder)
            return True
        build()
        folder.mkdir(parents=True, exist_ok=True)
        _save(folder)
        marker.touch()
        return False


def _save(folder: Path) -> None:
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = sqlite3.connect(folder / "db.sqlite3")
        with target:
            connection.connection.backup(target)
        target.close()
    else:
        (folder / "db.pickle").write_bytes(pickle.dumps(_pg_dump()))
    warehouse = Path(settings.RAPPORT_WAREHOUSE_PATH)
    if warehouse.exists():
        shutil.copyfile(warehouse, folder / "warehouse.duckdb")
    if Path(f"{warehouse}.wal").exists():
        shutil.copyfile(f"{warehouse}.wal", folder / "warehouse.duckdb.wal")
    if Path(settings.MEDIA_ROOT).is_dir():
        shutil.copytree(settings.MEDIA_ROOT, folder / "media", dirs_exist_ok=True)


def _restore(folder: Path) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import cache

    connection.ensure_connection()
    if connection.in_atomic_block:
        raise RuntimeError("a snapshot replaces the database: use django_db(transaction=True)")
    if connection.vendor == "sqlite":
        source = sqlite3.connect(folder / "db.sqlite3")
        source.backup(connection.connection)
        source.close()
    else:
        _pg_load(pickle.loads((folder / "db.pickle").read_bytes()))  # noqa: S301 (our own file)
    if (folder / "warehouse.duckdb").exists():
        Path(settings.RAPPORT_WAREHOUSE_PATH).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / "warehouse.duckdb", settings.RAPPORT_WAREHOUSE_PATH)
    if (folder / "warehouse.duckdb.wal").exists():
        shutil.copyfile(folder / "warehouse.duckdb.wal", f"{settings.RAPPORT_WAREHOUSE_PATH}.wal")
    if (folder / "media").is_dir():
        shutil.copytree(folder / "media", settings.MEDIA_ROOT, dirs_exist_ok=True)
    # Ids of the content types may differ from the ones this process has cached.
    ContentType.objects.clear_cache()
    cache.clear()


def _pg_tables(cursor) -> list[str]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        " AND tablename <> 'django_migrations' ORDER BY tablename"
    )
    return [row[0] for row in cursor.fetchall()]


def _pg_dump() -> dict[str, bytes]:
    tables = {}
    with connection.cursor() as cursor:
        for table in _pg_tables(cursor):
            data = bytearray()
            name = connection.ops.quote_name(table)
            with cursor.cursor.copy(f"COPY {name} TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    data += chunk
            tables[table] = bytes(data)
    return tables


SEQUENCES = """
SELECT s.oid::regclass::text, quote_ident(t.relname), quote_ident(a.attname)
FROM pg_class s
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace
"""


def _pg_load(tables: dict[str, bytes]) -> None:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        present = _pg_tables(cursor)
        if sorted(present) != sorted(tables):
            raise RuntimeError("the snapshot's tables are not this database's")
        names = ", ".join(connection.ops.quote_name(t) for t in present)
        cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table, data in tables.items():
            name = connection.ops.quote_name(table)
            with cursor.cursor.copy(f"COPY {name} FROM STDIN (FORMAT binary)") as copy:
                copy.write(data)
        cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute(SEQUENCES)
        for sequence, table, column in cursor.fetchall():
            top = f"(SELECT max({column}) FROM {table})"  # noqa: S608 (names from quote_ident)
            cursor.execute(f"SELECT setval(%s, COALESCE({top}, 1), {top} IS NOT NULL)", [sequence])


def snapshot_root(tmp_path_factory) -> Path:
    """A folder shared by the xdist workers of this run (and only of this run)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return root / "demo-snapshots" / connection.vendor

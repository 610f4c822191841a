"""Writing rows in bulk: sqlite3 executemany or psycopg COPY, chunk by chunk, and the
index and search-index handling around a large load."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

CHUNK = 10_000
HISTORY_DAYS = 3 * 365


class Writer:
    """Appends rows to a table: sqlite3 executemany, or psycopg COPY, one chunk at a time."""

    def __init__(self):
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.raw = connection.connection
        tz = "+00:00" if self.vendor == "postgresql" else ""
        start = timezone.now().date() - datetime.timedelta(days=HISTORY_DAYS)
        # Formatting a timestamp is the hot path: days are formatted once.
        self._days = [
            (start + datetime.timedelta(days=d)).isoformat() for d in range(HISTORY_DAYS + 400)
        ]
        self._tz = tz
        self.counts: dict[str, int] = {}

    def ts(self, day: int, second: int) -> str:
        """A UTC timestamp `day` days after the start of the history, `second` into it."""
        h, rest = divmod(second % 86400, 3600)
        return f"{self._days[day]} {h:02}:{rest // 60:02}:{rest % 60:02}{self._tz}"

    def date(self, day: int) -> str:
        return self._days[day]

    def next_id(self, table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
            return cursor.fetchone()[0] + 1

    def write(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
        extra_columns, extra = _defaults(table, columns)
        columns = (*columns, *extra_columns)
        n = 0
        for chunk in chunks(rows, CHUNK):
            n += len(chunk)
            if extra:
                chunk = [(*row, *extra) for row in chunk]
            if self.vendor == "postgresql":
                cursor = self.raw.cursor()
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                self.raw.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    chunk,
                )
        self.counts[table] = self.counts.get(table, 0) + n
        return n

    def reset_sequence(self, table: str) -> None:
        if self.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )


def _defaults(table: str, columns: tuple[str, ...]) -> tuple[tuple[str, ...], tuple]:
    """The columns of `table` the generator does not write (added since, by another app's
    migration) with the value a model instance would get: its default, NULL or ''."""
    from django.apps import apps

    model = next((m for m in apps.get_models() if m._meta.db_table == table), None)
    if model is None:
        return (), ()
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in columns or f.primary_key:
            continue
        if f.has_default() and f.get_internal_type() == "JSONField":
            value = json.dumps(f.get_default())
        elif f.has_default():
            value = f.get_db_prep_save(f.get_default(), connection)
        elif f.null:
            value = None
        elif f.blank and f.get_internal_type() in ("CharField", "TextField"):
            value = ""
        else:
            raise RuntimeError(f"demo data: {table}.{f.column} needs a value")
        names.append(f.column)
        values.append(value)
    return tuple(names), tuple(values)


def words(names: str) -> tuple[str, ...]:
    return tuple(names.split())


def rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def rebuilt_indexes(tables: list[str]):
    """Drop the secondary indexes (and on PostgreSQL the foreign keys) of `tables`, and
    create them again on the way out: inside the caller's transaction, so a failed load
    leaves the schema as it was."""
    vendor = connection.vendor
    restore: list[str] = []
    with connection.cursor() as cursor:
        if vendor == "postgresql" and tables:
            # Run the checks pending in this transaction: no ALTER TABLE with queued ones.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in tables:
            if vendor == "postgresql":
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f'",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                    restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
                    "AND schemaname = current_schema() AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                    [table, table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'DROP INDEX "{name}"')
                    restore.insert(0, definition)  # indexes before the foreign keys
            else:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL",
                    [table],
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'DROP INDEX "{name}"')
                    restore.append(definition)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for sql in restore:
                cursor.execute(sql)
            if vendor == "postgresql":  # what an index definition does not carry
                from rapport.search.schema import pg_statistics_sql

                for name, sql in pg_statistics_sql():
                    if any(f"INDEX {name} ON " in definition for definition in restore):
                        cursor.execute(sql)


@contextmanager
def search_paused(active: bool):
    """SQLite: drop the FTS tables and triggers during a large load; the search service
    recreates and fills them after (one pass instead of a trigger per row). PostgreSQL's
    trigram indexes are plain indexes, handled by `rebuilt_indexes`."""
    from rapport.search import schema
    from rapport.search.services import search_schema_ensure

    if not active or connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        for sql in schema.sqlite_drop_sql():
            cursor.execute(sql)
    yield
    search_schema_ensure()


# ----- the generator ----------------------------------------------------------------------

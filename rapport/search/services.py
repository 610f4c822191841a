"""Upkeep of the search indexes: repair after table rebuilds, full rebuild, optimize.

Writes to the records keep the indexes current by themselves (triggers on SQLite, index
maintenance on PostgreSQL); these are for what bypasses them.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder

from rapport.search import schema
from rapport.search.indexes import INDEXES, IndexedTable

log = logging.getLogger(__name__)


def _tables(object_types: list[str] | None) -> list[IndexedTable]:
    return [
        t
        for object_type, index in INDEXES.items()
        if not object_types or object_type in object_types
        for t in index.tables
    ]


def _existing(cursor, vendor: str) -> set[str]:
    if vendor == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger', 'index')")
    else:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return {row[0] for row in cursor.fetchall()}


def search_schema_ensure(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Create whatever search object is missing; on SQLite, reindex each table whose FTS
    table or triggers were missing (writes since then were not indexed). Returns the keys of
    the tables repaired."""
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        return []
    with transaction.atomic(using=using), connection.cursor() as cursor:
        existing = _existing(cursor, vendor)
        if vendor == "sqlite":
            broken = [t for t in schema.all_tables() if schema.sqlite_object_names(t) - existing]
            wanted = {name for t in schema.all_tables() for name in schema.sqlite_object_names(t)}
            wanted |= {i.prefix_index(f) for i in INDEXES.values() for f in i.name_fields}
            statements = schema.sqlite_schema_sql()
        else:
            wanted = schema.pg_index_names()
            broken = [t for t in schema.all_tables() if t.trgm_index not in existing]
            # A re-created trigram index also needs its statistics target back (0009).
            statements = schema.pg_schema_sql() + [
                sql for _, sql in schema.pg_trigram_statistics_sql()
            ]
        if not wanted - existing:
            return []
        for sql in statements:
            cursor.execute(sql)
        if vendor == "sqlite":
            for t in broken:
                for sql in schema.sqlite_populate_sql(t):
                    cursor.execute(sql)
    repaired = [t.key for t in broken] or ["prefix indexes"]
    log.warning("search: recreated missing index objects for %s", ", ".join(repaired))
    return repaired


def search_rebuild(
    *, object_types: list[str] | None = None, using: str = DEFAULT_DB_ALIAS
) -> dict[str, int]:
    """Index every row again (after an import that bypassed the triggers, or to compact).
    Returns the number of rows indexed per table."""
    connection = connections[using]
    counts: dict[str, int] = {}
    search_schema_ensure(using=using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for t in _tables(object_types):
            if connection.vendor == "sqlite":
                for sql in schema.sqlite_populate_sql(t):
                    cursor.execute(sql)
            elif connection.vendor == "postgresql":
                cursor.execute(f"REINDEX INDEX {t.trgm_index}")
            cursor.execute(f"SELECT count(*) FROM {t.table}")  # noqa: S608 - names from indexes.py
            counts[t.key] = cursor.fetchone()[0]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for t in _tables(object_types):
                cursor.execute(f"ANALYZE {t.table}")
    return counts


def search_optimize(*, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Merge the index segments left by many small writes (SQLite FTS5 'optimize'; on
    PostgreSQL, flush the GIN pending lists). Returns the indexes optimized."""
    connection = connections[using]
    done: list[str] = []
    with connection.cursor() as cursor:
        for t in schema.all_tables():
            if connection.vendor == "sqlite":
                with transaction.atomic(using=using):
                    cursor.execute(f"INSERT INTO {t.fts}({t.fts}) VALUES ('optimize')")  # noqa: S608
                done.append(t.fts)
            elif connection.vendor == "postgresql":
                for name in [t.trgm_index] + [
                    schema.pg_digits_index(t, c) for c in schema.digits_columns(t)
                ]:
                    cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
                    done.append(name)
    return done


def search_schema_repair_after_migrate(sender, *, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate: once the search migrations are applied, put back the objects that a
    later table rebuild of accounts, leads or sales dropped."""
    applied = MigrationRecorder(connections[using]).applied_migrations()
    if any(app == "search" for app, _ in applied):
        search_schema_ensure(using=using)

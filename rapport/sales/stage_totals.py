"""The triggers that keep `sales_stagetotal` (model `StageTotal`) equal to a recomputation
from `sales_opportunity`, and that recomputation. Installed by migration `sales.0009`;
`install()` is idempotent (it replaces the triggers and refills the table), for a
migration that has to rebuild the opportunity table on SQLite."""

# ruff: noqa: S608 - the only identifiers are the two constant table names below
from django.db import connection as default_connection
from django.db import transaction

OPPORTUNITY = "sales_opportunity"
TOTALS = "sales_stagetotal"

# One row per (stage, currency, probability) that changed, net of the statement's old and
# new rows; statements that change none of those columns (or the amount) write nothing.
# The groups are upserted in key order so that two transactions touching the same groups
# lock them in the same order.
_PG_UPSERT = f"""
    INSERT INTO {TOTALS} (stage_id, currency, probability, count, cents)
    SELECT stage_id, currency, probability, sum(n), sum(c)
    FROM ({{rows}}) AS delta
    GROUP BY stage_id, currency, probability
    HAVING sum(n) <> 0 OR sum(c) <> 0
    ORDER BY stage_id, currency, probability
    ON CONFLICT (stage_id, currency, probability) DO UPDATE
    SET count = {TOTALS}.count + excluded.count, cents = {TOTALS}.cents + excluded.cents
"""
_PG_NEW = (
    "SELECT stage_id, currency, probability, 1 AS n, (amount * 100)::bigint AS c "
    "FROM new_rows WHERE deleted_at IS NULL"
)
_PG_OLD = (
    "SELECT stage_id, currency, probability, -1 AS n, -(amount * 100)::bigint AS c "
    "FROM old_rows WHERE deleted_at IS NULL"
)

PG_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION sales_stagetotal_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN {_PG_UPSERT.format(rows=_PG_NEW)}; RETURN NULL; END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION sales_stagetotal_update() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
    {_PG_UPSERT.format(rows=_PG_NEW + " UNION ALL " + _PG_OLD)}; RETURN NULL; END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION sales_stagetotal_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN {_PG_UPSERT.format(rows=_PG_OLD)}; RETURN NULL; END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION sales_stagetotal_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN DELETE FROM {TOTALS}; RETURN NULL; END $$
    """,
    f"DROP TRIGGER IF EXISTS sales_stagetotal_insert ON {OPPORTUNITY}",
    f"DROP TRIGGER IF EXISTS sales_stagetotal_update ON {OPPORTUNITY}",
    f"DROP TRIGGER IF EXISTS sales_stagetotal_delete ON {OPPORTUNITY}",
    f"DROP TRIGGER IF EXISTS sales_stagetotal_truncate ON {OPPORTUNITY}",
    f"""CREATE TRIGGER sales_stagetotal_insert AFTER INSERT ON {OPPORTUNITY}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sales_stagetotal_insert()""",
    f"""CREATE TRIGGER sales_stagetotal_update AFTER UPDATE ON {OPPORTUNITY}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sales_stagetotal_update()""",
    f"""CREATE TRIGGER sales_stagetotal_delete AFTER DELETE ON {OPPORTUNITY}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sales_stagetotal_delete()""",
    f"""CREATE TRIGGER sales_stagetotal_truncate AFTER TRUNCATE ON {OPPORTUNITY}
    FOR EACH STATEMENT EXECUTE FUNCTION sales_stagetotal_truncate()""",
]

PG_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS sales_stagetotal_{op} ON {OPPORTUNITY}"
    for op in ("insert", "update", "delete", "truncate")
] + [
    f"DROP FUNCTION IF EXISTS sales_stagetotal_{op}()"
    for op in ("insert", "update", "delete", "truncate")
]


def _sqlite_add(row: str, sign: str) -> str:
    # `WHERE` before `ON CONFLICT`: SQLite's documented way to keep the upsert unambiguous.
    return f"""
    INSERT INTO {TOTALS} (stage_id, currency, probability, count, cents)
    SELECT {row}.stage_id, {row}.currency, {row}.probability, {sign}1,
           {sign}CAST(round({row}.amount * 100) AS INTEGER)
    WHERE {row}.deleted_at IS NULL
    ON CONFLICT (stage_id, currency, probability) DO UPDATE
    SET count = count + excluded.count, cents = cents + excluded.cents;
    """


_SQLITE_WATCHED = "stage_id, currency, probability, amount, deleted_at"

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS sales_stagetotal_insert",
    "DROP TRIGGER IF EXISTS sales_stagetotal_update",
    "DROP TRIGGER IF EXISTS sales_stagetotal_delete",
    f"""CREATE TRIGGER sales_stagetotal_insert AFTER INSERT ON {OPPORTUNITY}
    BEGIN {_sqlite_add("NEW", "")} END""",
    f"""CREATE TRIGGER sales_stagetotal_update AFTER UPDATE OF {_SQLITE_WATCHED}
    ON {OPPORTUNITY} BEGIN {_sqlite_add("OLD", "-")} {_sqlite_add("NEW", "")} END""",
    f"""CREATE TRIGGER sales_stagetotal_delete AFTER DELETE ON {OPPORTUNITY}
    BEGIN {_sqlite_add("OLD", "-")} END""",
]

SQLITE_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS sales_stagetotal_{op}" for op in ("insert", "update", "delete")
]

TRIGGERS = {
    "postgresql": {
        "sales_stagetotal_insert",
        "sales_stagetotal_update",
        "sales_stagetotal_delete",
        "sales_stagetotal_truncate",
    },
    "sqlite": {"sales_stagetotal_insert", "sales_stagetotal_update", "sales_stagetotal_delete"},
}

RECOMPUTE = f"""
    SELECT stage_id, currency, probability, count(*), CAST(round(sum(amount) * 100) AS BIGINT)
    FROM {OPPORTUNITY} WHERE deleted_at IS NULL
    GROUP BY stage_id, currency, probability
"""


def recomputed(connection=default_connection) -> dict[tuple, tuple[int, int]]:
    """{(stage_id, currency, probability): (count, cents)} from the opportunities."""
    with connection.cursor() as cursor:
        cursor.execute(RECOMPUTE)
        return {(s, c, p): (int(n), int(cents)) for s, c, p, n, cents in cursor.fetchall()}


def stored(connection=default_connection) -> dict[tuple, tuple[int, int]]:
    """The same from `sales_stagetotal`, without the groups that went back to zero."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT stage_id, currency, probability, count, cents FROM {TOTALS} "
            "WHERE count <> 0 OR cents <> 0"
        )
        return {(s, c, p): (int(n), int(cents)) for s, c, p, n, cents in cursor.fetchall()}


def installed_triggers(connection=default_connection) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [OPPORTUNITY],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [OPPORTUNITY],
            )
        return {name for (name,) in cursor.fetchall() if name.startswith("sales_stagetotal_")}


def refill(connection=default_connection) -> None:
    """The totals recomputed from the opportunities."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TOTALS}")
        cursor.execute(
            f"INSERT INTO {TOTALS} (stage_id, currency, probability, count, cents) {RECOMPUTE}"
        )


def install(connection=default_connection) -> None:
    """(Re)create the triggers and refill the totals from the opportunities."""
    statements = PG_INSTALL if connection.vendor == "postgresql" else SQLITE_INSTALL
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    refill(connection)


def uninstall(connection=default_connection) -> None:
    statements = PG_UNINSTALL if connection.vendor == "postgresql" else SQLITE_UNINSTALL
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def ensure(connection=default_connection) -> bool:
    """Put the triggers back (and refill the totals) when some are missing: Django's SQLite
    schema editor rebuilds a table for many field changes, which drops its triggers. Returns
    whether it had to."""
    if installed_triggers(connection) == TRIGGERS.get(connection.vendor, set()):
        return False
    install(connection)
    return True


def repair_after_migrate(sender, *, using: str = "default", **kwargs) -> None:
    """post_migrate: once `sales.0010` is applied, put back what a later migration of the
    opportunity table dropped. Also sent by `flush` (no `plan` then): on SQLite a flush is
    one `DELETE FROM` per table in no set order, and deleting the opportunities after the
    totals leaves the triggers' negative rows behind; the emptied tables are refilled (on
    PostgreSQL the flush's one TRUNCATE of every table leaves nothing to fix)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    applied = MigrationRecorder(connection).applied_migrations()
    if ("sales", "0010_stage_totals") not in applied:
        return
    with transaction.atomic(using=using):
        if not ensure(connection) and kwargs.get("plan") is None:
            refill(connection)

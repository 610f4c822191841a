"""The SQL of the search indexes, built from indexes.py for each backend.

SQLite: one FTS5 table per indexed table, trigram tokenizer, external content (the
record's table: no second copy of the text), kept in sync by AFTER INSERT/UPDATE/DELETE
triggers; a NOCASE index per name field serves the prefix match of short terms.
PostgreSQL: pg_trgm; a GIN trigram index on one lower() expression concatenating the
columns (queried with the same expression, so the index is used) and a text_pattern_ops
index on lower(name field) for prefixes.

Every statement is idempotent (IF NOT EXISTS / IF EXISTS): the migrations run them once and
`search_schema_ensure` reruns them to put back what a table rebuild dropped. The migration
files hold a frozen copy; a test checks the copy still equals what this module builds.
"""

# ruff: noqa: S608 - identifiers come from indexes.py, never from input; no values here

from rapport.search.indexes import INDEXES, Column, IndexedTable

# Phones are indexed as digits. SQLite has no regexp_replace: remove the usual separators.
_PHONE_SEPARATORS = ("+", " ", "-", "(", ")", ".", "/")


def all_tables() -> list[IndexedTable]:
    return [t for index in INDEXES.values() for t in index.tables]


# ----- SQLite ----------------------------------------------------------------------------


def sqlite_value(column: Column, row: str | None = None) -> str:
    """The value indexed for `column` of `row` (new/old in a trigger, the table if None)."""
    sql = f"{row}.{column.name}" if row else column.name
    if column.digits:
        for sep in _PHONE_SEPARATORS:
            sql = f"replace({sql}, '{sep}', '')"
    return sql


def _sqlite_insert(t: IndexedTable, row: str) -> str:
    names = ", ".join(c.name for c in t.columns)
    values = ", ".join(sqlite_value(c, row) for c in t.columns)
    return f"INSERT INTO {t.fts}(rowid, {names}) VALUES ({row}.id, {values});"


def _sqlite_delete(t: IndexedTable, row: str) -> str:
    # External content: FTS5 removes a row given the exact values it indexed.
    names = ", ".join(c.name for c in t.columns)
    values = ", ".join(sqlite_value(c, row) for c in t.columns)
    return f"INSERT INTO {t.fts}({t.fts}, rowid, {names}) VALUES ('delete', {row}.id, {values});"


def sqlite_table_sql(t: IndexedTable) -> list[str]:
    """The FTS5 table of `t` and the three triggers that keep it in sync."""
    names = ", ".join(c.name for c in t.columns)
    changed = " OR ".join(f"old.{c.name} IS NOT new.{c.name}" for c in t.columns)
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {t.fts} USING fts5({names}, "
        f"content='{t.table}', content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {t.trigger('ai')} AFTER INSERT ON {t.table} "
        f"BEGIN {_sqlite_insert(t, 'new')} END",
        f"CREATE TRIGGER IF NOT EXISTS {t.trigger('ad')} AFTER DELETE ON {t.table} "
        f"BEGIN {_sqlite_delete(t, 'old')} END",
        # Only when an indexed column changes: a version bump or a soft delete costs nothing.
        f"CREATE TRIGGER IF NOT EXISTS {t.trigger('au')} AFTER UPDATE ON {t.table} "
        f"WHEN old.id IS NOT new.id OR {changed} "
        f"BEGIN {_sqlite_delete(t, 'old')} {_sqlite_insert(t, 'new')} END",
    ]


def sqlite_schema_sql() -> list[str]:
    statements: list[str] = []
    for index in INDEXES.values():
        for t in index.tables:
            statements += sqlite_table_sql(t)
        for field in index.name_fields:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index.prefix_index(field)} "
                f"ON {index.main.table} ({field} COLLATE NOCASE)"
            )
    return statements


def sqlite_populate_sql(t: IndexedTable) -> list[str]:
    """Empty the FTS table of `t` and index every row of the table again."""
    names = ", ".join(c.name for c in t.columns)
    values = ", ".join(sqlite_value(c) for c in t.columns)
    return [
        f"INSERT INTO {t.fts}({t.fts}) VALUES ('delete-all')",
        f"INSERT INTO {t.fts}(rowid, {names}) SELECT id, {values} FROM {t.table}",
    ]


def sqlite_drop_sql() -> list[str]:
    statements: list[str] = []
    for index in INDEXES.values():
        for t in index.tables:
            statements += [f"DROP TRIGGER IF EXISTS {t.trigger(e)}" for e in ("ai", "ad", "au")]
            statements.append(f"DROP TABLE IF EXISTS {t.fts}")
        statements += [f"DROP INDEX IF EXISTS {index.prefix_index(f)}" for f in index.name_fields]
    return statements


def sqlite_object_names(t: IndexedTable) -> set[str]:
    """sqlite_master names without which the index of `t` is missing or out of sync."""
    return {t.fts, t.trigger("ai"), t.trigger("ad"), t.trigger("au")}


# ----- PostgreSQL ------------------------------------------------------------------------


def pg_value(column: Column, sql: str | None = None) -> str:
    """The indexed value of `column` (written `sql` in the query, its bare name by default)."""
    sql = sql or column.name
    return f"regexp_replace({sql}, '[^0-9]+', '', 'g')" if column.digits else sql


def pg_document(t: IndexedTable) -> str:
    """The indexed expression of `t`; queries must use exactly this text to use the index."""
    return "lower(" + " || ' ' || ".join(pg_value(c) for c in t.columns) + ")"


# Phone numbers (PostgreSQL): every run of GRAM_MIN..GRAM_MAX consecutive digits of the
# number, each as the integer "1" || digits (the leading 1 keeps "0042" apart from "042"),
# in a GIN array index. "Contains these digits" is then one code for a query of up to
# GRAM_MAX digits, whose numbers are exactly those that contain it; longer queries
# intersect a few codes and check the digits. Digit strings have ten letters, so trigrams
# of digits were shared by most numbers (110,000 index entries read for "2000").
#
# A code of up to BUCKETED digits is also stored as one of BUCKETS negative keys, picked by
# the row's id: -1 - (code * BUCKETS + id % BUCKETS) (migration 0010). A GIN scan builds the
# bitmap of every entry of a key before it returns one row: a code in a tenth of a million
# numbers cost 5 ms a scan, one in all of them 45 ms, and PostgreSQL often took a
# sequential scan instead, computing the function on every row until it had its rows
# (80-540 ms where the matches sat together in the table). A typeahead, which wants any
# `cap` of the matches, now asks the first bucket's key and then the code's
# (matching._table_ids `capped`): a code in more than BUCKETS × `cap` numbers fills the cap
# from 1/BUCKETS of its entries, any other has fewer than BUCKETS × `cap` in all. Lists,
# which want every match, ask the code itself, one key as before. Longer codes are rarer
# (a million numbers hold ~6 of each 6-digit run) and are not bucketed: a bucket key for
# each would be one more index entry for a few rows.
#
# The function is declared costly (COST 1000): with the default cost the planner filtered a
# million rows through it rather than read the index (65 s for a fragment in 10% of the
# numbers, all of them at the end of the table); and PARALLEL
# RESTRICTED: a parallel worker's bitmap scan is not stopped by the LIMIT that has its rows
# (a way of 100 rows waited 0.9 s for a worker reading every bucket).
GRAM_MIN, GRAM_MAX = 4, 7
BUCKETED, BUCKETS = 5, 32
GRAMS_FUNCTION = "rapport_digit_keys"


def pg_grams(sql: str, row_id: str = "id") -> str:
    """The indexed keys (int[]) of the digits expression `sql` of the row whose id is
    `row_id`."""
    return f"{GRAMS_FUNCTION}({sql}, {row_id})"


def pg_first_bucket(code: int) -> int:
    """The key of `code` (of up to BUCKETED digits) in the rows of the first bucket."""
    return -1 - code * BUCKETS


def pg_grams_function_sql() -> str:
    # PL/pgSQL: the loop is ~12 µs a number, the set-based SQL with its bucket keys ~60 (an
    # import computes it for every number twice). Keys may repeat: GIN keeps each once.
    return (
        f"CREATE OR REPLACE FUNCTION {GRAMS_FUNCTION}(digits text, row_id bigint) "
        "RETURNS int[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL RESTRICTED COST 1000 AS $$ "
        f"DECLARE keys int[] := '{{}}'; code int; bucket int := (row_id % {BUCKETS})::int; "
        "BEGIN "
        f"FOR n IN {GRAM_MIN}..{GRAM_MAX} LOOP FOR i IN 1..length(digits) - n + 1 LOOP "
        "code := ('1' || substr(digits, i, n))::int; keys := keys || code; "
        f"IF n <= {BUCKETED} THEN keys := keys || (-1 - (code * {BUCKETS} + bucket)); END IF; "
        "END LOOP; END LOOP; RETURN keys; END $$"
    )


def digits_columns(t: IndexedTable) -> list[Column]:
    return [c for c in t.columns if c.digits]


def pg_digits_index(t: IndexedTable, column: Column) -> str:
    return f"search_{t.key}_{column.name}_grams"


def pg_digits_sql() -> list[str]:
    """The digit n-gram function and a GIN index of the bucketed n-grams of each phone
    column (migration 0010, which replaced 0005's index of the n-grams alone, itself in place
    of 0003's trigram indexes of the digits): a number typed in any format is looked up
    there."""
    statements = [pg_grams_function_sql()]
    statistics = dict(pg_statistics_sql())
    for t in all_tables():
        for c in digits_columns(t):
            name = pg_digits_index(t, c)
            statements += [
                f"CREATE INDEX IF NOT EXISTS {name} ON {t.table} "
                f"USING gin ({pg_grams(pg_value(c))})",
                statistics[name],
            ]
    return statements


def pg_statistics_sql() -> list[tuple[str, str]]:
    """(index, statement) setting the statistics target of the n-gram indexes: most keys
    are rare, and with the default one a key in 11 numbers was estimated at 800 and the
    planner ANDed the owner's whole index range; and of the trigram indexes
    (pg_trigram_statistics_sql). An index dropped and re-created from its definition (the
    bulk loader) loses it: put it back with these."""
    return [
        (name, f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS 1000")
        for name in (pg_digits_index(t, c) for t in all_tables() for c in digits_columns(t))
    ] + pg_trigram_statistics_sql()


def pg_trigram_statistics_sql() -> list[tuple[str, str]]:
    """(index, statement) setting the statistics target of each trigram index's expression
    (migration 0009): PostgreSQL estimates `document LIKE '%eva%'` from that expression's
    histogram, and with the default 100 buckets a word in 0.3–0.6% of the rows hit two of
    them, was estimated at 2%, and the typeahead's `LIMIT` ran as a sequential scan
    through 18,000–70,000 rows (40–100 ms at 1M) instead of the bitmap of its 3,000–6,000
    matches (2–19 ms). With 1,000 buckets the estimates are ten times finer."""
    return [
        (t.trgm_index, f"ALTER INDEX {t.trgm_index} ALTER COLUMN 1 SET STATISTICS 1000")
        for t in all_tables()
    ]


def pg_schema_sql() -> list[str]:
    # The carried-name columns first: the trigram indexes of their tables include them.
    return pg_names_sql() + _pg_base_sql() + pg_digits_sql()


def pg_trgm_index_sql(t: IndexedTable) -> str:
    """The trigram index of `t`: its document, and for rows carrying their record's names
    (pg_names_sql) those names as a second column of the same GIN index, so that "the email
    holds 'woodb' and a name starts with 'an'" is one index scan."""
    columns = f"({pg_document(t)}) gin_trgm_ops"
    if carried_names(t):
        columns += f", ({pg_names_document(t)}) gin_trgm_ops"
    return f"CREATE INDEX IF NOT EXISTS {t.trgm_index} ON {t.table} USING gin ({columns})"


def _pg_base_sql() -> list[str]:
    statements = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]
    for index in INDEXES.values():
        for t in index.tables:
            statements.append(pg_trgm_index_sql(t))
        for field in index.name_fields:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index.prefix_index(field)} "
                f"ON {index.main.table} (lower({field}) text_pattern_ops)"
            )
    return statements


def pg_digits_drop_sql() -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {pg_digits_index(t, c)}"
        for t in all_tables()
        for c in digits_columns(t)
    ] + [f"DROP FUNCTION IF EXISTS {GRAMS_FUNCTION}(text, bigint)"]


def pg_drop_sql() -> list[str]:
    return _pg_base_drop_sql() + pg_digits_drop_sql() + pg_names_drop_sql()


def _pg_base_drop_sql() -> list[str]:
    # The pg_trgm extension stays: other indexes may come to use it.
    statements: list[str] = []
    for index in INDEXES.values():
        statements += [f"DROP INDEX IF EXISTS {t.trgm_index}" for t in index.tables]
        statements += [f"DROP INDEX IF EXISTS {index.prefix_index(f)}" for f in index.name_fields]
    return statements


def pg_index_names() -> set[str]:
    names: set[str] = set()
    for index in INDEXES.values():
        names |= {t.trgm_index for t in index.tables}
        names |= {index.prefix_index(f) for f in index.name_fields}
    names |= {pg_digits_index(t, c) for t in all_tables() for c in digits_columns(t)}
    return names


# ----- PostgreSQL: the record's names on the rows under it ---------------------------------
# A two-word typeahead whose short word starts a name ("an woodb": a name starting with "an",
# "woodb" in an email) asked the contact's names of every email row holding "woodb", one
# primary-key lookup each (2,325 for "woodb" at 1M contacts: 11k buffers, most of the rep's
# slowest queries). The rows under a record (its emails, its phones) carry the record's
# name fields instead, in columns `record_<field>` kept by triggers in the same transaction
# as any write (services, merges, imports' COPY, bulk loaders, raw UPDATEs alike):
# - a row written or moved to another record takes that record's names (BEFORE INSERT OR
#   UPDATE OF the record column); a row written before its record (foreign keys are
#   deferred) gets NULLs, and a deferred trigger fills them at commit;
# - a record renamed passes its new names to its rows (AFTER UPDATE OF the name fields).
# The names are a second column of the rows' trigram index (pg_trgm_index_sql). SQLite has
# none of this (its emails way joins the FTS table).


def carried_names(t: IndexedTable) -> tuple[str, ...]:
    """The name fields of its record that rows of `t` carry (PostgreSQL): those of a table
    of rows under a record (record_column is not the row's id), else none."""
    if t.record_column == "id":
        return ()
    return _owner_index(t).name_fields


def carried_column(field: str) -> str:
    return f"record_{field}"


def pg_names_document(t: IndexedTable, alias: str = "") -> str:
    """The carried names of `t` as one lower-cased text, indexed (pg_trgm_index_sql): every
    name field starts it or follows a space, so a name starting with "an" implies a word of
    it starting with "an" (matching.DocumentWordStarts' reasoning)."""
    prefix = f"{alias}." if alias else ""
    return "lower(" + " || ' ' || ".join(prefix + carried_column(f) for f in carried_names(t)) + ")"


def _owner_index(t: IndexedTable):
    return next(index for index in INDEXES.values() if t in index.tables)


def _carrying_tables() -> list[IndexedTable]:
    return [t for t in all_tables() if carried_names(t)]


def _carrying_by_main() -> dict[IndexedTable, list[IndexedTable]]:
    """The carrying tables under each record table, in all_tables() order."""
    by_main: dict[IndexedTable, list[IndexedTable]] = {}
    for t in _carrying_tables():
        by_main.setdefault(_owner_index(t).main, []).append(t)
    return by_main


def pg_names_sql() -> list[str]:
    """The carried-name columns, the triggers that keep them and nothing else: the index is
    pg_trgm_index_sql's, the first fill pg_names_fill_sql's. Idempotent."""
    statements: list[str] = []
    for t in _carrying_tables():
        main = _owner_index(t).main
        names = carried_names(t)
        columns = [carried_column(f) for f in names]
        found = ", ".join(f"m.{f}" for f in names)
        statements += [
            f"ALTER TABLE {t.table} "
            + ", ".join(f"ADD COLUMN IF NOT EXISTS {c} text" for c in columns),
            f"CREATE OR REPLACE FUNCTION {t.trigger('names')}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN SELECT {found} "
            f"INTO {', '.join('NEW.' + c for c in columns)} FROM {main.table} AS m "
            f"WHERE m.id = NEW.{t.record_column}; RETURN NEW; END $$",
            f"DROP TRIGGER IF EXISTS {t.trigger('names')} ON {t.table}",
            f"CREATE TRIGGER {t.trigger('names')} BEFORE INSERT OR UPDATE OF {t.record_column} "
            f"ON {t.table} FOR EACH ROW EXECUTE FUNCTION {t.trigger('names')}()",
            # Only rows whose record did not exist yet when written: NULL names.
            f"CREATE OR REPLACE FUNCTION {t.trigger('names_later')}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {t.table} SET ({', '.join(columns)}) = "
            f"(SELECT {found} FROM {main.table} AS m WHERE m.id = NEW.{t.record_column}) "
            f"WHERE id = NEW.id; RETURN NULL; END $$",
            f"DROP TRIGGER IF EXISTS {t.trigger('names_later')} ON {t.table}",
            f"CREATE CONSTRAINT TRIGGER {t.trigger('names_later')} AFTER INSERT OR UPDATE OF "
            f"{t.record_column} ON {t.table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"WHEN (NEW.{columns[0]} IS NULL) EXECUTE FUNCTION {t.trigger('names_later')}()",
        ]
    for main, rows in _carrying_by_main().items():
        table = main.table
        names = carried_names(rows[0])
        updates = " ".join(
            f"UPDATE {t.table} SET "
            + ", ".join(f"{carried_column(f)} = NEW.{f}" for f in names)
            + f" WHERE {t.record_column} = NEW.id;"
            for t in rows
        )
        changed = " OR ".join(f"OLD.{f} IS DISTINCT FROM NEW.{f}" for f in names)
        statements += [
            f"CREATE OR REPLACE FUNCTION {main.trigger('names')}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {updates} RETURN NULL; END $$",
            f"DROP TRIGGER IF EXISTS {main.trigger('names')} ON {table}",
            f"CREATE TRIGGER {main.trigger('names')} AFTER UPDATE OF {', '.join(names)} "
            f"ON {table} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION {main.trigger('names')}()",
        ]
    return statements


def pg_names_fill_sql() -> list[str]:
    """Fill the carried names of every row from its record (after pg_names_sql adds the
    columns to a table that has rows)."""
    statements = []
    for t in _carrying_tables():
        main = _owner_index(t).main
        names = carried_names(t)
        statements.append(
            f"UPDATE {t.table} AS r SET "
            + ", ".join(f"{carried_column(f)} = m.{f}" for f in names)
            + f" FROM {main.table} AS m WHERE m.id = r.{t.record_column}"
        )
    return statements


def pg_names_drop_sql() -> list[str]:
    statements: list[str] = []
    for t in _carrying_tables():
        statements += [
            f"DROP TRIGGER IF EXISTS {t.trigger(e)} ON {t.table}" for e in ("names", "names_later")
        ]
        statements += [
            f"DROP FUNCTION IF EXISTS {t.trigger(e)}()" for e in ("names", "names_later")
        ]
        statements.append(
            f"ALTER TABLE {t.table} "
            + ", ".join(f"DROP COLUMN IF EXISTS {carried_column(f)}" for f in carried_names(t))
        )
    for main in _carrying_by_main():
        statements += [
            f"DROP TRIGGER IF EXISTS {main.trigger('names')} ON {main.table}",
            f"DROP FUNCTION IF EXISTS {main.trigger('names')}()",
        ]
    return statements

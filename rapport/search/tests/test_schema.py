"""The index objects: migrations, repair after table rebuilds, rebuild, optimize, index use."""

import importlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from rapport.accounts.models import Contact, ContactEmail
from rapport.accounts.selectors import contact_list
from rapport.search import schema
from rapport.search.matching import search_filter
from rapport.search.services import (
    search_optimize,
    search_schema_ensure,
    search_schema_repair_after_migrate,
)
from rapport.search.tasks import search_optimize_task

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite backend")
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backend")


def found(q) -> set[int]:
    return set(search_filter(Contact.objects.all(), q).values_list("pk", flat=True))


def objects_present() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE 'search\\_%' ESCAPE '\\'"
            )
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'search\\_%'")
        return {row[0] for row in cursor.fetchall()}


def test_the_migration_holds_exactly_the_sql_schema_builds():
    """Changing indexes.py or schema.py needs a new migration (this fails until then)."""
    migration = importlib.import_module("rapport.search.migrations.0001_indexes")
    articles = importlib.import_module("rapport.search.migrations.0004_knowledge_articles")
    assert schema.sqlite_schema_sql() == migration.SQLITE_CREATE + articles.SQLITE_CREATE
    assert schema.sqlite_drop_sql() == migration.SQLITE_DROP + articles.SQLITE_DROP
    assert [schema.sqlite_populate_sql(t)[1] for t in schema.all_tables()] == (
        migration.SQLITE_POPULATE + articles.SQLITE_POPULATE
    )
    # 0010's bucketed n-gram indexes replace 0005's (same names).
    digits = importlib.import_module("rapport.search.migrations.0010_phone_digit_buckets")
    names = importlib.import_module("rapport.search.migrations.0006_record_names")
    fill = importlib.import_module("rapport.search.migrations.0007_record_names_fill")
    names_index = importlib.import_module("rapport.search.migrations.0008_record_names_index")
    # 0008's indexes of the rows carrying names replace 0001's of the same tables.
    replaced = dict(zip(names.OLD_INDEXES, names_index.PG_CREATE, strict=True))
    base = [replaced.get(sql, sql) for sql in migration.PG_CREATE]
    assert schema.pg_schema_sql() == names.PG_CREATE + base + articles.PG_CREATE + digits.PG_CREATE
    assert schema.pg_drop_sql() == (
        migration.PG_DROP + articles.PG_DROP + digits.PG_DROP + names.PG_DROP
    )
    assert schema.pg_names_fill_sql() == fill.PG_FILL
    assert names.OLD_DROP == names_index.PG_DROP
    statistics = importlib.import_module("rapport.search.migrations.0009_trigram_statistics")
    assert [sql for _, sql in schema.pg_trigram_statistics_sql()] == statistics.PG_STATISTICS
    assert {t.table for t in schema.all_tables()} == set(statistics.TABLES)


@pytest.mark.django_db
def test_every_index_object_exists_after_migrate():
    present = objects_present()
    if connection.vendor == "sqlite":
        expected = {n for t in schema.all_tables() for n in schema.sqlite_object_names(t)}
    else:
        expected = schema.pg_index_names()
    assert expected <= present
    assert search_schema_ensure() == []  # nothing to repair


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_table_rebuilt_by_a_later_migration_gets_its_triggers_back(make_contact):
    ada = make_contact(last_name="Lovelace")
    # What Django's SQLite schema editor does for most AlterField/AddField: new table, copy,
    # drop (with its triggers), rename.
    with connection.schema_editor() as editor:
        editor._remake_table(Contact)
    assert "search_contact_ai" not in objects_present()
    byron = make_contact(last_name="Byron")
    assert found("byron") == set()  # not indexed: the trigger is gone
    search_schema_repair_after_migrate(sender=None, using="default")
    assert {"search_contact_ai", "search_contact_last_name_prefix"} <= objects_present()
    assert found("byron") == {byron.pk}
    assert found("lovelace") == {ada.pk}
    later = make_contact(last_name="Babbage")
    assert found("babbage") == {later.pk}


@postgres_only
@pytest.mark.django_db
def test_a_dropped_trigram_index_is_recreated():
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX search_contact_trgm")
    assert "search_contact_trgm" not in objects_present()
    assert search_schema_ensure() == ["contact"]
    assert "search_contact_trgm" in objects_present()
    assert statistics_targets()["search_contact_trgm"] == 1000  # put back (0009)


def statistics_targets() -> dict[str, int]:
    """The statistics target of each search index's expression (-1: the default)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attstattarget FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname LIKE 'search\\_%' AND a.attnum = 1"
        )
        return dict(cursor.fetchall())


@postgres_only
@pytest.mark.django_db
def test_trigram_and_ngram_indexes_have_fine_histograms():
    """Every trigram and n-gram index's expression has 1,000 statistics buckets after
    migrate: the planner picks between the bitmap of a word's matches and a sequential scan
    under the typeahead's LIMIT from them."""
    targets = statistics_targets()
    for name, _ in schema.pg_statistics_sql():
        assert targets[name] == 1000, name
    assert {t.trgm_index for t in schema.all_tables()} <= {n for n, _ in schema.pg_statistics_sql()}


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_reapplies(make_contact):
    ada = make_contact(last_name="Lovelace")
    call_command("migrate", "search", "zero", verbosity=0)
    try:
        assert objects_present() == set()
    finally:
        call_command("migrate", "search", verbosity=0)
    assert found("lovelace") == {ada.pk}  # existing rows indexed by the migration
    assert search_schema_ensure() == []


@pytest.mark.django_db
def test_search_rebuild_indexes_rows_written_behind_the_triggers_back(make_contact):
    ada = make_contact(last_name="Lovelace")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # as if imported with the triggers off
            cursor.execute(
                "INSERT INTO search_contact_fts(search_contact_fts) VALUES ('delete-all')"
            )
        assert found("lovelace") == set()
    out = StringIO()
    call_command("search_rebuild", stdout=out)
    assert "contact: 1 rows indexed" in out.getvalue()
    assert found("lovelace") == {ada.pk}
    out = StringIO()
    call_command("search_rebuild", "--type", "account", stdout=out)
    assert "contact" not in out.getvalue()


@pytest.mark.django_db
def test_search_optimize_command_and_task(make_contact):
    for i in range(5):
        make_contact(last_name=f"Lovelace{i}")
    out = StringIO()
    call_command("search_optimize", stdout=out)
    assert "search_contact" in out.getvalue()
    result = search_optimize_task.enqueue()
    assert result.status == "SUCCESSFUL"
    expected = len(schema.all_tables())
    if connection.vendor == "postgresql":  # and the phone columns' n-gram indexes
        expected += sum(len(schema.digits_columns(t)) for t in schema.all_tables())
    assert len(result.return_value) == expected
    assert len(found("lovelace")) == 5


@pytest.mark.django_db
def test_queries_use_the_indexes(make_contact, personas):
    ada = make_contact(last_name="Lovelace", emails=[{"email": "ada@calc.io"}])
    others = Contact.objects.bulk_create(
        [Contact(owner=ada.owner, last_name=f"Other{i}") for i in range(3000)]
    )
    ContactEmail.objects.bulk_create(
        [ContactEmail(contact=c, email=f"someone{c.pk}@example.com") for c in others]
    )
    search_optimize()  # PostgreSQL: rows still in the GIN pending lists make the index costly
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_contact")
            cursor.execute("ANALYZE accounts_contactemail")

    def plan(qs) -> str:
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + sql, params)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row) for row in cursor.fetchall())

    substring = plan(contact_list(user=personas.admin, q="lovelace"))
    prefix = plan(contact_list(user=personas.admin, q="lo"))
    if connection.vendor == "postgresql":
        assert "search_contact_trgm" in substring
        assert "search_contactemail_trgm" in substring
        assert "search_contact_last_name_prefix" in prefix
    else:
        assert "search_contact_fts VIRTUAL TABLE INDEX" in substring
        assert "search_contactemail_fts VIRTUAL TABLE INDEX" in substring
        assert "search_contact_last_name_prefix" in prefix


@pytest.mark.django_db
def test_dumpdata_leaves_the_index_tables_out(make_contact):
    make_contact(last_name="Lovelace", emails=[{"email": "ada@calc.io"}])
    out = StringIO()
    call_command("dumpdata", "search", stdout=out)
    assert out.getvalue().strip() == "[]"


@pytest.mark.django_db
def test_phone_fragments_use_the_digit_ngram_index(make_contact, personas):
    """PostgreSQL: a phone fragment of 4–7 digits is one key of the n-gram index, a longer
    number a few keys and a check of the digits; SQLite: the FTS5 tables (digits). Found
    through the primary number and through a secondary one, in any format."""
    ada = make_contact(
        last_name="Lovelace", phones=[{"number": "+44 20 7946 0958"}, {"number": "+1 415 555 0199"}]
    )
    Contact.objects.bulk_create(
        [
            Contact(owner=ada.owner, last_name=f"Other{i}", phone=f"+1650253{i:04d}")
            for i in range(3000)
        ]
    )
    search_optimize()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_contact")
            cursor.execute("ANALYZE accounts_contactphone")
    for typed in ("7946", "794-6095", "020 7946 0958", "+44 (0)20 7946 0958", "555 0199"):
        qs = contact_list(user=personas.admin, q=typed)
        assert set(qs.values_list("pk", flat=True)) == {ada.pk}, typed
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")  # a small table
                cursor.execute("EXPLAIN " + sql, params)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(row) for row in cursor.fetchall())
        if connection.vendor == "postgresql":
            assert "search_contact_phone_grams" in plan, (typed, plan)
        else:
            assert "search_contactphone_fts VIRTUAL TABLE INDEX" in plan, (typed, plan)

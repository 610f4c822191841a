"""PostgreSQL: phone numbers are looked up by their digit n-grams (4 to 7 digits, as
integers, in a GIN array index: schema.pg_digits_sql) instead of trigrams of their digits
(0003), which every number shared. SQLite: nothing (FTS5 indexes phones as digits)."""

import importlib

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_digits_sql() / pg_digits_drop_sql() (test_schema checks it).
PG_CREATE = [
    "CREATE OR REPLACE FUNCTION rapport_digit_grams(digits text) RETURNS int[] "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$ "
    "SELECT coalesce(array_agg(DISTINCT ('1' || substr(digits, i, n))::int), '{}') "
    "FROM generate_series(4, 7) AS n, generate_series(1, length(digits) - n + 1) AS i $$",
    "CREATE INDEX IF NOT EXISTS search_contact_phone_grams ON accounts_contact "
    "USING gin (rapport_digit_grams(regexp_replace(phone, '[^0-9]+', '', 'g')))",
    "ALTER INDEX search_contact_phone_grams ALTER COLUMN 1 SET STATISTICS 1000",
    "CREATE INDEX IF NOT EXISTS search_contactphone_number_grams ON accounts_contactphone "
    "USING gin (rapport_digit_grams(regexp_replace(number, '[^0-9]+', '', 'g')))",
    "ALTER INDEX search_contactphone_number_grams ALTER COLUMN 1 SET STATISTICS 1000",
    "CREATE INDEX IF NOT EXISTS search_lead_phone_grams ON leads_lead "
    "USING gin (rapport_digit_grams(regexp_replace(phone, '[^0-9]+', '', 'g')))",
    "ALTER INDEX search_lead_phone_grams ALTER COLUMN 1 SET STATISTICS 1000",
]
PG_DROP = [
    "DROP INDEX IF EXISTS search_contact_phone_grams",
    "DROP INDEX IF EXISTS search_contactphone_number_grams",
    "DROP INDEX IF EXISTS search_lead_phone_grams",
    "DROP FUNCTION IF EXISTS rapport_digit_grams(text)",
]
# 0003's trigram indexes of the digits: replaced (and put back when this is reversed).
_TRIGRAM_DIGITS = importlib.import_module("rapport.search.migrations.0003_phone_digits")


class Migration(migrations.Migration):
    dependencies = [("search", "0004_knowledge_articles")]

    operations = [
        VendorRunSQL("postgresql", _TRIGRAM_DIGITS.PG_DROP, _TRIGRAM_DIGITS.PG_CREATE),
        VendorRunSQL("postgresql", PG_CREATE, PG_DROP),
    ]

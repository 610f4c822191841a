"""PostgreSQL: the phone n-gram indexes also store each code of 4-5 digits as one of 32
keys picked by the row's id (schema.BUCKETS), so that a typeahead reads the first bucket of
a code held by many numbers instead of building the bitmap of all of them (schema.py's
phone comment). Replaces 0005's function and indexes (same index names), then ANALYZE for
the new expressions' statistics.
SQLite: nothing (FTS5 indexes phones as digits).

At a million contacts this rebuilds three GIN indexes over ~2.25M numbers: minutes
(README, maintenance window).
"""

import importlib

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_digits_sql() / pg_digits_drop_sql() (test_schema checks it).
PG_CREATE = [
    "CREATE OR REPLACE FUNCTION rapport_digit_keys(digits text, row_id bigint) "
    "RETURNS int[] LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL RESTRICTED COST 1000 AS $$ "
    "DECLARE keys int[] := '{}'; code int; bucket int := (row_id % 32)::int; "
    "BEGIN "
    "FOR n IN 4..7 LOOP FOR i IN 1..length(digits) - n + 1 LOOP "
    "code := ('1' || substr(digits, i, n))::int; keys := keys || code; "
    "IF n <= 5 THEN keys := keys || (-1 - (code * 32 + bucket)); END IF; "
    "END LOOP; END LOOP; RETURN keys; END $$",
    "CREATE INDEX IF NOT EXISTS search_contact_phone_grams ON accounts_contact "
    "USING gin (rapport_digit_keys(regexp_replace(phone, '[^0-9]+', '', 'g'), id))",
    "ALTER INDEX search_contact_phone_grams ALTER COLUMN 1 SET STATISTICS 1000",
    "CREATE INDEX IF NOT EXISTS search_contactphone_number_grams ON accounts_contactphone "
    "USING gin (rapport_digit_keys(regexp_replace(number, '[^0-9]+', '', 'g'), id))",
    "ALTER INDEX search_contactphone_number_grams ALTER COLUMN 1 SET STATISTICS 1000",
    "CREATE INDEX IF NOT EXISTS search_lead_phone_grams ON leads_lead "
    "USING gin (rapport_digit_keys(regexp_replace(phone, '[^0-9]+', '', 'g'), id))",
    "ALTER INDEX search_lead_phone_grams ALTER COLUMN 1 SET STATISTICS 1000",
]
PG_DROP = [
    "DROP INDEX IF EXISTS search_contact_phone_grams",
    "DROP INDEX IF EXISTS search_contactphone_number_grams",
    "DROP INDEX IF EXISTS search_lead_phone_grams",
    "DROP FUNCTION IF EXISTS rapport_digit_keys(text, bigint)",
]
ANALYZE = [f"ANALYZE {t}" for t in ("accounts_contact", "accounts_contactphone", "leads_lead")]
# 0005's index of the n-grams alone: replaced (and put back when this is reversed).
_UNBUCKETED = importlib.import_module("rapport.search.migrations.0005_phone_digit_grams")


class Migration(migrations.Migration):
    dependencies = [("search", "0009_trigram_statistics")]

    operations = [
        VendorRunSQL("postgresql", _UNBUCKETED.PG_DROP, _UNBUCKETED.PG_CREATE),
        VendorRunSQL("postgresql", PG_CREATE + ANALYZE, PG_DROP),
    ]

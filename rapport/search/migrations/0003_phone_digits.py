"""PostgreSQL: a trigram index on the digits of each phone column alone (schema.pg_digits_sql).
SQLite: nothing (the FTS5 tables already index phones as digits)."""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_digits_sql() / pg_digits_drop_sql() (test_schema checks it).
PG_CREATE = [
    "CREATE INDEX IF NOT EXISTS search_contact_phone_digits ON accounts_contact "
    "USING gin ((regexp_replace(phone, '[^0-9]+', '', 'g')) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_contactphone_number_digits ON accounts_contactphone "
    "USING gin ((regexp_replace(number, '[^0-9]+', '', 'g')) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_lead_phone_digits ON leads_lead "
    "USING gin ((regexp_replace(phone, '[^0-9]+', '', 'g')) gin_trgm_ops)",
]
PG_DROP = [
    "DROP INDEX IF EXISTS search_contact_phone_digits",
    "DROP INDEX IF EXISTS search_contactphone_number_digits",
    "DROP INDEX IF EXISTS search_lead_phone_digits",
]


class Migration(migrations.Migration):
    dependencies = [("search", "0002_fts_documents")]

    operations = [VendorRunSQL("postgresql", PG_CREATE, PG_DROP)]

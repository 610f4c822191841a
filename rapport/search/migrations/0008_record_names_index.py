"""PostgreSQL: the trigram indexes of the email and phone rows again, with the carried names
as a second column (schema.pg_trgm_index_sql)."""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_trgm_index_sql() of the tables carrying names (test_schema).
PG_CREATE = [
    "CREATE INDEX IF NOT EXISTS search_contactemail_trgm ON accounts_contactemail USING gin ((lower(email)) gin_trgm_ops, (lower(record_last_name || ' ' || record_first_name)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_contactphone_trgm ON accounts_contactphone USING gin ((lower(regexp_replace(number, '[^0-9]+', '', 'g'))) gin_trgm_ops, (lower(record_last_name || ' ' || record_first_name)) gin_trgm_ops)",
]
PG_DROP = ['DROP INDEX IF EXISTS search_contactemail_trgm', 'DROP INDEX IF EXISTS search_contactphone_trgm']


class Migration(migrations.Migration):
    dependencies = [("search", "0007_record_names_fill")]

    operations = [VendorRunSQL("postgresql", PG_CREATE, PG_DROP)]

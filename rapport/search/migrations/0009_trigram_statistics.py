"""PostgreSQL: a statistics target of 1,000 on each trigram index's expression
(schema.pg_trigram_statistics_sql), then ANALYZE of the indexed tables, so that the planner
estimates `document LIKE '%…%'` from ten times finer histograms. SQLite: nothing.

After 0008, which made the email and phone rows' trigram indexes again (a re-created index
starts at the default target).
"""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_trigram_statistics_sql() (test_schema checks it).
PG_STATISTICS = [
    "ALTER INDEX search_account_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_contact_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_contactemail_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_contactphone_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_lead_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_opportunity_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX search_article_trgm ALTER COLUMN 1 SET STATISTICS 1000",
]
PG_DEFAULT = [sql.replace("STATISTICS 1000", "STATISTICS -1") for sql in PG_STATISTICS]
# The target is read by the next ANALYZE: without one, a table that changes little would
# keep its old histogram until autovacuum decides to analyze it.
TABLES = [
    "accounts_account",
    "accounts_contact",
    "accounts_contactemail",
    "accounts_contactphone",
    "leads_lead",
    "sales_opportunity",
    "knowledge_article",
]
ANALYZE = [f"ANALYZE {table}" for table in TABLES]


class Migration(migrations.Migration):
    dependencies = [("search", "0008_record_names_index")]

    operations = [VendorRunSQL("postgresql", PG_STATISTICS + ANALYZE, PG_DEFAULT + ANALYZE)]

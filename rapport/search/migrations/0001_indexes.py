"""Search indexes: SQLite FTS5 trigram tables with triggers, PostgreSQL pg_trgm GIN indexes.

The SQL is a frozen copy of what rapport/search/schema.py builds (a test compares them):
change schema.py, then add a migration that drops the old objects and creates the new ones.
"""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_account_fts USING fts5(name, domain, website, city, content='accounts_account', content_rowid='id', tokenize='trigram')",
    'CREATE TRIGGER IF NOT EXISTS search_account_ai AFTER INSERT ON accounts_account BEGIN INSERT INTO search_account_fts(rowid, name, domain, website, city) VALUES (new.id, new.name, new.domain, new.website, new.city); END',
    "CREATE TRIGGER IF NOT EXISTS search_account_ad AFTER DELETE ON accounts_account BEGIN INSERT INTO search_account_fts(search_account_fts, rowid, name, domain, website, city) VALUES ('delete', old.id, old.name, old.domain, old.website, old.city); END",
    "CREATE TRIGGER IF NOT EXISTS search_account_au AFTER UPDATE ON accounts_account WHEN old.id IS NOT new.id OR old.name IS NOT new.name OR old.domain IS NOT new.domain OR old.website IS NOT new.website OR old.city IS NOT new.city BEGIN INSERT INTO search_account_fts(search_account_fts, rowid, name, domain, website, city) VALUES ('delete', old.id, old.name, old.domain, old.website, old.city); INSERT INTO search_account_fts(rowid, name, domain, website, city) VALUES (new.id, new.name, new.domain, new.website, new.city); END",
    'CREATE INDEX IF NOT EXISTS search_account_name_prefix ON accounts_account (name COLLATE NOCASE)',
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_contact_fts USING fts5(first_name, last_name, title, email, phone, content='accounts_contact', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_contact_ai AFTER INSERT ON accounts_contact BEGIN INSERT INTO search_contact_fts(rowid, first_name, last_name, title, email, phone) VALUES (new.id, new.first_name, new.last_name, new.title, new.email, replace(replace(replace(replace(replace(replace(replace(new.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    "CREATE TRIGGER IF NOT EXISTS search_contact_ad AFTER DELETE ON accounts_contact BEGIN INSERT INTO search_contact_fts(search_contact_fts, rowid, first_name, last_name, title, email, phone) VALUES ('delete', old.id, old.first_name, old.last_name, old.title, old.email, replace(replace(replace(replace(replace(replace(replace(old.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    "CREATE TRIGGER IF NOT EXISTS search_contact_au AFTER UPDATE ON accounts_contact WHEN old.id IS NOT new.id OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name OR old.title IS NOT new.title OR old.email IS NOT new.email OR old.phone IS NOT new.phone BEGIN INSERT INTO search_contact_fts(search_contact_fts, rowid, first_name, last_name, title, email, phone) VALUES ('delete', old.id, old.first_name, old.last_name, old.title, old.email, replace(replace(replace(replace(replace(replace(replace(old.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); INSERT INTO search_contact_fts(rowid, first_name, last_name, title, email, phone) VALUES (new.id, new.first_name, new.last_name, new.title, new.email, replace(replace(replace(replace(replace(replace(replace(new.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_contactemail_fts USING fts5(email, content='accounts_contactemail', content_rowid='id', tokenize='trigram')",
    'CREATE TRIGGER IF NOT EXISTS search_contactemail_ai AFTER INSERT ON accounts_contactemail BEGIN INSERT INTO search_contactemail_fts(rowid, email) VALUES (new.id, new.email); END',
    "CREATE TRIGGER IF NOT EXISTS search_contactemail_ad AFTER DELETE ON accounts_contactemail BEGIN INSERT INTO search_contactemail_fts(search_contactemail_fts, rowid, email) VALUES ('delete', old.id, old.email); END",
    "CREATE TRIGGER IF NOT EXISTS search_contactemail_au AFTER UPDATE ON accounts_contactemail WHEN old.id IS NOT new.id OR old.email IS NOT new.email BEGIN INSERT INTO search_contactemail_fts(search_contactemail_fts, rowid, email) VALUES ('delete', old.id, old.email); INSERT INTO search_contactemail_fts(rowid, email) VALUES (new.id, new.email); END",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_contactphone_fts USING fts5(number, content='accounts_contactphone', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_contactphone_ai AFTER INSERT ON accounts_contactphone BEGIN INSERT INTO search_contactphone_fts(rowid, number) VALUES (new.id, replace(replace(replace(replace(replace(replace(replace(new.number, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    "CREATE TRIGGER IF NOT EXISTS search_contactphone_ad AFTER DELETE ON accounts_contactphone BEGIN INSERT INTO search_contactphone_fts(search_contactphone_fts, rowid, number) VALUES ('delete', old.id, replace(replace(replace(replace(replace(replace(replace(old.number, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    "CREATE TRIGGER IF NOT EXISTS search_contactphone_au AFTER UPDATE ON accounts_contactphone WHEN old.id IS NOT new.id OR old.number IS NOT new.number BEGIN INSERT INTO search_contactphone_fts(search_contactphone_fts, rowid, number) VALUES ('delete', old.id, replace(replace(replace(replace(replace(replace(replace(old.number, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); INSERT INTO search_contactphone_fts(rowid, number) VALUES (new.id, replace(replace(replace(replace(replace(replace(replace(new.number, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '')); END",
    'CREATE INDEX IF NOT EXISTS search_contact_last_name_prefix ON accounts_contact (last_name COLLATE NOCASE)',
    'CREATE INDEX IF NOT EXISTS search_contact_first_name_prefix ON accounts_contact (first_name COLLATE NOCASE)',
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_lead_fts USING fts5(first_name, last_name, email, phone, company, content='leads_lead', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_lead_ai AFTER INSERT ON leads_lead BEGIN INSERT INTO search_lead_fts(rowid, first_name, last_name, email, phone, company) VALUES (new.id, new.first_name, new.last_name, new.email, replace(replace(replace(replace(replace(replace(replace(new.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), new.company); END",
    "CREATE TRIGGER IF NOT EXISTS search_lead_ad AFTER DELETE ON leads_lead BEGIN INSERT INTO search_lead_fts(search_lead_fts, rowid, first_name, last_name, email, phone, company) VALUES ('delete', old.id, old.first_name, old.last_name, old.email, replace(replace(replace(replace(replace(replace(replace(old.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), old.company); END",
    "CREATE TRIGGER IF NOT EXISTS search_lead_au AFTER UPDATE ON leads_lead WHEN old.id IS NOT new.id OR old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name OR old.email IS NOT new.email OR old.phone IS NOT new.phone OR old.company IS NOT new.company BEGIN INSERT INTO search_lead_fts(search_lead_fts, rowid, first_name, last_name, email, phone, company) VALUES ('delete', old.id, old.first_name, old.last_name, old.email, replace(replace(replace(replace(replace(replace(replace(old.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), old.company); INSERT INTO search_lead_fts(rowid, first_name, last_name, email, phone, company) VALUES (new.id, new.first_name, new.last_name, new.email, replace(replace(replace(replace(replace(replace(replace(new.phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), new.company); END",
    'CREATE INDEX IF NOT EXISTS search_lead_last_name_prefix ON leads_lead (last_name COLLATE NOCASE)',
    'CREATE INDEX IF NOT EXISTS search_lead_first_name_prefix ON leads_lead (first_name COLLATE NOCASE)',
    'CREATE INDEX IF NOT EXISTS search_lead_company_prefix ON leads_lead (company COLLATE NOCASE)',
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_opportunity_fts USING fts5(name, content='sales_opportunity', content_rowid='id', tokenize='trigram')",
    'CREATE TRIGGER IF NOT EXISTS search_opportunity_ai AFTER INSERT ON sales_opportunity BEGIN INSERT INTO search_opportunity_fts(rowid, name) VALUES (new.id, new.name); END',
    "CREATE TRIGGER IF NOT EXISTS search_opportunity_ad AFTER DELETE ON sales_opportunity BEGIN INSERT INTO search_opportunity_fts(search_opportunity_fts, rowid, name) VALUES ('delete', old.id, old.name); END",
    "CREATE TRIGGER IF NOT EXISTS search_opportunity_au AFTER UPDATE ON sales_opportunity WHEN old.id IS NOT new.id OR old.name IS NOT new.name BEGIN INSERT INTO search_opportunity_fts(search_opportunity_fts, rowid, name) VALUES ('delete', old.id, old.name); INSERT INTO search_opportunity_fts(rowid, name) VALUES (new.id, new.name); END",
    'CREATE INDEX IF NOT EXISTS search_opportunity_name_prefix ON sales_opportunity (name COLLATE NOCASE)',
]

# Index the rows that exist already.
SQLITE_POPULATE = [
    'INSERT INTO search_account_fts(rowid, name, domain, website, city) SELECT id, name, domain, website, city FROM accounts_account',
    "INSERT INTO search_contact_fts(rowid, first_name, last_name, title, email, phone) SELECT id, first_name, last_name, title, email, replace(replace(replace(replace(replace(replace(replace(phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '') FROM accounts_contact",
    'INSERT INTO search_contactemail_fts(rowid, email) SELECT id, email FROM accounts_contactemail',
    "INSERT INTO search_contactphone_fts(rowid, number) SELECT id, replace(replace(replace(replace(replace(replace(replace(number, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', '') FROM accounts_contactphone",
    "INSERT INTO search_lead_fts(rowid, first_name, last_name, email, phone, company) SELECT id, first_name, last_name, email, replace(replace(replace(replace(replace(replace(replace(phone, '+', ''), ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), company FROM leads_lead",
    'INSERT INTO search_opportunity_fts(rowid, name) SELECT id, name FROM sales_opportunity',
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS search_account_ai',
    'DROP TRIGGER IF EXISTS search_account_ad',
    'DROP TRIGGER IF EXISTS search_account_au',
    'DROP TABLE IF EXISTS search_account_fts',
    'DROP INDEX IF EXISTS search_account_name_prefix',
    'DROP TRIGGER IF EXISTS search_contact_ai',
    'DROP TRIGGER IF EXISTS search_contact_ad',
    'DROP TRIGGER IF EXISTS search_contact_au',
    'DROP TABLE IF EXISTS search_contact_fts',
    'DROP TRIGGER IF EXISTS search_contactemail_ai',
    'DROP TRIGGER IF EXISTS search_contactemail_ad',
    'DROP TRIGGER IF EXISTS search_contactemail_au',
    'DROP TABLE IF EXISTS search_contactemail_fts',
    'DROP TRIGGER IF EXISTS search_contactphone_ai',
    'DROP TRIGGER IF EXISTS search_contactphone_ad',
    'DROP TRIGGER IF EXISTS search_contactphone_au',
    'DROP TABLE IF EXISTS search_contactphone_fts',
    'DROP INDEX IF EXISTS search_contact_last_name_prefix',
    'DROP INDEX IF EXISTS search_contact_first_name_prefix',
    'DROP TRIGGER IF EXISTS search_lead_ai',
    'DROP TRIGGER IF EXISTS search_lead_ad',
    'DROP TRIGGER IF EXISTS search_lead_au',
    'DROP TABLE IF EXISTS search_lead_fts',
    'DROP INDEX IF EXISTS search_lead_last_name_prefix',
    'DROP INDEX IF EXISTS search_lead_first_name_prefix',
    'DROP INDEX IF EXISTS search_lead_company_prefix',
    'DROP TRIGGER IF EXISTS search_opportunity_ai',
    'DROP TRIGGER IF EXISTS search_opportunity_ad',
    'DROP TRIGGER IF EXISTS search_opportunity_au',
    'DROP TABLE IF EXISTS search_opportunity_fts',
    'DROP INDEX IF EXISTS search_opportunity_name_prefix',
]

PG_CREATE = [
    'CREATE EXTENSION IF NOT EXISTS pg_trgm',
    "CREATE INDEX IF NOT EXISTS search_account_trgm ON accounts_account USING gin ((lower(name || ' ' || domain || ' ' || website || ' ' || city)) gin_trgm_ops)",
    'CREATE INDEX IF NOT EXISTS search_account_name_prefix ON accounts_account (lower(name) text_pattern_ops)',
    "CREATE INDEX IF NOT EXISTS search_contact_trgm ON accounts_contact USING gin ((lower(first_name || ' ' || last_name || ' ' || title || ' ' || email || ' ' || regexp_replace(phone, '[^0-9]+', '', 'g'))) gin_trgm_ops)",
    'CREATE INDEX IF NOT EXISTS search_contactemail_trgm ON accounts_contactemail USING gin ((lower(email)) gin_trgm_ops)',
    "CREATE INDEX IF NOT EXISTS search_contactphone_trgm ON accounts_contactphone USING gin ((lower(regexp_replace(number, '[^0-9]+', '', 'g'))) gin_trgm_ops)",
    'CREATE INDEX IF NOT EXISTS search_contact_last_name_prefix ON accounts_contact (lower(last_name) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS search_contact_first_name_prefix ON accounts_contact (lower(first_name) text_pattern_ops)',
    "CREATE INDEX IF NOT EXISTS search_lead_trgm ON leads_lead USING gin ((lower(first_name || ' ' || last_name || ' ' || email || ' ' || regexp_replace(phone, '[^0-9]+', '', 'g') || ' ' || company)) gin_trgm_ops)",
    'CREATE INDEX IF NOT EXISTS search_lead_last_name_prefix ON leads_lead (lower(last_name) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS search_lead_first_name_prefix ON leads_lead (lower(first_name) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS search_lead_company_prefix ON leads_lead (lower(company) text_pattern_ops)',
    'CREATE INDEX IF NOT EXISTS search_opportunity_trgm ON sales_opportunity USING gin ((lower(name)) gin_trgm_ops)',
    'CREATE INDEX IF NOT EXISTS search_opportunity_name_prefix ON sales_opportunity (lower(name) text_pattern_ops)',
]

PG_DROP = [
    'DROP INDEX IF EXISTS search_account_trgm',
    'DROP INDEX IF EXISTS search_account_name_prefix',
    'DROP INDEX IF EXISTS search_contact_trgm',
    'DROP INDEX IF EXISTS search_contactemail_trgm',
    'DROP INDEX IF EXISTS search_contactphone_trgm',
    'DROP INDEX IF EXISTS search_contact_last_name_prefix',
    'DROP INDEX IF EXISTS search_contact_first_name_prefix',
    'DROP INDEX IF EXISTS search_lead_trgm',
    'DROP INDEX IF EXISTS search_lead_last_name_prefix',
    'DROP INDEX IF EXISTS search_lead_first_name_prefix',
    'DROP INDEX IF EXISTS search_lead_company_prefix',
    'DROP INDEX IF EXISTS search_opportunity_trgm',
    'DROP INDEX IF EXISTS search_opportunity_name_prefix',
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("leads", "0001_initial"),
        ("sales", "0002_default_pipeline"),
    ]

    operations = [
        VendorRunSQL("sqlite", SQLITE_CREATE + SQLITE_POPULATE, SQLITE_DROP),
        VendorRunSQL("postgresql", PG_CREATE, PG_DROP),
    ]

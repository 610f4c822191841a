"""PostgreSQL: the rows under a contact (its emails, its phones) carry the contact's last and
first name in `record_last_name` / `record_first_name`, kept by triggers (schema.pg_names_sql:
a row written or moved takes its contact's names, a renamed contact passes them on). Their
trigram indexes are rebuilt with the names as a second column (0008) after the names are
filled (0007): a two-word typeahead's "email holds 'woodb', a name starts with 'an'" is then
one index scan instead of a contact lookup per email row. SQLite: nothing."""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# 0001's trigram indexes of the two tables: dropped here, made again with the names in 0008
# (and put back as they were when this is reversed).
OLD_INDEXES = [
    'CREATE INDEX IF NOT EXISTS search_contactemail_trgm ON accounts_contactemail USING gin ((lower(email)) gin_trgm_ops)',
    "CREATE INDEX IF NOT EXISTS search_contactphone_trgm ON accounts_contactphone USING gin ((lower(regexp_replace(number, '[^0-9]+', '', 'g'))) gin_trgm_ops)",
]
OLD_DROP = ['DROP INDEX IF EXISTS search_contactemail_trgm', 'DROP INDEX IF EXISTS search_contactphone_trgm']
# A frozen copy of schema.pg_names_sql() / pg_names_drop_sql() (test_schema checks it).
PG_CREATE = [
    'ALTER TABLE accounts_contactemail ADD COLUMN IF NOT EXISTS record_last_name text, ADD COLUMN IF NOT EXISTS record_first_name text',
    'CREATE OR REPLACE FUNCTION search_contactemail_names() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN SELECT m.last_name, m.first_name INTO NEW.record_last_name, NEW.record_first_name FROM accounts_contact AS m WHERE m.id = NEW.contact_id; RETURN NEW; END $$',
    'DROP TRIGGER IF EXISTS search_contactemail_names ON accounts_contactemail',
    'CREATE TRIGGER search_contactemail_names BEFORE INSERT OR UPDATE OF contact_id ON accounts_contactemail FOR EACH ROW EXECUTE FUNCTION search_contactemail_names()',
    'CREATE OR REPLACE FUNCTION search_contactemail_names_later() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE accounts_contactemail SET (record_last_name, record_first_name) = (SELECT m.last_name, m.first_name FROM accounts_contact AS m WHERE m.id = NEW.contact_id) WHERE id = NEW.id; RETURN NULL; END $$',
    'DROP TRIGGER IF EXISTS search_contactemail_names_later ON accounts_contactemail',
    'CREATE CONSTRAINT TRIGGER search_contactemail_names_later AFTER INSERT OR UPDATE OF contact_id ON accounts_contactemail DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.record_last_name IS NULL) EXECUTE FUNCTION search_contactemail_names_later()',
    'ALTER TABLE accounts_contactphone ADD COLUMN IF NOT EXISTS record_last_name text, ADD COLUMN IF NOT EXISTS record_first_name text',
    'CREATE OR REPLACE FUNCTION search_contactphone_names() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN SELECT m.last_name, m.first_name INTO NEW.record_last_name, NEW.record_first_name FROM accounts_contact AS m WHERE m.id = NEW.contact_id; RETURN NEW; END $$',
    'DROP TRIGGER IF EXISTS search_contactphone_names ON accounts_contactphone',
    'CREATE TRIGGER search_contactphone_names BEFORE INSERT OR UPDATE OF contact_id ON accounts_contactphone FOR EACH ROW EXECUTE FUNCTION search_contactphone_names()',
    'CREATE OR REPLACE FUNCTION search_contactphone_names_later() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE accounts_contactphone SET (record_last_name, record_first_name) = (SELECT m.last_name, m.first_name FROM accounts_contact AS m WHERE m.id = NEW.contact_id) WHERE id = NEW.id; RETURN NULL; END $$',
    'DROP TRIGGER IF EXISTS search_contactphone_names_later ON accounts_contactphone',
    'CREATE CONSTRAINT TRIGGER search_contactphone_names_later AFTER INSERT OR UPDATE OF contact_id ON accounts_contactphone DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.record_last_name IS NULL) EXECUTE FUNCTION search_contactphone_names_later()',
    'CREATE OR REPLACE FUNCTION search_contact_names() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE accounts_contactemail SET record_last_name = NEW.last_name, record_first_name = NEW.first_name WHERE contact_id = NEW.id; UPDATE accounts_contactphone SET record_last_name = NEW.last_name, record_first_name = NEW.first_name WHERE contact_id = NEW.id; RETURN NULL; END $$',
    'DROP TRIGGER IF EXISTS search_contact_names ON accounts_contact',
    'CREATE TRIGGER search_contact_names AFTER UPDATE OF last_name, first_name ON accounts_contact FOR EACH ROW WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name) EXECUTE FUNCTION search_contact_names()',
]
PG_DROP = [
    'DROP TRIGGER IF EXISTS search_contactemail_names ON accounts_contactemail',
    'DROP TRIGGER IF EXISTS search_contactemail_names_later ON accounts_contactemail',
    'DROP FUNCTION IF EXISTS search_contactemail_names()',
    'DROP FUNCTION IF EXISTS search_contactemail_names_later()',
    'ALTER TABLE accounts_contactemail DROP COLUMN IF EXISTS record_last_name, DROP COLUMN IF EXISTS record_first_name',
    'DROP TRIGGER IF EXISTS search_contactphone_names ON accounts_contactphone',
    'DROP TRIGGER IF EXISTS search_contactphone_names_later ON accounts_contactphone',
    'DROP FUNCTION IF EXISTS search_contactphone_names()',
    'DROP FUNCTION IF EXISTS search_contactphone_names_later()',
    'ALTER TABLE accounts_contactphone DROP COLUMN IF EXISTS record_last_name, DROP COLUMN IF EXISTS record_first_name',
    'DROP TRIGGER IF EXISTS search_contact_names ON accounts_contact',
    'DROP FUNCTION IF EXISTS search_contact_names()',
]


class Migration(migrations.Migration):
    dependencies = [("search", "0005_phone_digit_grams")]

    operations = [
        VendorRunSQL("postgresql", OLD_DROP, OLD_INDEXES),
        VendorRunSQL("postgresql", PG_CREATE, PG_DROP),
    ]

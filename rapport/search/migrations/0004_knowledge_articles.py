"""Search index of knowledge-base articles (rapport/search/indexes.py ARTICLE).

A frozen copy of what rapport/search/schema.py builds for the article table (test_schema
compares 0001 + this with the module): SQLite FTS5 table, triggers and title prefix index;
PostgreSQL trigram and prefix indexes.
"""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_article_fts USING fts5(title, body, content='knowledge_article', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS search_article_ai AFTER INSERT ON knowledge_article BEGIN INSERT INTO search_article_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_article_ad AFTER DELETE ON knowledge_article BEGIN INSERT INTO search_article_fts(search_article_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS search_article_au AFTER UPDATE ON knowledge_article WHEN old.id IS NOT new.id OR old.title IS NOT new.title OR old.body IS NOT new.body BEGIN INSERT INTO search_article_fts(search_article_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); INSERT INTO search_article_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE INDEX IF NOT EXISTS search_article_title_prefix ON knowledge_article (title COLLATE NOCASE)",
]

SQLITE_POPULATE = [
    "INSERT INTO search_article_fts(rowid, title, body) SELECT id, title, body FROM knowledge_article"
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_article_ai",
    "DROP TRIGGER IF EXISTS search_article_ad",
    "DROP TRIGGER IF EXISTS search_article_au",
    "DROP TABLE IF EXISTS search_article_fts",
    "DROP INDEX IF EXISTS search_article_title_prefix",
]

PG_CREATE = [
    "CREATE INDEX IF NOT EXISTS search_article_trgm ON knowledge_article USING gin ((lower(title || ' ' || body)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_article_title_prefix ON knowledge_article (lower(title) text_pattern_ops)",
]

PG_DROP = [
    "DROP INDEX IF EXISTS search_article_trgm",
    "DROP INDEX IF EXISTS search_article_title_prefix",
]


class Migration(migrations.Migration):
    dependencies = [("search", "0003_phone_digits"), ("knowledge", "0001_initial")]

    operations = [
        VendorRunSQL("sqlite", SQLITE_CREATE + SQLITE_POPULATE, SQLITE_DROP),
        VendorRunSQL("postgresql", PG_CREATE, PG_DROP),
    ]

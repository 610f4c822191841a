"""Indexes for the segment filters' subqueries at 1M contacts (bench/bench_segments.py).

"Total spend" sums a contact's own orders plus its account's orders that have no contact
(`contact_id IS NULL AND account_id = …`). No index served the second lookup: SQLite
probed the contact index with `contact_id = NULL`, i.e. every account-only order for every
contact tested (quadratic: 3.8 s at 20k contacts), and PostgreSQL read the account index's
heap rows. An index led by (account_id, contact_id), covering the summed columns, makes it a
short index-only range; a partial index (`WHERE contact_id IS NULL`) was smaller, but
SQLite picks it only after an ANALYZE, which nothing runs on a user's database. Plain SQL (same text on both backends) because the orders app owns
the table but only the segment compiler asks this question.
"""

from django.db import migrations

INDEXES = [
    (
        "orders_account_spend_idx",
        "orders_order (account_id, contact_id, status, total)",
    ),
    (
        "activities_contact_kind_idx",
        "activities_activity (contact_id, kind, occurred_at)",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_segments_and_lifecycle"),
        ("orders", "0001_initial"),
        ("activities", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON {definition}",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, definition in INDEXES
    ]

"""Demo data at scale: accounts, contacts (with their emails and phones), leads,
opportunities (with line items and stage histories), orders (with lines) and activities,
written with bulk inserts: `executemany` on SQLite, `COPY` through psycopg on PostgreSQL.

The rows are what the services would have written, without going through them (they take
milliseconds per record; this writes tens of thousands of rows a second):

- every record gets the timeline events its service writes: `created` for accounts,
  contacts, leads and opportunities, `stage_changed` for each later stage move (with a
  StageChange row, as `opportunity_move_stage` writes), `order_placed` for orders and
  `activity_logged` for activities, on the same timelines (a contact's event also carries
  its account, an activity's its records' account);
- the denormalised columns are filled as the services fill them: a contact's primary
  email and phone are also rows of ContactEmail / ContactPhone, an opportunity's amount is
  the sum of its line items and its probability its stage's, an order's total the sum of
  its lines;
- the search indexes stay consistent: on SQLite the FTS5 tables are kept by triggers; a
  large load drops them and the search service rebuilds them at the end
  (`search_schema_ensure`), on PostgreSQL the trigram indexes are dropped and recreated
  with the table's other indexes.

Shortcuts, on purpose: no record versions beyond version 1, no tags, no shares, no
meeting attendees; all records are created by their owner.

Relations are computed, not looked up: ids are allocated from the tables' current maximum,
contact k belongs to account k·A/C, and so on, so memory stays flat whatever the counts
(rows are generated and written in chunks of CHUNK).
"""

from rapport.demo.bulk.build import BulkResult, Counts, bulk_build

__all__ = ["BulkResult", "Counts", "bulk_build"]

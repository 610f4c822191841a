"""The importers' fast inserts and one-parameter key lookups."""

import datetime

from rapport.accounts.models import Account, Contact
from rapport.imports.services.bulk_sql import BulkInsert, pairs_where_in, where_in
from rapport.timeline.models import TimelineEvent


def test_bulk_insert_returns_the_new_ids_in_order_with_defaults_filled(personas):
    ids = BulkInsert(Account).insert(
        [{"name": f"A{i}", "owner_id": personas.owner.pk, "team_id": None} for i in range(1200)],
        ids=True,
    )
    assert len(ids) == 1200
    first = Account.objects.get(pk=ids[0])
    last = Account.objects.get(pk=ids[-1])
    assert (first.name, last.name) == ("A0", "A1199")
    assert (first.currency, first.custom, first.version, first.deleted_at) == ("EUR", {}, 1, None)
    assert first.created_at is not None and first.created_at == first.updated_at


def test_bulk_insert_converts_json_and_datetimes(personas):
    when = datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.UTC)
    BulkInsert(TimelineEvent).insert(
        [{"kind": "created", "occurred_at": when, "payload": {"import": 7}, "summary": "x"}]
    )
    event = TimelineEvent.objects.get()
    assert (event.occurred_at, event.payload) == (when, {"import": 7})


def test_key_lookups_take_thousands_of_values_in_one_parameter(personas):
    ids = BulkInsert(Contact).insert(
        [
            {"last_name": f"L{i}", "email": f"c{i}@x.org", "owner_id": personas.owner.pk}
            for i in range(2500)
        ],
        ids=True,
    )
    assert Contact.objects.filter(where_in("pk", ids[:2000])).count() == 2000
    rows = pairs_where_in(
        f"SELECT email, id FROM {Contact._meta.db_table} WHERE {{where}}",  # noqa: S608
        "email",
        [f"c{i}@x.org" for i in range(0, 2500, 2)] + ["nobody@x.org"],
    )
    assert len(rows) == 1250
    assert pairs_where_in("SELECT 1 WHERE {where}", "x", []) == []


def test_insert_objects_gives_each_instance_its_row_and_pk(personas):
    events = [
        TimelineEvent(
            kind="created", occurred_at=datetime.datetime(2025, 1, 2, tzinfo=datetime.UTC)
        )
        for _ in range(3)
    ]
    events[1].summary, events[1].payload = "second", {"n": 2}
    BulkInsert(TimelineEvent).insert_objects(events)
    assert all(e.pk is not None and not e._state.adding for e in events)
    assert len({e.pk for e in events}) == 3
    stored = TimelineEvent.objects.get(pk=events[1].pk)
    assert (stored.summary, stored.payload, stored.kind) == ("second", {"n": 2}, "created")
    account = Account(name="Objects", owner=personas.owner)
    BulkInsert(Account).insert_objects([account])
    row = Account.objects.get(pk=account.pk)
    assert row.name == "Objects" and row.created_at is not None
    assert account.created_at is not None  # auto_now_add filled on the instance too

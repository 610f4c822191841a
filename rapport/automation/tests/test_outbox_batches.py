"""The outbox under bulk writes: an import batch's trigger events go in with one statement
per batch (outbox.on_timeline_events), and still one row per event a rule listens to, in
the batch's transaction: exactly once, none for what no rule hears, none for a rolled-back
batch."""

import pytest
from django.db import transaction

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import contact_create
from rapport.automation.models import Run, TriggerEvent
from rapport.imports.tests.conftest import csv_bytes
from rapport.timeline.hooks import events_written

pytestmark = pytest.mark.django_db


def _events(event_type: str) -> list[TriggerEvent]:
    """The events the writes themselves caused (the rule's own tag updates, run by the
    immediate task backend after commit, come at depth 1)."""
    return list(TriggerEvent.objects.filter(event_type=event_type, depth=0).order_by("object_id"))


def test_an_import_writes_one_event_per_created_contact_and_none_for_an_updated_one(
    personas, make_rule, upload, run
):
    make_rule()  # contact created → add a tag
    kept = contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "ann@example.org"}]
    )
    before = TriggerEvent.objects.filter(object_id=kept.pk).count()
    data = csv_bytes(
        [
            ["Last name", "Email", "City", "Company"],
            ["Lee", "ann@example.org", "Paris", "Acme"],
            ["Ray", "bob@example.org", "Rome", "Acme"],
            ["Kim", "kim@example.org", "Oslo", "Initech"],
            ["Moe", "moe@example.org", "", ""],
        ]
    )
    job = run(upload(personas.owner, data))
    assert (job.status, job.created, job.updated) == ("done", 3, 1)

    new = sorted(Contact.objects.exclude(pk=kept.pk).values_list("pk", flat=True))
    events = [e for e in _events("record.created") if e.object_id != kept.pk]
    # Once each, about the contact (not the accounts the import made: no rule hears them).
    assert [(e.object_type, e.object_id) for e in events] == [("contact", pk) for pk in new]
    assert Account.objects.count() == 2
    assert {(e.payload["import"], e.actor_id, e.depth, e.caused_by_run_id) for e in events} == {
        (job.pk, personas.owner.pk, 0, None)
    }
    assert TriggerEvent.objects.filter(object_id=kept.pk).count() == before  # updated: none


def test_updated_contacts_of_one_batch_each_carry_their_own_changes(
    personas, make_rule, upload, run
):
    make_rule(trigger_type="record.updated")
    ids = [
        contact_create(
            actor=personas.owner,
            fields={"last_name": name, "city": "Rome"},
            emails=[{"email": f"{name.lower()}@example.org"}],
        ).pk
        for name in ("Lee", "Ray")
    ]
    data = csv_bytes(
        [
            ["Last name", "Email", "City"],
            ["Lee", "lee@example.org", "Paris"],
            ["Ray", "ray@example.org", "Oslo"],
            ["New", "new@example.org", "Lima"],
        ]
    )
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated) == (1, 2)
    events = _events("record.updated")
    assert [(e.object_id, e.payload["changes"]["city"]) for e in events] == [
        (ids[0], {"old": "Rome", "new": "Paris"}),
        (ids[1], {"old": "Rome", "new": "Oslo"}),
    ]


def test_a_dry_run_import_writes_no_event_and_starts_no_run(
    personas, make_rule, upload, run, worker
):
    make_rule()
    data = csv_bytes([["Last name", "Email"], ["Ray", "bob@example.org"], ["Kim", ""]])
    job = run(upload(personas.owner, data, dry_run=True))
    assert (job.status, job.created) == ("done", 2)
    assert not Contact.objects.exists()
    assert not TriggerEvent.objects.exists()
    assert worker() == [] and not Run.objects.exists()


def test_a_rolled_back_batch_leaves_no_event(personas, make_rule):
    make_rule()
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    TriggerEvent.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        events_written(
            [{"kind": "created", "actor_id": None, "payload": {}, "contact_id": contact.pk}]
        )
        assert TriggerEvent.objects.count() == 1  # written in the caller's transaction
        raise RuntimeError("the batch fails")
    assert not TriggerEvent.objects.exists()


def test_events_sharing_one_payload_object_get_the_payload_of_their_own_kind(personas, make_rule):
    """A batch's events often share one payload dict: the outbox builds each (kind, payload)
    once, so an owner change's `changes` never leaks into a plain update's row."""
    make_rule(trigger_type="record.updated", object_type="")
    a = contact_create(actor=personas.owner, fields={"last_name": "A"})
    b = contact_create(actor=personas.owner, fields={"last_name": "B"})
    shared = {"owner": personas.teammate.pk}
    with transaction.atomic():
        events_written(
            [
                {"kind": "owner_changed", "actor_id": None, "payload": shared, "contact_id": a.pk},
                {"kind": "updated", "actor_id": None, "payload": shared, "contact_id": b.pk},
                {"kind": "owner_changed", "actor_id": None, "payload": shared, "contact_id": b.pk},
                {"kind": "created", "actor_id": None, "payload": shared, "contact_id": a.pk},
                {"kind": "updated", "actor_id": None, "payload": None, "account_id": 7},
            ]
        )
    rows = list(
        TriggerEvent.objects.order_by("id").values_list("object_type", "object_id", "payload")
    )
    moved = {"changes": {"owner_id": personas.teammate.pk}}
    assert rows == [
        ("contact", a.pk, moved),
        ("contact", b.pk, shared),
        ("contact", b.pk, moved),
        ("account", 7, {}),
    ]
    assert shared == {"owner": personas.teammate.pk}  # the caller's dict is left alone

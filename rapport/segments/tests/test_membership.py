"""Membership kept current on every write path, the triggers, and the nightly drift repair."""

import datetime

import pytest

from rapport.accounts.models import Contact
from rapport.accounts.services import account_update, contact_create, contact_delete, contact_update
from rapport.automation.models import TriggerEvent
from rapport.automation.tests.conftest import drain
from rapport.imports.tests.conftest import csv_bytes, import_dir, run, upload  # noqa: F401
from rapport.segments import services
from rapport.segments.membership import segments_refresh_all
from rapport.segments.models import Segment, SegmentMember
from rapport.segments.tests.conftest import cond, place
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

pytestmark = pytest.mark.django_db


def members(segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def make(world, tree, name="Seg"):
    return services.segment_create(name=name, actor=world.actor, filter=tree)


def test_a_new_segment_is_filled_at_once_and_counted(world):
    seg = make(world, cond("city", "equals", "Paris"))
    assert members(seg) == {world.ann.pk}
    seg.refresh_from_db()
    assert seg.member_count == 1 and seg.depends_on == ",contact,"


def test_contact_update_through_the_service_enters_and_leaves(world):
    seg = make(world, cond("city", "equals", "Paris"))
    contact_update(contact=world.bob, actor=world.actor, fields={"city": "Paris"})
    assert members(seg) == {world.ann.pk, world.bob.pk}
    contact_update(contact=world.ann, actor=world.actor, fields={"city": "Nice"})
    assert members(seg) == {world.bob.pk}
    seg.refresh_from_db()
    assert seg.member_count == 1


def test_created_and_deleted_contacts(world):
    seg = make(world, cond("orders.count", "equals", "0"))
    assert members(seg) == {world.ann.pk, world.bob.pk, world.cat.pk}
    dan = contact_create(actor=world.actor, fields={"last_name": "Dunn"})
    assert dan.pk in members(seg)
    contact_delete(contact=dan, actor=world.actor)
    assert dan.pk not in members(seg)


def test_account_update_re_evaluates_its_contacts_only(world):
    seg = make(world, cond("account.industry", "equals", "Energy"))
    assert members(seg) == {world.bob.pk}
    account_update(account=world.acme, actor=world.actor, fields={"industry": "Energy"})
    assert members(seg) == {world.ann.pk, world.bob.pk}


def test_an_order_moves_contacts_into_an_order_segment(world):
    seg = make(world, cond("orders.total_spend", "gte", "100"))
    assert members(seg) == set()
    place(world.actor, contact=world.cat, total="150", now=datetime.datetime.now(datetime.UTC))
    assert members(seg) == {world.cat.pk}
    # an order of the account without a contact counts for its contacts
    place(world.actor, account=world.globex, total="120", now=datetime.datetime.now(datetime.UTC))
    assert members(seg) == {world.cat.pk, world.bob.pk}


def test_only_segments_reading_the_topic_are_re_evaluated(world, django_assert_max_num_queries):
    make(world, cond("orders.total_spend", "gte", "100"), name="Spenders")
    city = make(world, cond("city", "equals", "Paris"), name="Paris")
    # Corrupt the Paris segment: a field write elsewhere must not repair (nor read) it...
    SegmentMember.objects.filter(segment=city).delete()
    place(world.actor, contact=world.ann, now=datetime.datetime.now(datetime.UTC))
    assert members(city) == set()
    # ...but a write of a contact field re-evaluates it.
    contact_update(contact=world.ann, actor=world.actor, fields={"title": "Boss"})
    assert members(city) == {world.ann.pk}


def test_the_api_write_path(world, api_as):
    seg = make(world, cond("city", "equals", "Paris"))
    response = api_as(world.actor).patch(f"/api/contacts/{world.cat.pk}", {"city": "Paris"})
    assert response.status_code == 200, response.content
    assert world.cat.pk in members(seg)


def test_the_import_write_path(world, upload, run):  # noqa: F811
    seg = make(world, cond("city", "equals", "Oslo"))
    data = csv_bytes(
        [["First name", "Last name", "Email", "City"], ["Eve", "Eng", "eve@example.org", "Oslo"]]
    )
    job = run(upload(world.actor, data))
    assert job.status == "done"
    eve = Contact.objects.get(email="eve@example.org")
    assert members(seg) == {eve.pk}


def test_an_email_event_re_evaluates_activity_segments(world):
    """A logged email activity re-evaluates activity segments; the mail sync's EMAIL_RECEIVED
    event re-evaluates nothing (no filter reads mail) and changes no membership."""
    seg = make(world, cond("activity.any", "is_not_empty"))
    from rapport.activities.services import activity_log

    activity_log(
        actor=world.actor,
        kind="email",
        fields={"subject": "Re: hi", "occurred_at": datetime.datetime.now(datetime.UTC)},
        links={"contact_id": world.ann.pk},
    )
    assert members(seg) == {world.ann.pk}
    timeline_record(subject=world.ann, kind=EventKind.EMAIL_RECEIVED, summary="mail")
    assert members(seg) == {world.ann.pk}
    from rapport.segments.membership import touched_by

    mail = {"kind": EventKind.EMAIL_RECEIVED, "contact_id": world.ann.pk, "payload": {}}
    topics, lifecycle = touched_by([mail])
    assert not any(topics.values()) and not lifecycle
    logged = {**mail, "kind": "activity_logged", "activity_id": 1}
    assert touched_by([logged])[1] == {world.ann.pk}


def test_entering_and_leaving_emit_the_triggers(world, make_rule):
    make_rule(
        name="Welcome",
        trigger_type="segment.entered",
        object_type="contact",
        actions=[{"type": "add_tag", "params": {"tag": "parisian"}}],
    )
    make_rule(name="Bye", trigger_type="segment.left", object_type="contact")
    seg = make(world, cond("city", "equals", "Paris"))
    contact_update(contact=world.bob, actor=world.actor, fields={"city": "Paris"})
    contact_update(contact=world.ann, actor=world.actor, fields={"city": "Rome"})
    events = list(
        TriggerEvent.objects.filter(event_type__startswith="segment.").values_list(
            "event_type", "object_id", "payload"
        )
    )
    entered = {(t, i) for t, i, p in events if p["segment_id"] == seg.pk}
    assert ("segment.entered", world.ann.pk) in entered
    assert ("segment.entered", world.bob.pk) in entered
    assert ("segment.left", world.ann.pk) in entered
    drain()
    assert "parisian" in {t.name for t in Contact.objects.get(pk=world.bob.pk).tags.all()}


def test_nightly_refresh_repairs_drift_and_reports_it(world):
    seg = make(world, cond("city", "equals", "Paris"))
    SegmentMember.objects.filter(segment=seg).delete()  # lost a row
    SegmentMember.objects.create(
        segment=seg,
        contact=world.cat,
        source="filter",
        added_at=datetime.datetime.now(datetime.UTC),
    )  # and gained a wrong one
    report = segments_refresh_all()
    assert (report["added"], report["removed"], report["fixed"]) == (1, 1, 2)
    assert members(seg) == {world.ann.pk}
    assert Segment.objects.get(pk=seg.pk).member_count == 1
    assert segments_refresh_all()["fixed"] == 0


def test_relative_dates_drift_until_the_nightly_pass(world):
    import time_machine

    now = datetime.datetime.now(datetime.UTC)
    place(world.actor, contact=world.ann, now=now, days_ago=1)
    seg = make(world, cond("orders.ordered_at", "within_days", "7"))
    assert members(seg) == {world.ann.pk}
    with time_machine.travel(now + datetime.timedelta(days=10)):
        assert segments_refresh_all()["removed"] == 1
    assert members(seg) == set()


def test_static_segments_by_hand_by_file_and_by_automation(world, personas, make_rule):
    seg = services.segment_create(name="VIP list", actor=world.actor, kind="static")
    assert (
        services.segment_members_add(segment=seg, contact_ids=[world.ann.pk], actor=world.actor)
        == 1
    )
    # an outsider's contact is never attached through someone else's list
    hidden = contact_create(actor=personas.outsider, fields={"last_name": "Hidden"})
    assert (
        services.segment_members_add(segment=seg, contact_ids=[hidden.pk], actor=world.actor) == 0
    )
    report = services.segment_members_import(
        segment=seg,
        content=b"email\nbob@globex.example.com\nnobody@example.org\n" + str(world.cat.pk).encode(),
        actor=world.actor,
    )
    assert report == {"lines": 4, "matched": 2, "added": 2, "unknown": 2}
    assert members(seg) == {world.ann.pk, world.bob.pk, world.cat.pk}
    assert (
        services.segment_members_remove(segment=seg, contact_ids=[world.bob.pk], actor=world.actor)
        == 1
    )
    # the automation action
    make_rule(
        name="Collect",
        trigger_type="record.created",
        object_type="contact",
        actions=[{"type": "add_to_segment", "params": {"segment_id": seg.pk}}],
    )
    dan = contact_create(actor=world.actor, fields={"last_name": "Dunn"})
    drain()
    assert dan.pk in members(seg)
    # nightly leaves static lists alone
    segments_refresh_all()
    assert dan.pk in members(seg)


def test_static_only_operations_refuse_dynamic_segments(world):
    from django.core.exceptions import ValidationError

    seg = make(world, cond("city", "equals", "Paris"))
    with pytest.raises(ValidationError) as exc:
        services.segment_members_add(segment=seg, contact_ids=[world.bob.pk], actor=world.actor)
    assert "segment_id" in exc.value.message_dict

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.services import (
    activity_complete,
    activity_delete,
    activity_log,
    activity_reopen,
    activity_update,
)
from rapport.activities.tests.conftest import AT
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.services import record_share
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def _fields(err) -> set[str]:
    return set(err.value.message_dict)


def _events(kind=None, **filters):
    qs = TimelineEvent.objects.filter(**filters)
    return qs.filter(kind=kind) if kind else qs


def test_logged_activity_lands_on_every_linked_timeline(
    log, personas, account, contact, lead, opportunity
):
    activity = log(
        "call",
        account_id=account.pk,
        contact_id=contact.pk,
        lead_id=lead.pk,
        opportunity_id=opportunity.pk,
        subject="Intro",
        direction="outbound",
        duration_seconds=90,
        outcome="connected",
        occurred_at=AT,
    )
    event = TimelineEvent.objects.get(kind=EventKind.ACTIVITY_LOGGED)
    assert (event.account_id, event.contact_id, event.lead_id, event.opportunity_id) == (
        account.pk,
        contact.pk,
        lead.pk,
        opportunity.pk,
    )
    assert event.activity_id == activity.pk
    assert event.occurred_at == AT
    assert event.summary == "Call: Intro"
    assert (activity.owner, activity.created_by) == (personas.owner, personas.owner)


def test_contact_activity_also_shows_on_the_contacts_account(log, contact, account):
    log("note", contact_id=contact.pk)
    event = TimelineEvent.objects.get(kind=EventKind.ACTIVITY_LOGGED)
    assert (event.account_id, event.contact_id) == (account.pk, contact.pk)


def test_planned_activity_is_logged_now_not_in_the_future(log, account):
    later = timezone.now() + datetime.timedelta(days=7)
    activity = log("task", account_id=account.pk, due_at=later)
    assert activity.occurred_at == later  # a task happens when it is due
    event = TimelineEvent.objects.get(kind=EventKind.ACTIVITY_LOGGED)
    assert event.occurred_at <= timezone.now()


def test_personal_task_needs_no_link_but_other_kinds_do(log, personas):
    task = log("task", subject="Call mum")
    assert (task.account_id, task.owner) == (None, personas.owner)
    assert not TimelineEvent.objects.filter(account__isnull=False).exists()
    with pytest.raises(ValidationError) as err:
        log("call")
    assert _fields(err) == {"account_id"}
    with pytest.raises(ValidationError) as err:
        log("task", owner=personas.teammate)
    assert _fields(err) == {"owner_id"}


@pytest.mark.parametrize(
    ("kind", "fields", "bad"),
    [
        ("note", {"body": "  "}, "body"),
        ("interaction", {"channel": None}, "channel"),
        ("meeting", {"starts_at": None}, "starts_at"),
        ("meeting", {"starts_at": AT, "ends_at": AT}, "ends_at"),
        ("meeting", {"starts_at": AT, "ends_at": AT - datetime.timedelta(hours=1)}, "ends_at"),
        ("call", {"due_at": AT}, "due_at"),
        ("task", {"duration_seconds": 30}, "duration_seconds"),
        ("note", {"channel": "sms"}, "channel"),
        ("email", {"location": "Room 1"}, "location"),
        ("call", {"attendee_user_ids": [1]}, "attendee_user_ids"),
    ],
)
def test_kind_rules(log, account, kind, fields, bad):
    with pytest.raises(ValidationError) as err:
        log(kind, account_id=account.pk, **fields)
    assert bad in _fields(err)
    assert not Activity.objects.exists()


def test_meeting_takes_its_time_from_the_start_and_keeps_attendees(log, personas, account, contact):
    start = AT + datetime.timedelta(days=1)
    meeting = log(
        "meeting",
        account_id=account.pk,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
        occurred_at=AT,
        attendee_contact_ids=[contact.pk, contact.pk],
        attendee_user_ids=[personas.teammate.pk],
    )
    assert meeting.occurred_at == start
    assert list(meeting.attendee_contacts.values_list("pk", flat=True)) == [contact.pk]
    assert list(meeting.attendee_users.all()) == [personas.teammate]


def test_attendees_must_be_visible_contacts_and_active_users(
    log, personas, account, outsider_contact
):
    with pytest.raises(ValidationError) as err:
        log(
            "meeting",
            account_id=account.pk,
            attendee_contact_ids=[outsider_contact.pk],
            attendee_user_ids=[personas.deactivated.pk],
        )
    assert _fields(err) == {"attendee_contact_ids", "attendee_user_ids"}


def test_linked_records_must_be_visible_and_changeable(log, personas, contact, lead):
    with pytest.raises(ValidationError) as err:
        log("call", actor=personas.outsider, contact_id=contact.pk, lead_id=lead.pk)
    assert _fields(err) == {"contact_id", "lead_id"}
    record_share(record=contact, actor=personas.owner, user=personas.outsider, access="read")
    with pytest.raises(PermissionDenied):
        log("call", actor=personas.outsider, contact_id=contact.pk)
    record_share(record=contact, actor=personas.owner, user=personas.outsider, access="edit")
    assert log("call", actor=personas.outsider, contact_id=contact.pk).owner == personas.outsider


def test_read_only_users_never_log(log, personas, contact):
    record_share(record=contact, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        log("note", actor=personas.reader, contact_id=contact.pk)
    with pytest.raises(PermissionDenied):
        log("task", actor=personas.reader)


def test_interaction_external_id_is_idempotent(personas, contact):
    def send():
        return activity_log(
            actor=personas.owner,
            kind="interaction",
            fields={"channel": "ivr", "subject": "Menu 3"},
            links={"contact_id": contact.pk},
            external_id="ivr-42",
        )

    first, created = send()
    again, created_again = send()
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Activity.objects.count() == 1
    assert _events(EventKind.ACTIVITY_LOGGED).count() == 1


def test_external_id_of_an_activity_the_actor_cannot_see_neither_collides_nor_attaches(
    log, personas, contact, outsider_contact
):
    mine = log("interaction", contact_id=contact.pk, external_id="chat-1")
    theirs = log(
        "interaction",
        actor=personas.outsider,
        contact_id=outsider_contact.pk,
        external_id="chat-1",
    )
    assert theirs.pk != mine.pk and theirs.contact_id == outsider_contact.pk
    mine.refresh_from_db()
    assert (mine.contact_id, mine.owner_id) == (contact.pk, personas.owner.pk)


def test_ones_own_activity_out_of_sight_since_is_a_conflict_about_ones_own_write(
    log, personas, contact, outsider_contact
):
    from rapport.activities.models import Activity

    log("interaction", contact_id=contact.pk, external_id="chat-2")
    # Moved to another person's private contact since (as a transfer would).
    Activity.objects.filter(external_id="chat-2").update(
        contact=outsider_contact, owner=personas.outsider
    )
    with pytest.raises(Conflict, match="no longer visible to you"):
        log("interaction", contact_id=contact.pk, external_id="chat-2")


def test_racing_identical_interactions_create_one(personas, contact):
    """Another request stores the same external id between our look-up and our insert."""
    state = {"rival": None}

    def rival_after_lookup(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if (
            state["rival"] is None
            and sql.lstrip().upper().startswith("SELECT")
            and ('"external_id"' in sql)
        ):
            state["rival"] = Activity.objects.create(  # the same writer racing itself
                kind="interaction",
                channel="web",
                owner=personas.owner,
                created_by=personas.owner,
                contact=contact,
                occurred_at=AT,
                external_id="web-7",
            )
        return result

    with connection.execute_wrapper(rival_after_lookup):
        activity, created = activity_log(
            actor=personas.owner,
            kind="interaction",
            fields={"channel": "web"},
            links={"contact_id": contact.pk},
            external_id="web-7",
        )
    assert state["rival"] is not None
    assert (activity.pk, created) == (state["rival"].pk, False)
    assert Activity.objects.count() == 1
    assert not _events(EventKind.ACTIVITY_LOGGED).exists()


def test_update_is_versioned_and_logged(log, personas, contact):
    call = log("call", contact_id=contact.pk, subject="Hi")
    diff = activity_update(
        activity=call,
        actor=personas.owner,
        fields={"subject": "Hello", "outcome": "voicemail"},
        expected_version=1,
    )
    assert set(diff) == {"subject", "outcome"}
    call.refresh_from_db()
    assert (call.subject, call.version) == ("Hello", 2)
    event = _events(EventKind.ACTIVITY_UPDATED).get()
    assert event.contact_id == contact.pk
    assert event.payload["changes"]["subject"] == {"old": "Hi", "new": "Hello"}
    with pytest.raises(StaleVersion):
        activity_update(
            activity=call, actor=personas.owner, fields={"subject": "X"}, expected_version=1
        )


def test_update_keeps_kind_rules(log, personas, account):
    meeting = log("meeting", account_id=account.pk, ends_at=AT + datetime.timedelta(hours=1))
    with pytest.raises(ValidationError) as err:
        activity_update(
            activity=meeting,
            actor=personas.owner,
            fields={"starts_at": AT + datetime.timedelta(hours=2)},
        )
    assert _fields(err) == {"ends_at"}
    note = log("note", account_id=account.pk)
    with pytest.raises(ValidationError) as err:
        activity_update(activity=note, actor=personas.owner, fields={"body": None})
    assert _fields(err) == {"body"}
    with pytest.raises(ValidationError) as err:
        activity_update(activity=note, actor=personas.owner, fields={}, links={"account_id": None})
    assert _fields(err) == {"account_id"}


def test_moving_a_meeting_moves_its_time_and_attendee_change_bumps_version(
    log, personas, account, contact
):
    meeting = log("meeting", account_id=account.pk)
    later = AT + datetime.timedelta(days=3)
    activity_update(activity=meeting, actor=personas.owner, fields={"starts_at": later})
    assert meeting.occurred_at == later
    activity_update(activity=meeting, actor=personas.owner, fields={"occurred_at": AT})
    assert meeting.occurred_at == later
    meeting.refresh_from_db()
    assert meeting.version == 2
    diff = activity_update(
        activity=meeting, actor=personas.owner, fields={}, attendee_contact_ids=[contact.pk]
    )
    assert diff == {"attendee_contact_ids": {"old": [], "new": [contact.pk]}}
    meeting.refresh_from_db()
    assert meeting.version == 3


def test_new_links_need_rights_and_the_activity_needs_edit_rights(
    log, personas, contact, outsider_contact
):
    note = log("note", contact_id=contact.pk)
    with pytest.raises(ValidationError) as err:
        activity_update(
            activity=note,
            actor=personas.owner,
            fields={},
            links={"contact_id": outsider_contact.pk},
        )
    assert _fields(err) == {"contact_id"}
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="read")
    with pytest.raises(PermissionDenied):
        activity_update(activity=note, actor=personas.teammate, fields={"body": "mine now"})
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="edit")
    activity_update(activity=note, actor=personas.teammate, fields={"body": "edited"})
    assert note.body == "edited"


def test_complete_and_reopen_a_task(log, personas, account):
    task = log("task", account_id=account.pk, subject="Send offer")
    assert activity_complete(activity=task, actor=personas.owner, expected_version=1) is True
    task.refresh_from_db()
    assert (task.done, task.done_at is not None, task.version) == (True, True, 2)
    done = _events(EventKind.ACTIVITY_DONE).get()
    assert (done.account_id, done.activity_id) == (account.pk, task.pk)
    assert activity_complete(activity=task, actor=personas.owner) is False  # already done
    assert activity_reopen(activity=task, actor=personas.owner) is True
    task.refresh_from_db()
    assert (task.done, task.done_at, task.version) == (False, None, 3)
    reopened = _events(EventKind.ACTIVITY_UPDATED).get()
    assert reopened.payload["changes"] == {"done": {"old": True, "new": False}}


def test_only_tasks_complete(log, personas, account):
    call = log("call", account_id=account.pk)
    with pytest.raises(ValidationError) as err:
        activity_complete(activity=call, actor=personas.owner)
    assert _fields(err) == {"kind"}


def test_done_through_update_writes_activity_done(log, personas, account):
    task = log("task", account_id=account.pk)
    activity_update(activity=task, actor=personas.owner, fields={"done": True, "priority": "high"})
    assert task.done_at is not None
    assert _events(EventKind.ACTIVITY_DONE).count() == 1
    updated = _events(EventKind.ACTIVITY_UPDATED).get()
    assert set(updated.payload["changes"]) == {"priority"}


def test_delete_is_hard_and_leaves_a_summary(log, personas, contact, account):
    call = log("call", contact_id=contact.pk, subject="Wrong number")
    pk = call.pk
    with pytest.raises(StaleVersion):
        activity_delete(activity=call, actor=personas.owner, expected_version=5)
    assert Activity.objects.filter(pk=pk).exists()
    activity_delete(activity=call, actor=personas.owner, expected_version=1)
    assert not Activity.objects.filter(pk=pk).exists()
    logged = _events(EventKind.ACTIVITY_LOGGED).get()
    assert logged.activity_id is None  # SET_NULL: history stays
    deleted = _events(EventKind.DELETED, contact=contact).get()
    assert deleted.summary == "Deleted Call: Wrong number"
    assert deleted.account_id == account.pk


def test_sending_the_same_attendees_again_changes_nothing(log, personas, account, contact):
    meeting = log("meeting", account_id=account.pk, attendee_contact_ids=[contact.pk])
    diff = activity_update(
        activity=meeting,
        actor=personas.owner,
        fields={"location": ""},
        attendee_contact_ids=[contact.pk],
        attendee_user_ids=[],
    )
    assert diff == {}
    meeting.refresh_from_db()
    assert meeting.version == 1
    assert not _events(EventKind.ACTIVITY_UPDATED).exists()

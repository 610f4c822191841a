import datetime

import pytest
from django.utils import timezone

from rapport.activities.selectors import (
    activities_visible_to,
    activity_editable,
    activity_get_for_user,
    activity_list,
)
from rapport.activities.services import activity_complete
from rapport.activities.tests.conftest import AT
from rapport.records.exceptions import RecordNotFound
from rapport.records.models import RecordShare
from rapport.records.services import record_share

pytestmark = pytest.mark.django_db


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


@pytest.mark.parametrize("link", ["account", "contact", "lead", "opportunity"])
def test_activity_is_visible_through_each_linked_record(log, personas, request, link):
    record = request.getfixturevalue(link)
    activity = log("note", **{f"{link}_id": record.pk})
    for who, sees in (
        ("owner", True),
        ("manager", True),
        ("admin", True),
        ("teammate", False),
        ("outsider", False),
        ("reader", False),
        ("deactivated", False),
    ):
        assert _ids(activities_visible_to(getattr(personas, who))) == (
            {activity.pk} if sees else set()
        ), who
    record_share(record=record, actor=personas.owner, user=personas.outsider)
    assert _ids(activities_visible_to(personas.outsider)) == {activity.pk}


def test_owner_sees_own_activity_without_seeing_its_record(log, personas, contact):
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="edit")
    call = log("call", actor=personas.teammate, contact_id=contact.pk)
    personal = log("task", actor=personas.teammate)
    RecordShare.objects.all().delete()
    assert _ids(activities_visible_to(personas.teammate)) == {call.pk, personal.pk}
    assert _ids(activities_visible_to(personas.owner)) == {call.pk}  # not the personal task
    assert activity_get_for_user(pk=personal.pk, user=personas.teammate) == personal
    with pytest.raises(RecordNotFound):
        activity_get_for_user(pk=personal.pk, user=personas.owner)


def test_who_may_change_an_activity(log, personas, contact):
    call = log("call", contact_id=contact.pk)
    assert activity_editable(activity=call, user=personas.owner)
    assert activity_editable(activity=call, user=personas.manager)
    assert not activity_editable(activity=call, user=personas.teammate)
    record_share(record=contact, actor=personas.owner, user=personas.reader, access="edit")
    assert not activity_editable(activity=call, user=personas.reader)  # read-only role
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="edit")
    assert activity_editable(activity=call, user=personas.teammate)


def test_filters(log, personas, account, contact, lead, opportunity):
    now = timezone.now()
    overdue = log("task", account_id=account.pk, due_at=now - datetime.timedelta(days=1))
    later = log("task", contact_id=contact.pk, due_at=now + datetime.timedelta(days=1))
    done = log("task", lead_id=lead.pk, due_at=now - datetime.timedelta(days=2))
    activity_complete(activity=done, actor=personas.owner)
    chat = log("interaction", opportunity_id=opportunity.pk, channel="chat", occurred_at=AT)
    sms = log("interaction", account_id=account.pk, channel="sms", occurred_at=AT)
    theirs = log("call", account_id=account.pk, owner=personas.teammate, subject="Pricing call")
    user = personas.owner

    def ids(**filters):
        return _ids(activity_list(user=user, **filters))

    assert ids(kind=["interaction", "call"]) == {chat.pk, sms.pk, theirs.pk}
    assert ids(mine=True) == {overdue.pk, later.pk, done.pk, chat.pk, sms.pk}
    assert ids(owner_id=personas.teammate.pk) == {theirs.pk}
    assert ids(overdue=True) == {overdue.pk}
    assert ids(done=True) == {done.pk}
    assert ids(kind=["task"], done=False) == {overdue.pk, later.pk}
    assert ids(due_from=now) == {later.pk}
    assert ids(due_to=(now - datetime.timedelta(days=1)).date()) == {overdue.pk, done.pk}
    assert ids(occurred_from=AT.date(), occurred_to=AT.date()) == {chat.pk, sms.pk}
    assert ids(channel=["chat"]) == {chat.pk}
    assert ids(account_id=account.pk) == {overdue.pk, sms.pk, theirs.pk}
    assert ids(contact_id=contact.pk) == {later.pk}
    assert ids(lead_id=lead.pk) == {done.pk}
    assert ids(opportunity_id=opportunity.pk) == {chat.pk}
    assert ids(q="pricing") == {theirs.pk}


def test_my_activities_skip_the_visibility_sets_and_match_the_visible_ones(log, personas, contact):
    """`mine` and `owner_id=<me>` read the user's own rows without the "linked to a record
    I see" sets (activities_owned_by), and give exactly what the visibility filter gives:
    a personal task, an activity on a record the owner no longer sees; nobody else's; and
    nothing for a deactivated owner."""
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="edit")
    on_lost_record = log("call", actor=personas.teammate, contact_id=contact.pk)
    personal = log("task", actor=personas.teammate)
    log("task", actor=personas.owner, contact_id=contact.pk)  # the owner's, visible to both
    RecordShare.objects.all().delete()
    teammate = personas.teammate
    expected = {on_lost_record.pk, personal.pk}
    visible_own = _ids(activities_visible_to(teammate).filter(owner_id=teammate.pk))
    assert visible_own == expected
    assert _ids(activity_list(user=teammate, mine=True)) == expected
    assert _ids(activity_list(user=teammate, owner_id=teammate.pk)) == expected
    assert _ids(activity_list(user=teammate, mine=True, kind=["task"])) == {personal.pk}
    assert "records_recordshare" not in str(activity_list(user=teammate, mine=True).query)
    assert "records_recordshare" in str(activity_list(user=teammate).query)
    teammate.is_active = False
    assert _ids(activity_list(user=teammate, mine=True)) == set()


def test_per_row_visibility_gives_the_same_activities_as_the_visibility_sets(
    log, personas, account, contact, lead, opportunity, outsider_contact
):
    """`few=True` (visibility probed row by row, for the calendar's index-narrowed weeks)
    selects exactly the rows the "linked to a record I see" sets select, for every persona:
    links of each kind, a record shared with the outsider, a soft-deleted contact, a
    personal task, an organisation-wide readable kind."""
    from rapport.accounts.models import Contact
    from rapport.accounts.services import contact_create, contact_delete
    from rapport.records.models import Access, ObjectType, OrgDefault

    for link, record in (
        ("account", account),
        ("contact", contact),
        ("lead", lead),
        ("opportunity", opportunity),
    ):
        log("note", **{f"{link}_id": record.pk})
    log("call", actor=personas.outsider, contact_id=outsider_contact.pk)
    gone = contact_create(actor=personas.owner, fields={"last_name": "Gone"})
    log("call", actor=personas.owner, contact_id=gone.pk)  # still the owner's once deleted
    log("email", actor=personas.manager, contact_id=gone.pk)  # no longer seen through it
    contact_delete(contact=Contact.objects.get(pk=gone.pk), actor=personas.owner)
    log("task", actor=personas.teammate)
    shared = contact_create(actor=personas.owner, fields={"last_name": "Shared"})
    log("meeting", actor=personas.owner, contact_id=shared.pk)
    record_share(record=shared, actor=personas.owner, user=personas.outsider)

    def both(user):
        by_sets = _ids(activity_list(user=user))
        by_row = _ids(activity_list(user=user, few=True))
        if user.is_active and not user.is_admin:  # (an inactive user's query is .none())
            assert "LIMIT 1" in str(activity_list(user=user, few=True).query)
        return by_sets, by_row

    for round_ in ("private", "opportunities readable by all"):
        if round_ != "private":
            OrgDefault.objects.create(object_type=ObjectType.OPPORTUNITY, access=Access.PUBLIC_READ)
        seen = {}
        for who in ("owner", "manager", "admin", "teammate", "outsider", "reader", "deactivated"):
            by_sets, by_row = both(getattr(personas, who))
            assert by_row == by_sets, (round_, who)
            seen[who] = len(by_sets)
        # The cases differ: the comparison is not of empty sets.
        assert seen["admin"] > seen["owner"] > seen["outsider"] > 0, seen
        assert seen["deactivated"] == 0

"""Merging records: every related row moves, chosen values land, the loser is soft-deleted,
and undo puts everything back where it was."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, MergeLog
from rapport.duplicates.record_types import (
    LEFT_BEHIND,
    MOVED_FKS,
    SPECIAL,
    field_of,
    relations_pointing_at,
)
from rapport.duplicates.services import merge_undo, record_merge
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.leads.services import lead_convert
from rapport.orders.models import Order
from rapport.orders.services import order_create
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.models import OrgDefault, RecordShare
from rapport.records.services import record_share
from rapport.records.visibility import can_edit
from rapport.sales.models import LineItem, Opportunity
from rapport.sales.services import line_item_add, opportunity_create, product_create
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=1)


def where_everything_points() -> dict:
    """Every row that can point at an account, contact or lead, and where it points."""
    state = {}
    for paths in (*MOVED_FKS.values(),):
        for path in paths:
            model, fk = field_of(path)
            state[path] = dict(model._base_manager.values_list("pk", fk.attname))
    through = Activity.attendee_contacts.through
    state["attendees"] = dict(through.objects.values_list("pk", "contact_id"))
    state["shares"] = dict(RecordShare.objects.values_list("pk", "object_id"))
    state["emails"] = {
        pk: (c, e, p)
        for pk, c, e, p in ContactEmail.objects.values_list(
            "pk", "contact_id", "email", "is_primary"
        )
    }
    state["phones"] = {
        pk: (c, n, p)
        for pk, c, n, p in ContactPhone.objects.values_list(
            "pk", "contact_id", "number", "is_primary"
        )
    }
    for model in (Account, Contact, Lead):
        state[f"{model.__name__}.tags"] = {
            r.pk: sorted(t.name for t in r.tags.all()) for r in model.all_objects.all()
        }
        state[f"{model.__name__}.deleted"] = dict(model.all_objects.values_list("pk", "deleted_at"))
    return state


def assert_nothing_moved(before: dict, after: dict) -> None:
    """Every row that existed before is where it was (rows added since, such as the merge's
    own timeline events, are not compared)."""
    for key, rows in before.items():
        assert {pk: after[key].get(pk, "gone") for pk in rows} == rows, key


def test_every_relation_to_a_record_is_moved_handled_or_left_behind_on_purpose():
    """A new foreign key to accounts, contacts or leads must be added to MOVED_FKS (or
    handled, or left behind with a reason): a merge must not silently strand rows."""
    for object_type in ("account", "contact", "lead"):
        declared = {*MOVED_FKS[object_type], *SPECIAL[object_type], *LEFT_BEHIND[object_type]}
        assert relations_pointing_at(object_type) == declared, object_type


@pytest.fixture
def contact_world(personas, make_account, make_contact, make_lead):
    """Two contacts of one person and one row of every kind pointing at the loser."""
    owner = personas.owner
    account = make_account(name="Acme")
    survivor = make_contact(
        first_name="Jane",
        last_name="Doe",
        title="CTO",
        account=account,
        emails=[{"email": "jane@acme.io"}],
        phones=[{"number": "+16502530000"}],
        tags=["vip"],
    )
    merged = make_contact(
        first_name="Janet",
        last_name="Doe",
        title="",
        city="Paris",
        account=account,
        emails=[{"email": "j.doe@home.example"}, {"email": "jane@acme.io"}],
        phones=[{"number": "+33123456789"}],
        tags=["newsletter", "vip"],
    )
    other = make_contact(first_name="Other", last_name="Person", account=account)
    activity, _ = activity_log(
        actor=owner, kind="call", fields={"subject": "Call Janet"}, links={"contact_id": merged.pk}
    )
    meeting, _ = activity_log(
        actor=owner,
        kind="meeting",
        fields={"subject": "Kick-off", "starts_at": NOW, "ends_at": LATER},
        links={"account_id": account.pk},
        attendee_contact_ids=[merged.pk, other.pk],
    )
    both, _ = activity_log(
        actor=owner,
        kind="meeting",
        fields={"subject": "Both attend", "starts_at": NOW, "ends_at": LATER},
        links={"account_id": account.pk},
        attendee_contact_ids=[merged.pk, survivor.pk],
    )
    order = order_create(
        actor=owner,
        fields={"ordered_at": NOW},
        lines=[{"description": "Thing", "quantity": Decimal("1"), "unit_price": Decimal("5")}],
        contact=merged,
    )
    opportunity = opportunity_create(
        actor=owner, fields={"name": "Deal", "account": account, "primary_contact": merged}
    )
    lead = make_lead(first_name="Janet", last_name="Doe")
    lead_convert(lead=lead, actor=owner, contact=merged, create_account=False)
    share = record_share(record=merged, actor=owner, user=personas.teammate, access="edit")
    record_share(record=survivor, actor=owner, user=personas.outsider, access="read")
    kept_share = record_share(record=merged, actor=owner, user=personas.outsider, access="edit")
    return {
        "account": account,
        "survivor": survivor,
        "merged": merged,
        "activity": activity,
        "meeting": meeting,
        "both": both,
        "order": order,
        "opportunity": opportunity,
        "lead": lead,
        "share": share,
        "kept_share": kept_share,
    }


def test_contact_merge_moves_every_related_row_and_soft_deletes_the_loser(personas, contact_world):
    w = contact_world
    survivor, merged = w["survivor"], w["merged"]
    merged_events = set(TimelineEvent.objects.filter(contact=merged).values_list("pk", flat=True))
    log = record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={"first_name": "survivor"},
        actor=personas.owner,
    )
    assert Activity.objects.get(pk=w["activity"].pk).contact_id == survivor.pk
    assert set(w["meeting"].attendee_contacts.values_list("pk", flat=True)) >= {survivor.pk}
    assert merged.pk not in w["meeting"].attendee_contacts.values_list("pk", flat=True)
    assert Order.objects.get(pk=w["order"].pk).contact_id == survivor.pk
    assert Opportunity.objects.get(pk=w["opportunity"].pk).primary_contact_id == survivor.pk
    assert Lead.all_objects.get(pk=w["lead"].pk).converted_contact_id == survivor.pk
    assert set(
        TimelineEvent.objects.filter(pk__in=merged_events).values_list("contact_id", flat=True)
    ) == {survivor.pk}
    assert RecordShare.objects.get(pk=w["share"].pk).object_id == survivor.pk
    # The outsider already has a share of the survivor: theirs on the loser stays there.
    assert RecordShare.objects.get(pk=w["kept_share"].pk).object_id == merged.pk

    merged = Contact.all_objects.get(pk=merged.pk)
    assert merged.deleted_at is not None
    assert not Contact.objects.filter(pk=merged.pk).exists()
    survivor.refresh_from_db()
    assert survivor.first_name == "Jane"
    assert survivor.city == "Paris"  # blank on the survivor: filled from the merged record
    assert survivor.title == "CTO"
    assert sorted(t.name for t in survivor.tags.all()) == ["newsletter", "vip"]
    emails = list(survivor.emails.values_list("email", "is_primary"))
    assert sorted(emails) == [("j.doe@home.example", False), ("jane@acme.io", True)]
    assert sorted(survivor.phones.values_list("number", flat=True)) == [
        "+16502530000",
        "+33123456789",
    ]
    assert survivor.email == "jane@acme.io"

    assert log.moved["activities.Activity.contact"] == [w["activity"].pk]
    assert log.moved["orders.Order.contact"] == [w["order"].pk]
    assert log.moved["sales.Opportunity.primary_contact"] == [w["opportunity"].pk]
    assert log.moved["leads.Lead.converted_contact"] == [w["lead"].pk]
    assert set(log.moved["timeline.TimelineEvent.contact"]) == merged_events
    assert log.moved["records.RecordShare.object_id"] == [w["share"].pk]
    assert len(log.moved["activities.Activity.attendee_contacts"]) == 1  # not the shared one
    assert log.merged_snapshot["first_name"] == "Janet"
    assert log.survivor_before == {"city": ""}
    event = TimelineEvent.objects.filter(contact=survivor, kind=EventKind.UPDATED).first()
    assert event.payload["merged"]["merge_log_id"] == log.pk
    assert TimelineEvent.objects.filter(contact=merged, kind=EventKind.DELETED).exists()


def test_chosen_values_and_custom_fields_land_on_the_survivor(personas, make_contact):
    from rapport.records.custom_fields import custom_field_define

    custom_field_define(object_type="contact", key="tier", label="Tier", field_type="text")
    custom_field_define(object_type="contact", key="shoe", label="Shoe", field_type="text")
    survivor = make_contact(first_name="Jane", last_name="Doe", custom={"tier": "gold"})
    merged = make_contact(
        first_name="Janet",
        last_name="Doe",
        emails=[{"email": "janet@x.example"}],
        custom={"tier": "silver", "shoe": "38"},
    )
    log = record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={"first_name": "merged", "custom.tier": "merged"},
        actor=personas.owner,
    )
    survivor.refresh_from_db()
    assert survivor.first_name == "Janet"
    assert survivor.custom == {"tier": "silver", "shoe": "38"}
    assert survivor.email == "janet@x.example"
    assert survivor.emails.get().is_primary
    assert log.field_choices["first_name"] == "merged"
    assert log.field_choices["custom.shoe"] == "merged"


def test_choosing_the_merged_primary_email_makes_it_the_survivors_primary(personas, make_contact):
    survivor = make_contact(last_name="Doe", emails=[{"email": "a@x.example"}])
    merged = make_contact(last_name="Doe", emails=[{"email": "b@x.example"}])
    record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={"email": "merged"},
        actor=personas.owner,
    )
    survivor.refresh_from_db()
    assert survivor.email == "b@x.example"
    assert dict(survivor.emails.values_list("email", "is_primary")) == {
        "a@x.example": False,
        "b@x.example": True,
    }


def test_account_merge_moves_contacts_subsidiaries_deals_orders_and_leads(
    personas, make_account, make_contact, make_lead
):
    owner = personas.owner
    survivor = make_account(name="Acme Inc", website="https://acme.io")
    merged = make_account(name="ACME", industry="Tools", parent=survivor)
    subsidiary = make_account(name="Acme UK", parent=merged)
    contact = make_contact(last_name="Doe", account=merged)
    deleted_contact = make_contact(last_name="Gone", account=merged)
    from rapport.accounts.services import contact_delete

    contact_delete(contact=deleted_contact, actor=owner)
    opportunity = opportunity_create(actor=owner, fields={"name": "Deal", "account": merged})
    product = product_create(
        actor=personas.manager, fields={"name": "Widget", "sku": "W-1", "unit_price": Decimal("10")}
    )
    line = line_item_add(opportunity=opportunity, actor=owner, product=product)
    order = order_create(
        actor=owner,
        fields={"ordered_at": NOW},
        lines=[{"description": "Thing", "quantity": Decimal("1"), "unit_price": Decimal("5")}],
        account=merged,
    )
    activity, _ = activity_log(
        actor=owner, kind="note", fields={"body": "n"}, links={"account_id": merged.pk}
    )
    lead = make_lead(last_name="Lead", company="ACME")
    lead_convert(lead=lead, actor=owner, account=merged, create_contact=False)

    log = record_merge(
        object_type="account", survivor=survivor, merged=merged, field_choices={}, actor=owner
    )
    survivor.refresh_from_db()
    assert survivor.industry == "Tools"
    assert survivor.parent_id is None  # it was the merged account's parent: not its own
    assert Account.objects.get(pk=subsidiary.pk).parent_id == survivor.pk
    assert Contact.objects.get(pk=contact.pk).account_id == survivor.pk
    assert Contact.all_objects.get(pk=deleted_contact.pk).account_id == survivor.pk
    assert Opportunity.objects.get(pk=opportunity.pk).account_id == survivor.pk
    assert LineItem.objects.get(pk=line.pk).opportunity_id == opportunity.pk
    assert Order.objects.get(pk=order.pk).account_id == survivor.pk
    assert Activity.objects.get(pk=activity.pk).account_id == survivor.pk
    assert Lead.all_objects.get(pk=lead.pk).converted_account_id == survivor.pk
    assert not TimelineEvent.objects.filter(account=merged).exclude(kind=EventKind.DELETED).exists()
    assert Account.all_objects.get(pk=merged.pk).deleted_at is not None
    assert log.moved["accounts.Account.parent"] == [subsidiary.pk]


def test_lead_merge_moves_activities_and_timeline(personas, make_lead):
    survivor = make_lead(first_name="Jane", last_name="Doe", email="jane@acme.io")
    merged = make_lead(first_name="Jane", last_name="Doe", company="Acme", status="qualified")
    activity, _ = activity_log(
        actor=personas.owner, kind="note", fields={"body": "n"}, links={"lead_id": merged.pk}
    )
    record_merge(
        object_type="lead",
        survivor=survivor,
        merged=merged,
        field_choices={"status": "merged"},
        actor=personas.owner,
    )
    survivor.refresh_from_db()
    assert survivor.status == "qualified" and survivor.company == "Acme"
    assert Activity.objects.get(pk=activity.pk).lead_id == survivor.pk


def test_a_converted_lead_can_only_survive(personas, make_lead):
    converted = make_lead(last_name="Doe", company="Acme")
    lead_convert(lead=converted, actor=personas.owner, create_account=False)
    fresh = make_lead(last_name="Doe", title="CTO")
    with pytest.raises(Conflict) as exc:
        record_merge(
            object_type="lead",
            survivor=fresh,
            merged=Lead.objects.get(pk=converted.pk),
            field_choices={},
            actor=personas.owner,
        )
    assert exc.value.code == "merge_converted_lead"
    with pytest.raises(Conflict) as exc:
        record_merge(
            object_type="lead",
            survivor=Lead.objects.get(pk=converted.pk),
            merged=fresh,
            field_choices={"status": "merged"},
            actor=personas.owner,
        )
    assert exc.value.code == "lead_converted"
    activity, _ = activity_log(
        actor=personas.owner, kind="note", fields={"body": "n"}, links={"lead_id": fresh.pk}
    )
    record_merge(
        object_type="lead",
        survivor=Lead.objects.get(pk=converted.pk),
        merged=fresh,
        field_choices={},
        actor=personas.owner,
    )
    survivor = Lead.objects.get(pk=converted.pk)
    assert survivor.status == "converted" and survivor.company == "Acme"
    assert Activity.objects.get(pk=activity.pk).lead_id == survivor.pk


def test_merge_marks_the_pair_merged(personas, make_contact):
    a = make_contact(last_name="Doe")
    b = make_contact(last_name="Doe")
    pair = DuplicateCandidate.objects.create(
        object_type="contact",
        record_a_id=a.pk,
        record_b_id=b.pk,
        score=80,
        found_at=NOW,
        scored_at=NOW,
    )
    record_merge(
        object_type="contact", survivor=b, merged=a, field_choices={}, actor=personas.owner
    )
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.MERGED
    assert pair.resolved_by == personas.owner


@pytest.mark.parametrize(
    ("choices", "field", "code"),
    [
        ({"nope": "merged"}, "fields.nope", "unknown_field"),
        ({"first_name": "both"}, "fields.first_name", "invalid_choice"),
    ],
)
def test_bad_field_choices_are_rejected_with_the_field(
    personas, make_contact, choices, field, code
):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    with pytest.raises(ValidationError) as exc:
        record_merge(
            object_type="contact", survivor=a, merged=b, field_choices=choices, actor=personas.owner
        )
    assert exc.value.error_dict[field][0].code == code
    assert Contact.objects.filter(pk=b.pk).exists()


def test_a_record_cannot_merge_into_itself(personas, make_contact):
    a = make_contact(last_name="Doe")
    with pytest.raises(ValidationError):
        record_merge(
            object_type="contact", survivor=a, merged=a, field_choices={}, actor=personas.owner
        )


def test_outsider_gets_not_found_and_reader_permission_denied(personas, make_contact):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    with pytest.raises(RecordNotFound):
        record_merge(
            object_type="contact", survivor=a, merged=b, field_choices={}, actor=personas.outsider
        )
    OrgDefault.objects.create(object_type="contact", access="public_read")
    reader = User.objects.get(pk=personas.reader.pk)  # org defaults are cached per user object
    with pytest.raises(PermissionDenied):
        record_merge(object_type="contact", survivor=a, merged=b, field_choices={}, actor=reader)
    assert not MergeLog.objects.exists()


def test_editing_one_record_is_not_enough(personas, make_contact):
    mine = make_contact(last_name="Doe", owner=personas.teammate)
    theirs = make_contact(last_name="Doe")
    record_share(record=theirs, actor=personas.owner, user=personas.teammate, access="read")
    assert can_edit(mine, personas.teammate) and not can_edit(theirs, personas.teammate)
    with pytest.raises(PermissionDenied):
        record_merge(
            object_type="contact",
            survivor=mine,
            merged=theirs,
            field_choices={},
            actor=personas.teammate,
        )


def test_stale_survivor_version_changes_nothing(personas, make_contact):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe", city="Paris")
    before = where_everything_points()
    with pytest.raises(StaleVersion):
        record_merge(
            object_type="contact",
            survivor=a,
            merged=b,
            field_choices={},
            actor=personas.owner,
            expected_version=a.version + 1,
        )
    with pytest.raises(StaleVersion):
        record_merge(
            object_type="contact",
            survivor=a,
            merged=b,
            field_choices={},
            actor=personas.owner,
            merged_version=b.version + 1,
        )
    assert_nothing_moved(before, where_everything_points())
    assert not MergeLog.objects.exists()


# ----- undo ---------------------------------------------------------------------------


def test_merge_then_undo_leaves_every_related_row_where_it_was(personas, contact_world):
    w = contact_world
    survivor = Contact.objects.get(pk=w["survivor"].pk)
    before = where_everything_points()
    fields_before = (
        Contact.objects.filter(pk=survivor.pk)
        .values("first_name", "city", "email", "phone", "title")
        .get()
    )
    log = record_merge(
        object_type="contact",
        survivor=survivor,
        merged=Contact.objects.get(pk=w["merged"].pk),
        field_choices={"first_name": "merged", "phone": "merged"},
        actor=personas.owner,
    )
    assert where_everything_points() != before
    log = merge_undo(log=log, actor=personas.owner)
    assert log.undone_at is not None and log.undone_by == personas.owner
    assert log.undo_report == {"kept_fields": [], "not_moved_back": {}}
    assert_nothing_moved(before, where_everything_points())
    assert (
        Contact.objects.filter(pk=survivor.pk)
        .values("first_name", "city", "email", "phone", "title")
        .get()
        == fields_before
    )
    assert Contact.objects.filter(pk=w["merged"].pk).exists()
    assert TimelineEvent.objects.filter(contact_id=w["merged"].pk, kind=EventKind.RESTORED).exists()


def test_account_merge_then_undo_restores_everything(personas, make_account, make_contact):
    survivor = make_account(name="Acme Inc", tags=["a"])
    merged = make_account(name="ACME", industry="Tools", parent=survivor, tags=["b"])
    make_account(name="Acme UK", parent=merged)
    make_contact(last_name="Doe", account=merged)
    opportunity_create(actor=personas.owner, fields={"name": "Deal", "account": merged})
    before = where_everything_points()
    log = record_merge(
        object_type="account",
        survivor=survivor,
        merged=merged,
        field_choices={},
        actor=personas.owner,
    )
    merge_undo(log=log, actor=personas.owner)
    assert_nothing_moved(before, where_everything_points())
    assert Account.objects.get(pk=survivor.pk).industry == ""


def test_undo_keeps_a_value_changed_since_the_merge(personas, make_contact):
    from rapport.accounts.services import contact_update

    survivor = make_contact(first_name="Jane", last_name="Doe")
    merged = make_contact(first_name="Janet", last_name="Doe", title="CTO", city="Paris")
    log = record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={"first_name": "merged"},
        actor=personas.owner,
    )
    survivor.refresh_from_db()
    contact_update(contact=survivor, actor=personas.owner, fields={"title": "CEO"})
    log = merge_undo(log=log, actor=personas.owner)
    survivor.refresh_from_db()
    assert survivor.first_name == "Jane"  # restored: untouched since the merge
    assert survivor.city == ""
    assert survivor.title == "CEO"  # kept: changed since the merge
    assert log.undo_report["kept_fields"] == ["title"]


def test_undo_twice_is_a_conflict_and_undo_reopens_the_pair(personas, make_contact):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    pair = DuplicateCandidate.objects.create(
        object_type="contact",
        record_a_id=a.pk,
        record_b_id=b.pk,
        score=80,
        found_at=NOW,
        scored_at=NOW,
    )
    log = record_merge(
        object_type="contact",
        survivor=a,
        merged=b,
        field_choices={},
        actor=personas.owner,
        candidate=pair,
    )
    merge_undo(log=log, actor=personas.owner)
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.OPEN
    with pytest.raises(Conflict) as exc:
        merge_undo(log=MergeLog.objects.get(pk=log.pk), actor=personas.owner)
    assert exc.value.code == "already_undone"


def test_undo_needs_edit_rights_on_both_records(personas, make_contact):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    log = record_merge(
        object_type="contact", survivor=a, merged=b, field_choices={}, actor=personas.owner
    )
    with pytest.raises(RecordNotFound):
        merge_undo(log=log, actor=personas.outsider)
    OrgDefault.objects.create(object_type="contact", access="public_read")
    with pytest.raises(PermissionDenied):
        merge_undo(log=log, actor=User.objects.get(pk=personas.reader.pk))
    merge_undo(log=log, actor=personas.manager)


def test_undo_with_a_deleted_survivor_is_a_conflict(personas, make_contact):
    from rapport.accounts.services import contact_delete

    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    log = record_merge(
        object_type="contact", survivor=a, merged=b, field_choices={}, actor=personas.owner
    )
    contact_delete(contact=Contact.objects.get(pk=a.pk), actor=personas.owner)
    with pytest.raises(Conflict) as exc:
        merge_undo(log=log, actor=personas.owner)
    assert exc.value.code == "survivor_deleted"


def test_undo_reports_rows_moved_elsewhere_since(personas, make_contact):
    a, b = make_contact(last_name="Doe"), make_contact(last_name="Doe")
    other = make_contact(last_name="Else")
    activity, _ = activity_log(
        actor=personas.owner, kind="note", fields={"body": "n"}, links={"contact_id": b.pk}
    )
    log = record_merge(
        object_type="contact", survivor=a, merged=b, field_choices={}, actor=personas.owner
    )
    Activity.objects.filter(pk=activity.pk).update(contact=other)
    log = merge_undo(log=log, actor=personas.owner)
    assert Activity.objects.get(pk=activity.pk).contact_id == other.pk
    assert log.undo_report["not_moved_back"] == {"activities.Activity.contact": [activity.pk]}


def test_contact_merge_carries_opt_outs_and_static_lists_to_the_survivor(personas, make_contact):
    """An opt-out given under the merged contact keeps blocking marketing (a new ledger row
    on the survivor; the original stays as proof); opt-ins are not assumed; hand-made
    segment memberships move and come back on undo."""
    from rapport.consent.models import ConsentPurpose, ConsentRecord
    from rapport.consent.selectors import current_status
    from rapport.consent.services import consent_record
    from rapport.segments.models import SegmentKind, SegmentMember
    from rapport.segments.services import segment_create, segment_members_add

    news = ConsentPurpose.objects.create(
        slug="news", name="News", policy_text="News.", policy_version="1"
    )
    offers = ConsentPurpose.objects.create(
        slug="offers", name="Offers", policy_text="Offers.", policy_version="1"
    )
    survivor = make_contact(last_name="Doe", emails=[{"email": "a@x.example"}])
    merged = make_contact(last_name="Doe", emails=[{"email": "b@x.example"}])
    for purpose, action in ((news, "opt_out"), (offers, "opt_in")):
        consent_record(person=merged, channel="email", purpose=purpose, action=action, source="api")
    vip = segment_create(name="VIP", kind=SegmentKind.STATIC, actor=personas.owner)
    segment_members_add(segment=vip, contact_ids=[merged.pk], actor=personas.owner)

    log = record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={},
        actor=personas.owner,
    )

    assert current_status(survivor, purpose=news, channel="email") == "opted_out"
    assert current_status(survivor, purpose=offers, channel="email") != "opted_in"
    assert ConsentRecord.objects.filter(contact=merged).count() == 2  # the proof stays
    assert list(SegmentMember.objects.filter(segment=vip).values_list("contact_id", flat=True)) == [
        survivor.pk
    ]
    merge_undo(log=log, actor=personas.owner)
    assert list(SegmentMember.objects.filter(segment=vip).values_list("contact_id", flat=True)) == [
        merged.pk
    ]

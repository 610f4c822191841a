"""Each trigger fires from the UI, the API, an import and another rule: the outbox is fed by
the timeline every write path already writes."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.accounts.services import account_create, contact_create, contact_update
from rapport.activities.models import Activity
from rapport.automation import engine, outbox, schedules
from rapport.automation.models import Run, TriggerEvent
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.services import lead_create
from rapport.sales.models import Opportunity, Pipeline
from rapport.sales.services import opportunity_create
from rapport.web.testing import ui_client

pytestmark = pytest.mark.django_db


def _tags(model, pk) -> list[str]:
    return sorted(model.objects.get(pk=pk).tags.values_list("name", flat=True))


def _done(runs, rule) -> list[int]:
    return [r.object_id for r in runs if r.rule_id == rule.pk and r.state == "done"]


# ----- record created ------------------------------------------------------------------------


def test_contact_created_by_a_service_runs_the_rule(personas, make_rule, worker):
    rule = make_rule()
    contact = contact_create(actor=personas.owner, fields={"first_name": "Ann", "last_name": "Lee"})
    assert TriggerEvent.objects.filter(event_type="record.created", object_id=contact.pk).exists()
    runs = worker()
    assert _done(runs, rule) == [contact.pk]
    assert _tags(Contact, contact.pk) == ["auto"]


def test_no_event_row_is_written_when_no_rule_listens(personas, worker):
    contact_create(actor=personas.owner, fields={"first_name": "Ann", "last_name": "Lee"})
    make_account = account_create(actor=personas.owner, fields={"name": "Acme"})
    assert make_account.pk and not TriggerEvent.objects.exists()


def test_contact_created_in_the_ui_runs_the_rule(personas, make_rule, worker):
    rule = make_rule()
    r = ui_client(personas.owner).post(
        "/contacts/new", {"first_name": "Jane", "last_name": "Doe", "owner": personas.owner.pk}
    )
    assert r.status_code == 302
    contact = Contact.objects.get(last_name="Doe")
    assert _done(worker(), rule) == [contact.pk]
    assert _tags(Contact, contact.pk) == ["auto"]


def test_contact_created_through_the_api_runs_the_rule(personas, make_rule, worker, api_as):
    rule = make_rule()
    r = api_as(personas.owner).post("/api/contacts", {"first_name": "Jo", "last_name": "Api"})
    assert r.status_code == 201, r.data
    assert _done(worker(), rule) == [r.data["id"]]
    assert _tags(Contact, r.data["id"]) == ["auto"]


def test_contacts_created_by_an_import_each_run_the_rule(personas, make_rule, worker, upload, run):
    rule = make_rule()
    data = csv_bytes(
        [
            ["First name", "Last name", "Email"],
            ["Ann", "Lee", "ann@example.org"],
            ["Bob", "Ray", "bob@example.org"],
        ]
    )
    job = run(upload(personas.owner, data))
    assert job.created == 2
    ids = sorted(Contact.objects.values_list("pk", flat=True))
    assert sorted(_done(worker(), rule)) == ids
    assert all(_tags(Contact, pk) == ["auto"] for pk in ids)


def test_record_created_by_another_rule_runs_the_rule(personas, make_rule, worker):
    # Rule A: when an account is tagged, log a task on it; rule B: when an activity is
    # logged, tag the account "followed".
    a = make_rule(
        name="A",
        trigger_type="record.updated",
        object_type="account",
        conditions={
            "op": "and",
            "items": [{"field": "tags", "operator": "changed_to", "value": "hot"}],
        },
        actions=[{"type": "create_task", "params": {"subject": "Call them", "due_in_days": 1}}],
    )
    b = make_rule(
        name="B",
        trigger_type="activity.logged",
        object_type="activity",
        actions=[{"type": "update_fields", "params": {"fields": {"priority": "high"}}}],
    )
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    from rapport.accounts.services import account_update

    account_update(account=account, actor=personas.owner, fields={}, tags=["hot"])
    runs = worker()
    assert _done(runs, a) == [account.pk]
    task = Activity.objects.get(subject="Call them")
    b_runs = [r for r in runs if r.rule_id == b.pk]
    # B fired from A's action (depth 1); its update_fields does not apply to activities, so
    # it fails clearly — the point here is that it fired.
    assert [(r.object_id, r.depth) for r in b_runs] == [(task.pk, 1)]
    assert "does not apply to a activity" in b_runs[0].error


# ----- record updated ------------------------------------------------------------------------


@pytest.fixture
def vip_rule(make_rule):
    return make_rule(
        name="VIP",
        trigger_type="record.updated",
        conditions={
            "op": "and",
            "items": [{"field": "custom.tier", "operator": "changed_to", "value": "gold"}],
        },
        actions=[{"type": "add_tag", "params": {"tag": "vip"}}],
    )


@pytest.fixture
def tier(personas):
    from rapport.records.custom_fields import custom_field_define

    custom_field_define(object_type="contact", key="tier", label="Tier", field_type="text")


def test_field_changed_to_fires_from_a_service_and_not_for_other_changes(
    personas, vip_rule, tier, worker
):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    contact_update(contact=contact, actor=personas.owner, fields={"city": "Paris"})
    assert not [r for r in worker() if r.rule_id == vip_rule.pk]
    contact.refresh_from_db()
    contact_update(contact=contact, actor=personas.owner, fields={}, custom={"tier": "gold"})
    assert _done(worker(), vip_rule) == [contact.pk]
    assert _tags(Contact, contact.pk) == ["vip"]


def test_field_changed_to_fires_from_the_api(personas, vip_rule, tier, worker, api_as):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    r = api_as(personas.owner).patch(f"/api/contacts/{contact.pk}", {"custom": {"tier": "gold"}})
    assert r.status_code == 200, r.data
    assert _done(worker(), vip_rule) == [contact.pk]


def test_field_changed_to_fires_from_an_import_update(personas, make_rule, worker, upload, run):
    rule = make_rule(
        trigger_type="record.updated",
        conditions={
            "op": "and",
            "items": [{"field": "city", "operator": "changed_to", "value": "Paris"}],
        },
    )
    contact = contact_create(
        actor=personas.owner,
        fields={"last_name": "Lee", "city": "Rome"},
        emails=[{"email": "ann@example.org"}],
    )
    data = csv_bytes([["Last name", "Email", "City"], ["Lee", "ann@example.org", "Paris"]])
    job = run(upload(personas.owner, data))
    assert (job.status, job.updated) == ("done", 1)
    assert _done(worker(), rule) == [contact.pk]


def test_record_updated_fires_from_the_ui_inline_edit(personas, make_rule, worker):
    rule = make_rule(
        trigger_type="record.updated",
        conditions={"op": "and", "items": [{"field": "city", "operator": "changed"}]},
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    client = ui_client(personas.owner)
    r = client.post(
        f"/contacts/{contact.pk}/edit",
        {"last_name": "Lee", "city": "Paris", "owner": personas.owner.pk},
    )
    assert r.status_code in (200, 302), r.content[:500]
    assert _done(worker(), rule) == [contact.pk]


def test_record_updated_fires_from_another_rules_update(personas, make_rule, worker):
    first = make_rule(
        name="set city",
        actions=[{"type": "update_fields", "params": {"fields": {"city": "Lyon"}}}],
    )
    second = make_rule(
        name="city changed",
        trigger_type="record.updated",
        conditions={
            "op": "and",
            "items": [{"field": "city", "operator": "changed_to", "value": "Lyon"}],
        },
        actions=[{"type": "add_tag", "params": {"tag": "lyon"}}],
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    runs = worker()
    assert _done(runs, first) == [contact.pk]
    assert _done(runs, second) == [contact.pk]
    assert [r.depth for r in runs if r.rule_id == second.pk] == [1]
    assert _tags(Contact, contact.pk) == ["lyon"]


# ----- stage moved, lead converted, order placed, activity logged ----------------------------


def test_stage_moved_fires_from_the_api_with_the_stage_it_moved_to(
    personas, make_rule, worker, api_as
):
    rule = make_rule(
        trigger_type="stage.moved",
        object_type="opportunity",
        conditions={
            "op": "and",
            "items": [{"field": "stage", "operator": "changed_to", "value": "Proposal"}],
        },
        actions=[{"type": "add_tag", "params": {"tag": "proposal"}}],
    )
    opp = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    stages = {s.name: s for s in Pipeline.objects.get(is_default=True).stages.all()}
    r = api_as(personas.owner).patch(
        f"/api/opportunities/{opp.pk}", {"stage_id": stages["Proposal"].pk}
    )
    assert r.status_code == 200, r.data
    assert _done(worker(), rule) == [opp.pk]
    assert _tags(Opportunity, opp.pk) == ["proposal"]


def test_lead_converted_fires_from_the_api(personas, make_rule, worker, api_as):
    rule = make_rule(
        trigger_type="lead.converted",
        object_type="lead",
        actions=[{"type": "create_task", "params": {"subject": "Welcome call"}}],
    )
    lead = lead_create(actor=personas.owner, fields={"last_name": "Ng", "company": "Ng Ltd"})
    r = api_as(personas.owner).post(f"/api/leads/{lead.pk}/convert", {})
    assert r.status_code == 200, r.data
    runs = worker()
    assert [r.object_id for r in runs if r.rule_id == rule.pk] == [lead.pk]


def test_order_placed_fires_from_the_api_and_from_an_order_import(
    personas, make_rule, worker, api_as
):
    rule = make_rule(
        trigger_type="order.placed",
        object_type="order",
        actions=[{"type": "wait", "params": {"hours": 1}}],
    )
    account = account_create(actor=personas.owner, fields={"name": "Acme", "currency": "USD"})
    body = {
        "ordered_at": timezone.now().isoformat(),
        "channel": "web",
        "account_id": account.pk,
        "lines": [{"description": "Thing", "quantity": "1", "unit_price": "5"}],
    }
    r = api_as(personas.owner).post("/api/orders", body)
    assert r.status_code == 201, r.data
    r2 = api_as(personas.owner).post(
        "/api/orders/bulk", {"orders": [{**body, "external_id": "pos-1"}]}
    )
    assert r2.status_code == 200, r2.data
    runs = [r for r in worker() if r.rule_id == rule.pk]
    assert len(runs) == 2, r2.data
    assert {r.state for r in runs} == {"waiting"}


def test_activity_logged_fires_from_the_api(personas, make_rule, worker, api_as):
    rule = make_rule(
        trigger_type="activity.logged",
        object_type="activity",
        conditions={
            "op": "and",
            "items": [{"field": "kind", "operator": "equals", "value": "call"}],
        },
        actions=[{"type": "wait", "params": {"hours": 2}}],
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    api = api_as(personas.owner)
    assert (
        api.post(
            "/api/activities", {"kind": "note", "body": "x", "contact_id": contact.pk}
        ).status_code
        == 201
    )
    r = api.post("/api/activities", {"kind": "call", "subject": "Hi", "contact_id": contact.pk})
    assert r.status_code == 201, r.data
    runs = [r for r in worker() if r.rule_id == rule.pk]
    assert [run.object_id for run in runs] == [r.data["id"]]


# ----- events from other apps, schedules, dates, manual --------------------------------------


def test_emit_feeds_rules_of_other_apps_events(personas, make_rule, worker):
    rule = make_rule(
        trigger_type="email.received",
        trigger_config={"match": {"mailbox": "support"}},
        actions=[{"type": "add_tag", "params": {"tag": "wrote-in"}}],
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    outbox.emit("email.received", subject=contact, payload={"mailbox": "sales"})
    outbox.emit("email.received", subject=contact, payload={"mailbox": "support"})
    assert _done(worker(), rule) == [contact.pk]
    with pytest.raises(ValueError):
        outbox.emit("email.exploded", subject=contact)


def test_schedule_fires_once_per_slot_for_matching_records(personas, make_rule, worker):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=datetime.UTC), tick=False):
        rule = make_rule(
            trigger_type="schedule",
            trigger_config={"cron": "0 9 * * *"},
            conditions={
                "op": "and",
                "items": [{"field": "city", "operator": "equals", "value": "Paris"}],
            },
        )
        paris = contact_create(actor=personas.owner, fields={"last_name": "P", "city": "Paris"})
        contact_create(actor=personas.owner, fields={"last_name": "R", "city": "Rome"})
        assert schedules.fire_schedules() == 0
    with time_machine.travel(
        datetime.datetime(2026, 3, 2, 9, 0, 30, tzinfo=datetime.UTC), tick=False
    ):
        assert schedules.fire_schedules() == 1
        assert schedules.fire_schedules() == 0  # the slot is taken
        assert _done(worker(), rule) == [paris.pk]
    rule.refresh_from_db()
    assert rule.next_fire_at == datetime.datetime(2026, 3, 3, 9, 0, tzinfo=datetime.UTC)


def test_date_relative_fires_three_days_before_once(personas, make_rule, worker):
    rule = make_rule(
        trigger_type="date.relative",
        object_type="opportunity",
        trigger_config={"field": "expected_close_date", "offset_days": -3, "at": "09:00"},
        actions=[{"type": "add_tag", "params": {"tag": "closing-soon"}}],
    )
    opp = opportunity_create(
        actor=personas.owner,
        fields={"name": "Deal", "expected_close_date": datetime.date(2026, 6, 10)},
    )
    with time_machine.travel(datetime.datetime(2026, 6, 6, 12, 0, tzinfo=datetime.UTC), tick=False):
        assert schedules.fire_date_rules() == 0  # four days before
    with time_machine.travel(datetime.datetime(2026, 6, 7, 8, 0, tzinfo=datetime.UTC), tick=False):
        assert schedules.fire_date_rules() == 0  # the day, before 09:00
    with time_machine.travel(datetime.datetime(2026, 6, 7, 9, 5, tzinfo=datetime.UTC), tick=False):
        assert schedules.fire_date_rules() == 1
        assert schedules.fire_date_rules() == 0
        assert _done(worker(), rule) == [opp.pk]
    assert _tags(Opportunity, opp.pk) == ["closing-soon"]


def test_manual_run_from_the_api_only_on_records_the_caller_may_edit(
    personas, make_rule, worker, api_as
):
    rule = make_rule(trigger_type="manual")
    mine = contact_create(actor=personas.owner, fields={"last_name": "Mine"})
    theirs = contact_create(actor=personas.outsider, fields={"last_name": "Theirs"})
    r = api_as(personas.owner).post(
        f"/api/automation/rules/{rule.pk}/run", {"ids": [mine.pk, theirs.pk]}
    )
    assert r.status_code == 202, r.data
    assert r.data["skipped"] == [theirs.pk] and len(r.data["started"]) == 1
    assert _done(worker(), rule) == [mine.pk]
    assert _tags(Contact, theirs.pk) == []


def test_manual_run_from_the_list_selection(personas, make_rule, worker):
    rule = make_rule(name="Tag them", trigger_type="manual")
    a = contact_create(actor=personas.owner, fields={"last_name": "A"})
    b = contact_create(actor=personas.owner, fields={"last_name": "B"})
    client = ui_client(personas.owner)
    page = client.get("/contacts/").content.decode()
    assert f'value="rule:{rule.pk}"' in page and "Run rule: Tag them" in page
    r = client.post("/contacts/bulk", {"action": f"rule:{rule.pk}", "ids": [a.pk, b.pk]})
    assert r.status_code == 302
    assert sorted(_done(worker(), rule)) == sorted([a.pk, b.pk])


def test_events_without_a_worker_are_picked_up_by_the_sweep(personas, make_rule):
    from rapport.automation.tasks import automation_sweep_task

    rule = make_rule()
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    result = automation_sweep_task.call()
    assert result["dispatched"] == 1 and result["executed"] == 1
    assert Run.objects.get(rule=rule).object_id == contact.pk
    assert engine.dispatch_pending() == 0


def _stages():
    return {s.name: s for s in Pipeline.objects.get(is_default=True).stages.all()}


def test_stage_moved_fires_from_the_board_in_the_ui(personas, make_rule, worker):
    rule = make_rule(trigger_type="stage.moved", object_type="opportunity")
    opp = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": _stages()["Proposal"].pk,
            "version": opp.version,
            "next": "/opportunities/board",
        },
    )
    assert r.status_code in (200, 302)
    assert _done(worker(), rule) == [opp.pk]


def test_stage_moved_fires_from_another_rules_update(personas, make_rule, worker):
    proposal = _stages()["Proposal"]
    make_rule(
        name="advance big deals",
        trigger_type="record.created",
        object_type="opportunity",
        actions=[{"type": "update_fields", "params": {"fields": {"stage": proposal.pk}}}],
    )
    moved = make_rule(name="moved", trigger_type="stage.moved", object_type="opportunity")
    opp = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    runs = worker()
    assert _done(runs, moved) == [opp.pk]
    assert Opportunity.objects.get(pk=opp.pk).stage_id == proposal.pk


def test_lead_converted_fires_from_the_ui(personas, make_rule, worker):
    rule = make_rule(trigger_type="lead.converted", object_type="lead")
    lead = lead_create(actor=personas.owner, fields={"last_name": "Ng", "company": "Ng Ltd"})
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/convert",
        {
            "account": "new",
            "contact": "new",
            "owner": lead.owner_id,
            "version": lead.version,
            "pipeline": "",
            "stage": "",
        },
    )
    assert r.status_code == 302, r.content[:800]
    assert [r.object_id for r in worker() if r.rule_id == rule.pk] == [lead.pk]


@pytest.mark.parametrize(
    "trigger, payload",
    [
        ("segment.entered", {"segment_id": 7}),
        ("segment.left", {"segment_id": 7}),
        ("form.submitted", {"form": "newsletter"}),
        ("case.sla_warning", {"metric": "first_response"}),
        ("case.sla_breached", {"metric": "resolution"}),
    ],
)
def test_other_teams_triggers_run_rules_through_services_emit(
    personas, make_rule, worker, trigger, payload
):
    """The entry the segments, forms and SLA work call: services.emit (one function)."""
    from rapport.automation import services

    assert services.emit is outbox.emit
    rule = make_rule(
        trigger_type=trigger,
        trigger_config={"match": payload},
        actions=[{"type": "add_tag", "params": {"tag": trigger}}],
    )
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee"})
    with transaction.atomic():
        services.emit(trigger, subject=contact, payload={k: "other" for k in payload})
        event = services.emit(trigger, subject=contact, payload=payload, actor=personas.owner)
    assert (event.object_type, event.object_id) == ("contact", contact.pk)
    assert _done(worker(), rule) == [contact.pk]
    assert _tags(Contact, contact.pk) == [trigger]

"""Settings → Automation and Business calendars pages: the builder makes a working rule
without JSON, the history shows steps, replay; only admins change, reps get 403."""

import pytest

from rapport.accounts.models import Contact
from rapport.accounts.services import contact_create
from rapport.automation.models import Rule, Run
from rapport.calendars.models import BusinessCalendar
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


def _builder_post(**extra):
    data = {
        "name": "Paris contacts",
        "trigger_type": "record.created",
        "object_type": "contact",
        "is_active": "on",
        "match_all": "and",
        "max_runs_per_hour": "100",
        "max_attempts": "3",
        "cond-TOTAL_FORMS": "2",
        "cond-INITIAL_FORMS": "0",
        "cond-0-field": "city",
        "cond-0-operator": "equals",
        "cond-0-value": "Paris",
        "cond-1-field": "",
        "cond-1-operator": "equals",
        "act-TOTAL_FORMS": "4",
        "act-INITIAL_FORMS": "0",
        "act-0-type": "add_tag",
        "act-0-tag": "paris",
        "act-1-type": "branch",
        "act-1-cond_field": "last_name",
        "act-1-cond_operator": "equals",
        "act-1-cond_value": "Lee",
        "act-2-type": "update_fields",
        "act-2-in_branch": "then",
        "act-2-fields": "title=Lead of Lees\ncountry=FR",
        "act-3-type": "wait",
        "act-3-in_branch": "else",
        "act-3-hours": "2",
    }
    data.update(extra)
    return data


def test_builder_creates_a_rule_that_runs(personas, worker):
    client = ui_client(personas.admin)
    assert client.get("/settings/automation/new").status_code == 200
    r = client.post("/settings/automation/new", _builder_post())
    assert r.status_code == 302, text_of(r)[:2000]
    rule = Rule.objects.get()
    assert rule.conditions == {
        "op": "and",
        "items": [{"field": "city", "operator": "equals", "value": "Paris"}],
    }
    assert [a["type"] for a in rule.actions] == ["add_tag", "branch"]
    branch = rule.actions[1]
    assert branch["then"] == [
        {"type": "update_fields", "params": {"fields": {"title": "Lead of Lees", "country": "FR"}}}
    ]
    assert branch["else"] == [{"type": "wait", "params": {"hours": 2.0}}]
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee", "city": "Paris"})
    (run,) = worker()
    assert run.state == "done", run.error
    contact = Contact.objects.get(pk=contact.pk)
    assert (contact.title, contact.country) == ("Lead of Lees", "FR")
    # The edit page shows the same rule back, and saving it unchanged keeps it.
    page = text_of(client.get(f"/settings/automation/{rule.pk}/edit"))
    assert "Lead of Lees" in page
    detail = text_of(client.get(f"/settings/automation/{rule.pk}/"))
    assert f"#{run.pk}" in detail and "Done" in detail
    run_page = text_of(client.get(f"/settings/automation/runs/{run.pk}/"))
    assert "add_tag" in run_page and "1.then.0" in run_page
    r = client.post(f"/settings/automation/runs/{run.pk}/replay")
    assert r.status_code == 302 and Run.objects.count() == 2


def test_builder_shows_service_errors_next_to_the_form(personas):
    client = ui_client(personas.admin)
    r = client.post(
        "/settings/automation/new", _builder_post(trigger_type="schedule", cron="whenever")
    )
    assert r.status_code == 400
    assert "cron expression" in text_of(r)
    assert not Rule.objects.exists()


def test_reps_cannot_see_automation_and_managers_only_read(personas, make_rule):
    rule = make_rule()
    assert ui_client(personas.owner).get("/settings/automation/").status_code == 403
    manager = ui_client(personas.manager)
    page = manager.get("/settings/automation/")
    assert page.status_code == 200 and "New rule" not in text_of(page)
    assert manager.get(f"/settings/automation/{rule.pk}/").status_code == 200
    assert manager.get("/settings/automation/new").status_code == 403
    assert manager.post(f"/settings/automation/{rule.pk}/delete").status_code == 403


def test_calendar_pages_create_and_edit(personas):
    client = ui_client(personas.admin)
    assert client.get("/settings/calendars/").status_code == 200
    data = {
        "name": "Paris office",
        "time_zone": "Europe/Paris",
        "holiday_country": "FR",
        "holiday_subdivision": "",
        "closed_days": "2026-12-24 Christmas Eve",
        "day_0": "09:00-12:00, 13:00-17:00",
        "day_4": "09:00-16:00",
    }
    r = client.post("/settings/calendars/", data)
    assert r.status_code == 302, text_of(r)[:1500]
    calendar = BusinessCalendar.objects.get()
    assert calendar.periods.count() == 3 and calendar.holidays.get().name == "Christmas Eve"
    r = client.post(f"/settings/calendars/{calendar.pk}/", {**data, "day_1": "9-5"})
    assert r.status_code == 400 and "write it like 09:00-17:00" in text_of(r)
    assert ui_client(personas.manager).post("/settings/calendars/", data).status_code == 403


def test_builder_nests_if_else_inside_if_else_and_shows_it_back(personas, worker):
    from rapport.automation.forms import initial_for

    client = ui_client(personas.admin)
    data = _builder_post(
        **{
            "act-TOTAL_FORMS": "5",
            # step 2: if last name is Lee; step 3 (inside "if yes" of step 2): if title is CEO
            "act-2-type": "branch",
            "act-2-in_branch": "2.then",
            "act-2-cond_field": "title",
            "act-2-cond_operator": "equals",
            "act-2-cond_value": "CEO",
            "act-3-type": "add_tag",
            "act-3-in_branch": "3.else",
            "act-3-tag": "lee-not-ceo",
            "act-4-type": "wait",
            "act-4-in_branch": "2.else",
            "act-4-hours": "2",
        }
    )
    r = client.post("/settings/automation/new", data)
    assert r.status_code == 302, text_of(r)[:2000]
    rule = Rule.objects.get()
    outer = rule.actions[1]
    assert outer["then"] == [
        {
            "type": "branch",
            "params": {
                "conditions": {
                    "op": "and",
                    "items": [{"field": "title", "operator": "equals", "value": "CEO"}],
                }
            },
            "then": [],
            "else": [{"type": "add_tag", "params": {"tag": "lee-not-ceo"}}],
        }
    ]
    assert outer["else"] == [{"type": "wait", "params": {"hours": 2.0}}]
    contact = contact_create(actor=personas.owner, fields={"last_name": "Lee", "city": "Paris"})
    (run,) = worker()
    assert run.state == "done", run.error
    assert sorted(contact.tags.values_list("name", flat=True)) == ["lee-not-ceo", "paris"]
    # The edit page opens (no "use the API" redirect) with each step placed where it was.
    r = client.get(f"/settings/automation/{rule.pk}/edit")
    assert r.status_code == 200
    _, _, rows = initial_for(rule)
    assert [(row["type"], row["in_branch"]) for row in rows] == [
        ("add_tag", ""),
        ("branch", ""),
        ("branch", "2.then"),
        ("add_tag", "3.else"),
        ("wait", "2.else"),
    ]
    # Saving the page unchanged keeps the same tree.
    r = client.post(f"/settings/automation/{rule.pk}/edit", {**data, "version": rule.version})
    assert r.status_code == 302, text_of(r)[:2000]
    rule.refresh_from_db()
    assert rule.actions[1] == outer


def test_builder_refuses_a_step_placed_under_a_step_that_is_no_if_else(personas):
    client = ui_client(personas.admin)
    r = client.post("/settings/automation/new", _builder_post(**{"act-2-in_branch": "1.then"}))
    assert r.status_code == 400
    assert "Step 1 is not an if/else above this step" in text_of(r)
    r = client.post(
        "/settings/automation/new",
        _builder_post(**{"act-1-type": "add_tag", "act-1-tag": "x", "act-2-in_branch": "then"}),
    )
    assert r.status_code == 400
    assert "There is no if/else above this step" in text_of(r)
    assert not Rule.objects.exists()


def test_date_relative_and_manual_rules_built_in_the_ui_run_end_to_end(personas, worker):
    import datetime

    import time_machine

    from rapport.automation import schedules
    from rapport.sales.services import opportunity_create

    client = ui_client(personas.admin)
    plain = {
        "match_all": "and",
        "is_active": "on",
        "max_runs_per_hour": "100",
        "max_attempts": "3",
        "cond-TOTAL_FORMS": "1",
        "cond-INITIAL_FORMS": "0",
        "act-TOTAL_FORMS": "1",
        "act-INITIAL_FORMS": "0",
        "act-0-type": "add_tag",
    }
    r = client.post(
        "/settings/automation/new",
        {
            **plain,
            "name": "Closing soon",
            "trigger_type": "date.relative",
            "object_type": "opportunity",
            "date_field": "expected_close_date",
            "offset_days": "-3",
            "at": "09:00",
            "act-0-tag": "closing-soon",
        },
    )
    assert r.status_code == 302, text_of(r)[:2000]
    r = client.post(
        "/settings/automation/new",
        {
            **plain,
            "name": "Tag the selection",
            "trigger_type": "manual",
            "object_type": "contact",
            "act-0-tag": "picked",
        },
    )
    assert r.status_code == 302, text_of(r)[:2000]
    dated, manual = Rule.objects.order_by("id")
    assert dated.trigger_config == {
        "field": "expected_close_date",
        "offset_days": -3,
        "at": "09:00",
    }

    opp = opportunity_create(
        actor=personas.owner,
        fields={"name": "Deal", "expected_close_date": datetime.date(2026, 6, 10)},
    )
    at = datetime.datetime(2026, 6, 7, 9, 5, tzinfo=datetime.UTC)
    with time_machine.travel(at, tick=False):
        assert schedules.fire_date_rules() == 1
        (run,) = worker()
    assert (run.rule_id, run.object_id, run.state) == (dated.pk, opp.pk, "done")
    assert list(opp.tags.values_list("name", flat=True)) == ["closing-soon"]

    contact = contact_create(actor=personas.owner, fields={"last_name": "Picked"})
    owner = ui_client(personas.owner)
    assert f"Run rule: {manual.name}" in text_of(owner.get("/contacts/"))
    r = owner.post("/contacts/bulk", {"action": f"rule:{manual.pk}", "ids": [contact.pk]})
    assert r.status_code == 302
    runs = worker()
    assert [(r.rule_id, r.object_id, r.state) for r in runs if r.rule_id == manual.pk] == [
        (manual.pk, contact.pk, "done")
    ]
    assert list(contact.tags.values_list("name", flat=True)) == ["picked"]

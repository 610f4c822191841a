"""Browser journey: an administrator builds a rule in the builder (contact created, city is
Paris → create a task, wait 2 business days, update a field), creates a contact in the UI,
the worker runs the rule (the immediate task backend runs it on commit; the wait's end is
played by the sweep), the run history shows each step, and replay starts a new run."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rapport.accounts.models import Contact
from rapport.activities.models import Activity
from rapport.automation import engine
from rapport.automation.models import Rule, Run, Step
from rapport.conftest import shots_at_both_sizes, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "automation"


def test_admin_builds_a_rule_that_runs_on_a_contact_made_in_the_ui(page, personas, screenshot):
    page.context.set_default_timeout(60_000)  # a loaded CI machine
    sign_in(page, personas.admin)
    page.goto("/settings/automation/")
    page.get_by_role("link", name="New rule").first.click()
    page.fill("#id_name", "Paris welcome")
    page.select_option("#id_trigger_type", "record.created")
    page.select_option("#id_object_type", "contact")
    # Only the inputs of the chosen trigger show.
    expect(page.locator("#id_cron")).to_be_hidden()
    page.fill("#id_cond-0-field", "city")
    page.select_option("#id_cond-0-operator", "equals")
    page.fill("#id_cond-0-value", "Paris")
    page.select_option("#id_act-0-type", "create_task")
    page.fill("#id_act-0-subject", "Welcome call")
    expect(page.locator("#id_act-0-tag")).to_be_hidden()
    page.select_option("#id_act-1-type", "wait")
    page.fill("#id_act-1-business_days", "2")
    screenshot(page, f"{SHOTS}-builder-filling")
    page.get_by_role("button", name="Save rule").click()
    # Two rows were shown; the third step needs the saved form's fresh rows.
    page.get_by_role("heading", name="Run history").wait_for()
    rule = Rule.objects.get()
    page.get_by_role("link", name="Edit rule").click()
    page.select_option("#id_act-2-type", "update_fields")
    page.fill("#id_act-2-fields", "title=Paris prospect")
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-builder")
    page.get_by_role("button", name="Save rule").click()
    page.get_by_role("heading", name="Run history").wait_for()
    rule.refresh_from_db()
    assert [a["type"] for a in rule.actions] == ["create_task", "wait", "update_fields"]
    assert "Wait" in page.locator(".action-lines").inner_text()
    page.goto("/settings/automation/")
    assert "Paris welcome" in page.locator("table").inner_text()
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-rules")

    # A contact in Paris, made in the UI: the worker starts the run and parks it on the wait.
    page.goto("/contacts/new")
    page.fill("#id_first_name", "Amélie")
    page.fill("#id_last_name", "Poulain")
    page.fill("#id_city", "Paris")
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("h1:has-text('Amélie Poulain')")
    contact = Contact.objects.get(last_name="Poulain")
    run = Run.objects.get(rule=rule)
    assert run.state == "waiting" and run.object_id == contact.pk
    assert Activity.objects.filter(contact=contact, subject="Welcome call").count() == 1

    # Two business days later the sweep resumes it (the wait's end, moved to now).
    past = timezone.now() - datetime.timedelta(seconds=1)
    Step.objects.filter(run=run, path="1").update(output={"until": past.isoformat()})
    Run.objects.filter(pk=run.pk).update(next_run_at=past)
    assert engine.execute_due_runs() == 1
    run.refresh_from_db()
    assert run.state == "done", run.error
    assert Contact.objects.get(pk=contact.pk).title == "Paris prospect"

    page.goto(f"/settings/automation/{rule.pk}/")
    history = page.locator("table").inner_text()
    assert f"#{run.pk}" in history and "Done" in history
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-history")
    page.get_by_role("link", name=f"#{run.pk}").click()
    for kind in ("create_task", "wait", "update_fields"):
        expect(page.locator("main")).to_contain_text(kind)
    shots_at_both_sizes(page, screenshot, f"{SHOTS}-run")
    page.get_by_role("button", name="Replay").click()
    page.get_by_text("Replay").first.wait_for()
    replay = Run.objects.exclude(pk=run.pk).get()
    assert replay.replay_of_id == run.pk and replay.state in ("waiting", "done")
    # The replay is a run of its own: its task has its own key, so a second task exists.
    assert Activity.objects.filter(contact=contact, subject="Welcome call").count() == 2
    assert page.errors == []

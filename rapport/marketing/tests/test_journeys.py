"""Journeys are automation rules: presets create rules of the one engine that run; the
churn-risk trigger fires when a refresh moves a customer across the threshold; date rules
can fire on anniversaries."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.automation.engine import dispatch_pending
from rapport.automation.models import Rule, Run, TriggerEvent
from rapport.automation.schedules import fire_date_rules
from rapport.automation.services import rule_update
from rapport.consent.models import ConsentPurpose
from rapport.marketing import journeys
from rapport.webforms import services as form_services
from rapport.webforms.tests.conftest import answers, later

pytestmark = pytest.mark.django_db


def test_welcome_preset_creates_a_rule_that_runs_on_a_form(personas):
    ConsentPurpose.objects.create(slug="newsletter", name="Newsletter", policy_text="News.")
    client = Client()
    client.force_login(personas.admin)
    response = client.post("/marketing/journeys/preset/welcome")
    rule = Rule.objects.get(name="Welcome series after a web form")
    assert (
        response.status_code == 302
        and response["Location"] == f"/settings/automation/{rule.pk}/edit"
    )
    assert not rule.is_active and [a["type"] for a in rule.actions] == [
        "send_email",
        "wait",
        "send_email",
        "create_task",
    ]
    assert client.get(f"/settings/automation/{rule.pk}/edit").status_code == 200
    rule = rule_update(rule=rule, actor=personas.admin, data={"is_active": True})
    form = form_services.form_create(
        actor=personas.admin, data={"name": "Hello", "assign_user": personas.owner}
    )
    result = form_services.form_submit(
        form=form, data=answers(form), ip="198.51.100.1", now=later()
    )
    assert TriggerEvent.objects.filter(event_type="form.submitted").count() == 1
    dispatch_pending()
    run = Run.objects.get(rule=rule)
    assert (run.object_type, run.object_id) == ("lead", result.person.pk)


def test_black_friday_and_win_back_presets(personas):
    black_friday = journeys.preset_create(key="black_friday", actor=personas.admin)
    assert black_friday.trigger_type == "schedule"
    assert black_friday.trigger_config["cron"] == "0 9 * 11 4#4"
    # Next firing: Thanksgiving 2026 (26 November), 09:00 local; the journey waits a day.
    assert black_friday.actions[0] == {"type": "wait", "params": {"hours": 24}}
    from rapport.automation.schedules import next_cron_time

    fire = next_cron_time("0 9 * 11 4#4", datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC))
    assert fire.month == 11 and 22 <= fire.day <= 28 and fire.weekday() == 3
    win_back = journeys.preset_create(key="win_back", actor=personas.admin)
    assert win_back.trigger_type == "churn.risk_crossed"
    from rapport.records.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        journeys.preset_create(key="welcome", actor=personas.owner)


def test_churn_crossing_emits_only_for_upward_crossings(personas):
    from rapport.analytics.models import CustomerScore
    from rapport.analytics.services import churn_crossings_emit

    Rule.objects.create(
        name="wb", trigger_type="churn.risk_crossed", run_as=personas.admin, actions=[]
    )
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    beta = account_create(actor=personas.owner, fields={"name": "Beta"})
    gamma = account_create(actor=personas.owner, fields={"name": "Gamma"})
    now = timezone.now()
    rows = [
        CustomerScore(account_id=acme.pk, churn_risk=0.8, computed_at=now),  # 0.5 → 0.8: fires
        CustomerScore(account_id=beta.pk, churn_risk=0.9, computed_at=now),  # 0.75 → 0.9: was above
        CustomerScore(account_id=gamma.pk, churn_risk=0.95, computed_at=now),  # new: no "before"
    ]
    old = {("account", acme.pk): 0.5, ("account", beta.pk): 0.75}
    assert churn_crossings_emit(old, rows, 0.7) == 1
    event = TriggerEvent.objects.get(event_type="churn.risk_crossed")
    assert (event.object_type, event.object_id) == ("account", acme.pk)
    assert event.payload["before"] == 0.5 and event.payload["churn_risk"] == 0.8


def test_yearly_date_rule_fires_on_the_anniversary(personas):
    from rapport.automation.services import rule_create

    contact = contact_create(actor=personas.owner, fields={"last_name": "Born"})
    today = timezone.localdate()
    anniversary = today.replace(year=today.year - 3)
    from rapport.accounts.models import Contact

    date_field = "created_at"
    Contact.all_objects.filter(pk=contact.pk).update(
        **{
            date_field: timezone.make_aware(
                datetime.datetime.combine(anniversary, datetime.time(8))
            )
        }
    )
    rule = rule_create(
        actor=personas.admin,
        data={
            "name": "Anniversary",
            "trigger_type": "date.relative",
            "object_type": "contact",
            "trigger_config": {
                "field": date_field,
                "offset_days": 0,
                "at": "00:00",
                "yearly": True,
            },
            "actions": [{"type": "add_tag", "params": {"tag": "anniversary"}}],
        },
    )
    assert rule.trigger_config["yearly"] is True
    assert fire_date_rules() == 1
    assert fire_date_rules() == 0  # once per year
    run = Run.objects.get(rule=rule)
    assert run.object_id == contact.pk and str(today.year) in run.dedupe_key

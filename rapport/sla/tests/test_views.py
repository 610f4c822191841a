"""Settings → SLA policies, the case SLA panel and the `sla_due` filter."""

import pytest
import time_machine
from django.template import Context, Template
from django.test import Client

from rapport.cases.models import Case
from rapport.sla.models import SlaEscalation, SlaPolicy
from rapport.sla.policies import sla_policy_save
from rapport.sla.services import sla_on_case_event
from rapport.sla.tests.conftest import paris

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_adds_a_policy_with_escalations_in_settings(personas, office):
    client = client_for(personas.admin)
    assert client.get("/settings/sla/").status_code == 200
    response = client.post(
        "/settings/sla/",
        {
            "name": "Gold",
            "position": 0,
            "is_active": "on",
            "tiers": ["gold"],
            "first_response_minutes": 60,
            "resolution_minutes": 480,
            "calendar": office.pk,
            "pause_statuses": ["pending_customer"],
            "warn_percent_before": 20,
            "breach_notify_owner": "on",
            "second_raise_priority": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = SlaPolicy.objects.get()
    assert (policy.tiers, policy.calendar, policy.pause_statuses) == (
        ["gold"],
        office,
        ["pending_customer"],
    )
    levels = {e.level: e for e in SlaEscalation.objects.filter(policy=policy)}
    assert set(levels) == {"breach", "second"}
    assert levels["breach"].notify_owner and levels["second"].raise_priority
    page = client.get(f"/settings/sla/{policy.pk}/")
    assert page.status_code == 200 and b"Gold" in page.content


def test_a_bad_policy_form_shows_the_error_and_saves_nothing(personas):
    response = client_for(personas.admin).post("/settings/sla/", {"name": "Empty", "position": 0})
    assert response.status_code == 400
    assert b"Give at least one target" in response.content
    assert not SlaPolicy.objects.exists()


def test_agents_cannot_open_sla_settings(personas):
    assert client_for(personas.owner).get("/settings/sla/").status_code == 403
    assert client_for(personas.manager).post("/settings/sla/", {"name": "x"}).status_code == 403


def _case_with_clock(admin, office, **policy):
    sla_policy_save(
        actor=admin,
        data={"name": "Standard", "first_response_minutes": 240, "calendar": office, **policy},
    )
    with time_machine.travel(paris(2026, 5, 4, 9), tick=False):
        case = Case.objects.create(number=7, subject="Invoice wrong")
        sla_on_case_event(case=case, event="created")
    case.refresh_from_db()
    return case


def test_case_panel_shows_due_in_business_time_and_history(personas, office):
    case = _case_with_clock(personas.admin, office)
    # Monday 09:00 + 240 = 14:00 (lunch excluded); at 10:47, 133 business minutes are left.
    with time_machine.travel(paris(2026, 5, 4, 10, 47), tick=False):
        response = client_for(personas.admin).get(f"/sla/case/{case.pk}/panel/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "due in 2 h 13 min (business time)" in html
    assert "Started · first response" in html
    # Breached 40 business minutes ago at 14:40.
    with time_machine.travel(paris(2026, 5, 4, 14, 40), tick=False):
        html = client_for(personas.admin).get(f"/sla/case/{case.pk}/panel/").content.decode()
    assert "breached 40 min ago (business time)" in html


def test_case_panel_shows_a_paused_clock(personas, office):
    case = _case_with_clock(personas.admin, office)
    with time_machine.travel(paris(2026, 5, 4, 10), tick=False):
        case.status = "pending_customer"
        case.save(update_fields=["status"])
        sla_on_case_event(case=case, event="status_changed")
        html = client_for(personas.admin).get(f"/sla/case/{case.pk}/panel/").content.decode()
    assert "The clock is paused" in html
    assert "paused, 3 h left" in html


def test_case_panel_is_hidden_from_users_who_cannot_see_the_case(personas, office):
    case = _case_with_clock(personas.admin, office)
    assert client_for(personas.outsider).get(f"/sla/case/{case.pk}/panel/").status_code == 404


def test_sla_due_filter_for_case_lists(personas, office, django_assert_max_num_queries):
    case = _case_with_clock(personas.admin, office)
    template = Template("{% load sla %}{{ case|sla_due }}")
    with time_machine.travel(paris(2026, 5, 4, 10, 47), tick=False):
        row = Case.objects.select_related("sla_clock__policy__calendar").get(pk=case.pk)
        template.render(Context({"case": row}))  # loads the calendar once per process
        with django_assert_max_num_queries(0):
            text = template.render(Context({"case": row}))
    assert text == "due in 2 h 13 min (business time)"
    case.status = "on_hold"
    case.save(update_fields=["status"])
    sla_on_case_event(case=case, event="status_changed")
    row = Case.objects.select_related("sla_clock__policy__calendar").get(pk=case.pk)
    assert template.render(Context({"case": row})) == "paused"
    untracked = Case.objects.create(number=8, subject="No clock")
    assert template.render(Context({"case": untracked})) == ""

"""The case-event hook and recomputation, with a frozen clock (hand-computed times: see
the comment of each test; office hours are Monday–Friday 09:00–12:00 + 13:00–17:00 Paris)."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from rapport.calendars.services import calendar_save
from rapport.cases.models import CaseCategory
from rapport.conftest import TWO_PERIODS
from rapport.records.exceptions import PermissionDenied
from rapport.sla.models import SlaClock, SlaEvent, SlaPolicy
from rapport.sla.policies import sla_policy_save
from rapport.sla.services import policy_for_case, sla_on_case_event, sla_recompute
from rapport.sla.tests.conftest import UTC, paris

pytestmark = pytest.mark.django_db


def policy(admin, name="Standard", **data):
    data.setdefault("first_response_minutes", 60)
    data.setdefault("resolution_minutes", 420)
    return sla_policy_save(actor=admin, data={"name": name, **data})


def kinds(case):
    return [(e.metric, e.kind) for e in SlaEvent.objects.filter(case=case).order_by("at", "id")]


def test_a_new_case_gets_its_due_times(personas, office, new_case):
    policy(personas.admin, calendar=office)
    with time_machine.travel(paris(2026, 5, 4, 10), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    case.refresh_from_db()
    # First response: Monday 10:00 + 60 = 11:00 Paris = 09:00 UTC. Resolution: 10–12 (120)
    # + 13–17 (240) = 360, Tuesday 09:00 + 60 = 10:00 Paris = 08:00 UTC.
    assert case.first_response_due_at == datetime.datetime(2026, 5, 4, 9, tzinfo=UTC)
    assert case.resolution_due_at == datetime.datetime(2026, 5, 5, 8, tzinfo=UTC)
    assert case.next_response_due_at is None
    assert case.due_at == case.first_response_due_at
    assert kinds(case) == [
        ("", "opened"),
        ("first_response", "started"),
        ("resolution", "started"),
    ]
    assert SlaClock.objects.get(case=case).next_check_at == case.first_response_due_at


def test_the_first_matching_policy_applies(personas, new_case):
    billing = CaseCategory.objects.create(name="Billing")
    urgent = policy(personas.admin, "Urgent", position=0, priorities=["urgent"])
    gold_billing = sla_policy_save(
        actor=personas.admin,
        data={"name": "Gold billing", "position": 1, "tiers": ["gold"], "resolution_minutes": 60},
        categories=[billing],
    )
    fallback = policy(personas.admin, "Everyone", position=2)
    assert policy_for_case(new_case(priority="urgent", tier="gold", category=billing)) == urgent
    assert policy_for_case(new_case(tier="gold", category=billing)) == gold_billing
    assert policy_for_case(new_case(tier="gold")) == fallback
    assert policy_for_case(new_case(tier="silver", subcategory=billing)) == fallback


def test_no_policy_no_due_times(personas, new_case):
    case = new_case()
    sla_on_case_event(case=case, event="created")
    case.refresh_from_db()
    assert case.due_at is None
    assert kinds(case) == [("", "opened")]


def test_pending_customer_pauses_and_reopening_resumes(personas, office, new_case):
    policy(personas.admin, calendar=office, first_response_minutes=None)
    with time_machine.travel(paris(2026, 5, 4, 9), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    with time_machine.travel(paris(2026, 5, 4, 10), tick=False):
        case.status = "pending_customer"
        case.save(update_fields=["status"])
        sla_on_case_event(case=case, event="status_changed")
        sla_on_case_event(case=case, event="status_changed")  # a repeated call adds nothing
    case.refresh_from_db()
    assert case.resolution_due_at is None and case.due_at is None
    assert SlaClock.objects.get(case=case).next_check_at is None
    with time_machine.travel(paris(2026, 5, 5, 14), tick=False):
        case.status = "open"
        case.save(update_fields=["status"])
        sla_on_case_event(case=case, event="status_changed")
    case.refresh_from_db()
    # 60 spent Monday; 360 left from Tuesday 14:00: 14–17 (180), Wednesday 9–12 (180).
    assert case.resolution_due_at == datetime.datetime(2026, 5, 6, 10, tzinfo=UTC)
    assert kinds(case) == [
        ("", "opened"),
        ("resolution", "started"),
        ("", "status"),
        ("resolution", "paused"),
        ("", "status"),
        ("resolution", "resumed"),
    ]
    paused = SlaEvent.objects.get(case=case, kind="paused")
    assert paused.business_minutes_elapsed == 60


def test_agent_reply_meets_the_first_response(personas, office, new_case):
    policy(personas.admin, calendar=office, next_response_minutes=60)
    with time_machine.travel(paris(2026, 5, 4, 9), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    sla_on_case_event(case=case, event="agent_replied", at=paris(2026, 5, 4, 9, 45))
    case.refresh_from_db()
    assert case.first_response_due_at is None
    met = SlaEvent.objects.get(case=case, kind="met", metric="first_response")
    assert (met.business_minutes_elapsed, met.payload) == (45, {"breached": False})
    # A customer message at 16:30 starts next-response cycle 1: 30 min Monday, Tuesday
    # 09:00 → 09:30 Paris = 07:30 UTC.
    sla_on_case_event(case=case, event="customer_replied", at=paris(2026, 5, 4, 16, 30))
    case.refresh_from_db()
    assert case.next_response_due_at == datetime.datetime(2026, 5, 5, 7, 30, tzinfo=UTC)
    assert SlaEvent.objects.filter(
        case=case, kind="started", metric="next_response", cycle=1
    ).exists()


def test_a_policy_change_mid_case_recomputes_from_the_opening(personas, office, new_case):
    policy(personas.admin, "Normal", position=1, calendar=office, resolution_minutes=840)
    policy(
        personas.admin,
        "Urgent",
        position=0,
        calendar=office,
        priorities=["urgent"],
        resolution_minutes=240,
    )
    with time_machine.travel(paris(2026, 5, 4, 9), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    case.refresh_from_db()
    # Normal: 840 = two office days → Tuesday 17:00 Paris = 15:00 UTC.
    assert case.resolution_due_at == datetime.datetime(2026, 5, 5, 15, tzinfo=UTC)
    with time_machine.travel(paris(2026, 5, 4, 11), tick=False):
        case.priority = "urgent"
        case.save(update_fields=["priority"])
        sla_on_case_event(case=case, event="fields_changed")
    case.refresh_from_db()
    # Urgent counts from the opening: 09–12 (180) + 13:00–14:00 (60) = 14:00 Paris.
    assert case.resolution_due_at == datetime.datetime(2026, 5, 4, 12, tzinfo=UTC)
    change = SlaEvent.objects.get(case=case, kind="policy_changed")
    assert change.payload == {"from": "Normal", "to": "Urgent"}
    assert SlaClock.objects.get(case=case).policy.name == "Urgent"
    from rapport.timeline.models import TimelineEvent

    assert TimelineEvent.objects.filter(case=case, kind="sla").count() == 1


def test_recompute_applies_a_changed_calendar(personas, office, new_case):
    policy(personas.admin, calendar=office)
    with time_machine.travel(paris(2026, 5, 4, 10), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    with time_machine.travel(paris(2026, 5, 4, 10, 5), tick=False):
        # The office closes on Monday 4 May after all: first response moves to Tuesday
        # 09:00 → 10:00 Paris = 08:00 UTC.
        calendar_save(
            actor=personas.admin,
            name="Office",
            time_zone="Europe/Paris",
            week={d: TWO_PERIODS for d in range(5)},
            holiday_country="FR",
            closed_days=[(datetime.date(2026, 5, 4), "Strike")],
            calendar=office,
        )
        assert sla_recompute() == 1
    case.refresh_from_db()
    assert case.first_response_due_at == datetime.datetime(2026, 5, 5, 8, tzinfo=UTC)


def test_unknown_case_event_is_refused(new_case):
    with pytest.raises(ValueError, match="unknown SLA case event"):
        sla_on_case_event(case=new_case(), event="exploded")


def test_policy_validation_names_the_field(personas):
    with pytest.raises(ValidationError) as error:
        policy(personas.admin, priorities=["sometimes"])
    assert "priorities" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        policy(personas.admin, first_response_minutes=-5)
    assert "first_response_minutes" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        policy(personas.admin, escalate_in_business_hours_only=True)
    assert "escalation_calendar" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        policy(personas.admin, pause_statuses=["resolved"])
    assert "pause_statuses" in error.value.message_dict
    assert not SlaPolicy.objects.exists()


def test_only_admins_change_policies(personas):
    with pytest.raises(PermissionDenied):
        policy(personas.manager)

"""The scheduler's pass with a frozen clock: warnings and breaches at the right business
minute, exactly once, with their actions; escalations held outside business hours."""

import datetime

import pytest
import time_machine

from rapport.cases.models import Queue, QueueMember
from rapport.notifications.models import Notification
from rapport.sla.models import SlaClock, SlaEvent
from rapport.sla.policies import sla_policy_save
from rapport.sla.services import sla_escalations_run, sla_on_case_event
from rapport.sla.tests.conftest import UTC, paris
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def run_at(moment):
    with time_machine.travel(moment, tick=False):
        return sla_escalations_run()


def opened_case(new_case, moment, **fields):
    with time_machine.travel(moment, tick=False):
        case = new_case(**fields)
        sla_on_case_event(case=case, event="created")
    return case


def test_warning_and_breach_at_the_right_business_minute_once(personas, office, new_case):
    sla_policy_save(
        actor=personas.admin,
        data={
            "name": "Standard",
            "first_response_minutes": 240,
            "warn_minutes_before": 30,
            "calendar": office,
        },
        escalations={
            "warning": {"notify_owner": True},
            "breach": {"notify_user": personas.manager},
        },
    )
    # Friday 15 May 15:00 → 17:00 (120); Monday 18 May: warning at 210 = 10:30 Paris,
    # breach at 240 = 11:00 Paris.
    case = opened_case(new_case, paris(2026, 5, 15, 15), owner=personas.owner)
    run_at(paris(2026, 5, 18, 10, 29))
    assert not SlaEvent.objects.filter(case=case, kind="warned").exists()
    assert run_at(paris(2026, 5, 18, 10, 30)) == 1
    warned = SlaEvent.objects.get(case=case, kind="warned")
    assert warned.at == datetime.datetime(2026, 5, 18, 8, 30, tzinfo=UTC)
    assert warned.business_minutes_elapsed == 210
    notes = Notification.objects.filter(recipient=personas.owner)
    assert [n.title for n in notes] == [
        f"SLA warning on case #{case.number}: first response due soon"
    ]
    assert notes[0].link == f"/cases/{case.pk}/"
    # The next check is the breach; a second pass in the same minute does nothing.
    assert SlaClock.objects.get(case=case).next_check_at == datetime.datetime(
        2026, 5, 18, 9, tzinfo=UTC
    )
    assert run_at(paris(2026, 5, 18, 10, 30)) == 0
    run_at(paris(2026, 5, 18, 11))
    breached = SlaEvent.objects.get(case=case, kind="breached")
    assert breached.at == datetime.datetime(2026, 5, 18, 9, tzinfo=UTC)
    assert Notification.objects.filter(recipient=personas.manager).count() == 1
    assert Notification.objects.filter(recipient=personas.owner).count() == 1  # warning only
    run_at(paris(2026, 5, 18, 12))
    assert SlaEvent.objects.filter(case=case, kind__in=["warned", "breached"]).count() == 2
    timeline = TimelineEvent.objects.filter(case=case, kind="sla").order_by("occurred_at")
    assert [e.payload["event"] for e in timeline] == ["warned", "breached"]
    assert timeline[1].payload["metric"] == "first_response"
    assert SlaClock.objects.get(case=case).next_check_at is None


def test_a_reply_before_the_breach_means_no_breach(personas, office, new_case):
    sla_policy_save(
        actor=personas.admin,
        data={"name": "Standard", "first_response_minutes": 60, "calendar": office},
        escalations={"breach": {"notify_owner": True}},
    )
    case = opened_case(new_case, paris(2026, 5, 4, 9), owner=personas.owner)
    sla_on_case_event(case=case, event="agent_replied", at=paris(2026, 5, 4, 9, 59))
    run_at(paris(2026, 5, 4, 12))
    assert not SlaEvent.objects.filter(case=case, kind="breached").exists()
    assert not Notification.objects.exists()


def test_escalations_wait_for_business_hours(personas, office, new_case):
    # A 24×7 clock (first response 60) whose escalations go out only in office hours.
    sla_policy_save(
        actor=personas.admin,
        data={
            "name": "Urgent",
            "first_response_minutes": 60,
            "escalate_in_business_hours_only": True,
            "escalation_calendar": office,
        },
        escalations={"breach": {"notify_owner": True}},
    )
    # Friday 15 May 16:30 + 60 real minutes = breach at 17:30 Paris, after closing.
    case = opened_case(new_case, paris(2026, 5, 15, 16, 30), owner=personas.owner)
    run_at(paris(2026, 5, 15, 17, 31))
    run_at(
        datetime.datetime(2026, 5, 16, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    )
    assert not SlaEvent.objects.filter(case=case, kind="breached").exists()
    assert not Notification.objects.exists()
    # Held until Monday 18 May 09:00 Paris = 07:00 UTC.
    assert SlaClock.objects.get(case=case).next_check_at == datetime.datetime(
        2026, 5, 18, 7, tzinfo=UTC
    )
    run_at(paris(2026, 5, 18, 9))
    breached = SlaEvent.objects.get(case=case, kind="breached")
    assert breached.at == datetime.datetime(2026, 5, 15, 15, 30, tzinfo=UTC)  # when it happened
    assert breached.payload["sent_at"] == "2026-05-18T07:00:00+00:00"  # when it was sent
    assert Notification.objects.filter(recipient=personas.owner).count() == 1


def test_second_level_reassigns_and_raises_priority(personas, office, new_case):
    escalated = Queue.objects.create(name="Escalations")
    QueueMember.objects.create(queue=escalated, user=personas.teammate)
    first_line = Queue.objects.create(name="First line")
    QueueMember.objects.create(queue=first_line, user=personas.owner)
    sla_policy_save(
        actor=personas.admin,
        data={
            "name": "Standard",
            "first_response_minutes": 60,
            "second_level_after_minutes": 120,
            "calendar": office,
        },
        escalations={
            "breach": {"notify_queue": True},
            "second": {
                "reassign_queue": escalated,
                "reassign_user": personas.teammate,
                "raise_priority": True,
            },
        },
    )
    # Monday 4 May 09:00: breach at 10:00, second level at 180 = 09–12 → 12:00 Paris
    # (10:00 UTC).
    case = opened_case(new_case, paris(2026, 5, 4, 9), queue=first_line)
    run_at(paris(2026, 5, 4, 10))
    assert Notification.objects.filter(recipient=personas.owner).count() == 1  # queue member
    run_at(paris(2026, 5, 4, 11, 59))
    case.refresh_from_db()
    assert (case.queue, case.priority) == (first_line, "normal")
    run_at(paris(2026, 5, 4, 12))
    case.refresh_from_db()
    assert (case.queue, case.owner, case.priority) == (escalated, personas.teammate, "high")
    event = SlaEvent.objects.get(case=case, kind="escalated")
    assert event.at == datetime.datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert event.business_minutes_elapsed == 180


def test_a_threshold_claimed_by_another_scheduler_is_not_repeated(personas, new_case):
    sla_policy_save(
        actor=personas.admin,
        data={"name": "24x7", "first_response_minutes": 60},
        escalations={"breach": {"notify_owner": True}},
    )
    case = opened_case(new_case, paris(2026, 5, 4, 9), owner=personas.owner)
    # The other scheduler wrote the breach between our read and our write: our claim
    # fails on the unique constraint and our actions are not run.
    SlaEvent.objects.create(
        case=case, metric="first_response", kind="breached", at=paris(2026, 5, 4, 10)
    )
    from rapport.sla import services

    original = services._claimed
    services._claimed = lambda ids: {}
    try:
        run_at(paris(2026, 5, 4, 10, 1))
    finally:
        services._claimed = original
    assert SlaEvent.objects.filter(case=case, kind="breached").count() == 1
    assert not Notification.objects.exists()
    assert SlaClock.objects.get(case=case).next_check_at is None

"""A hand-built service desk whose metrics are known (worked out in test_metrics.py).

Week of Monday 4 May 2026, site time zone UTC. Queue "Desk" has no calendar (the default:
Mon–Fri 09:00–17:00); queue "Mornings" has its own calendar: Mon–Fri 08:00–12:00.
"""

import datetime
from dataclasses import dataclass

import pytest

from rapport.calendars.models import BusinessCalendar, BusinessPeriod
from rapport.cases.models import (
    Case,
    CaseCategory,
    CaseChannel,
    CaseEntry,
    CaseEntryKind,
    CaseStatus,
    Queue,
    QueueMember,
)

UTC = datetime.UTC
NOW = datetime.datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
START = datetime.date(2026, 5, 4)
END = datetime.date(2026, 5, 17)


def at(month, day, hour, minute=0):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=UTC)


_numbers = iter(range(1000, 100000))


def make_case(*, created_at, number=None, **fields) -> Case:
    case = Case.objects.create(
        number=number or next(_numbers), subject=fields.pop("subject", "A case"), **fields
    )
    Case.objects.filter(pk=case.pk).update(created_at=created_at)
    case.created_at = created_at
    return case


def entry(case, kind, author, when):
    return CaseEntry.objects.create(case=case, kind=kind, author=author, created_at=when)


@dataclass
class Desk:
    desk: Queue
    mornings: Queue
    billing: CaseCategory
    login: CaseCategory
    cases: dict


@pytest.fixture
def desk(personas, settings) -> Desk:
    settings.TIME_ZONE = "UTC"
    owner, teammate = personas.owner, personas.teammate
    calendar = BusinessCalendar.objects.create(name="Mornings", time_zone="UTC")
    for weekday in range(5):
        BusinessPeriod.objects.create(
            calendar=calendar, weekday=weekday, start=datetime.time(8), end=datetime.time(12)
        )
    desk = Queue.objects.create(name="Desk")
    mornings = Queue.objects.create(name="Mornings", calendar=calendar)
    QueueMember.objects.create(queue=mornings, user=teammate)
    billing = CaseCategory.objects.create(name="Billing")
    login = CaseCategory.objects.create(name="Login")
    c = {}
    c["c1"] = make_case(
        created_at=at(5, 4, 10),
        queue=desk,
        channel=CaseChannel.EMAIL,
        category=billing,
        owner=owner,
        status=CaseStatus.RESOLVED,
        first_response_at=at(5, 4, 10, 30),
        resolved_at=at(5, 4, 12),
        first_response_due_at=at(5, 4, 11),
        resolution_due_at=at(5, 4, 17),
    )
    c["c2"] = make_case(
        created_at=at(5, 8, 16),
        queue=desk,
        channel=CaseChannel.PHONE,
        category=billing,
        owner=owner,
        status=CaseStatus.CLOSED,
        first_response_at=at(5, 11, 10),
        resolved_at=at(5, 12, 10),
        first_response_due_at=at(5, 8, 17),
        resolution_due_at=at(5, 12, 9),
        reopened_count=1,
    )
    c["c3"] = make_case(
        created_at=at(5, 4, 11),
        queue=mornings,
        channel=CaseChannel.CHAT,
        category=login,
        owner=teammate,
        status=CaseStatus.RESOLVED,
        first_response_at=at(5, 4, 13),
        resolved_at=at(5, 5, 9),
    )
    c["c4"] = make_case(
        created_at=at(5, 9, 10),
        queue=desk,
        channel=CaseChannel.EMAIL,
        status=CaseStatus.OPEN,
        first_response_at=at(5, 9, 11),
        first_response_due_at=at(5, 11, 10),
        resolution_due_at=at(5, 11, 17),
    )
    c["c5"] = make_case(
        created_at=at(5, 5, 9),
        queue=desk,
        channel=CaseChannel.EMAIL,
        category=billing,
        status=CaseStatus.NEW,
        first_response_due_at=at(5, 5, 13),
        resolution_due_at=at(6, 1, 9),
    )
    # Outside the range: an old pending case (backlog > 30 days), a fresh one (< 1 day).
    c["c6"] = make_case(created_at=at(4, 1, 9), queue=desk, status=CaseStatus.PENDING_CUSTOMER)
    c["c7"] = make_case(created_at=at(5, 20, 10), queue=desk, status=CaseStatus.NEW)
    # Never counted: deleted, merged.
    c["deleted"] = make_case(
        created_at=at(5, 6, 10), queue=desk, deleted_at=at(5, 6, 11), status=CaseStatus.NEW
    )
    c["merged"] = make_case(
        created_at=at(5, 6, 10), queue=desk, merged_into=c["c1"], status=CaseStatus.CLOSED
    )
    entry(c["c1"], CaseEntryKind.CUSTOMER, None, at(5, 4, 10))
    entry(c["c1"], CaseEntryKind.REPLY, owner, at(5, 4, 10, 30))
    entry(c["c2"], CaseEntryKind.REPLY, owner, at(5, 11, 10))
    entry(c["c2"], CaseEntryKind.REPLY, owner, at(5, 18, 10))  # after the range
    entry(c["c3"], CaseEntryKind.REPLY, teammate, at(5, 4, 13))
    entry(c["c3"], CaseEntryKind.NOTE, teammate, at(5, 4, 12))
    entry(c["deleted"], CaseEntryKind.REPLY, teammate, at(5, 6, 10))
    # The SLA clock's events for the cases with targets (what rapport.sla writes): c1 met
    # both in time; c2 answered and resolved late; c4 answered in time, resolution overdue
    # (still running); c5 first response overdue, resolution pending. c3 has no policy.
    for case in ("c1", "c2", "c4", "c5"):
        for metric in ("first_response", "resolution"):
            sla_event(c[case], metric, "started", c[case].created_at)
    sla_event(c["c1"], "first_response", "met", at(5, 4, 10, 30), breached=False)
    sla_event(c["c1"], "resolution", "met", at(5, 4, 12), breached=False)
    sla_event(c["c2"], "first_response", "met", at(5, 11, 10), breached=True)
    sla_event(c["c2"], "resolution", "met", at(5, 12, 10), breached=True)
    sla_event(c["c4"], "first_response", "met", at(5, 9, 11), breached=False)
    return Desk(desk, mornings, billing, login, c)


def sla_event(case, metric, kind, when, **payload):
    from rapport.sla.models import SlaEvent

    SlaEvent.objects.create(case=case, metric=metric, kind=kind, at=when, payload=payload)

"""Each metric on the hand-built desk of conftest.py, with the answers worked out by hand."""

import datetime

import numpy as np
import pytest

from rapport.analytics.service.metrics import (
    MetricsFilter,
    business_minutes_vector,
    service_cases_for,
    service_metrics,
)
from rapport.calendars.clock import CalendarSpec, business_minutes_between
from rapport.records.exceptions import PermissionDenied

from .conftest import END, NOW, START

pytestmark = pytest.mark.django_db


def metrics(user, **filters):
    return service_metrics(
        user=user, filters=MetricsFilter(start=START, end=END, **filters), now=NOW
    )


def test_volume_by_category_channel_hour_and_weekday(desk, personas):
    volume = metrics(personas.admin)["volume"]
    assert volume["total"] == 5  # c1–c5; old, fresh, deleted and merged cases are not
    assert [(r["name"], r["cases"]) for r in volume["by_category"]] == [
        ("Billing", 3),
        ("Login", 1),
        ("Uncategorised", 1),
    ]
    channels = {r["channel"]: r["cases"] for r in volume["by_channel"]}
    assert channels == {**dict.fromkeys(channels, 0), "email": 3, "phone": 1, "chat": 1}
    hours = {r["hour"]: r["cases"] for r in volume["by_hour"] if r["cases"]}
    assert hours == {9: 1, 10: 2, 11: 1, 16: 1}
    weekdays = {r["label"]: r["cases"] for r in volume["by_weekday"] if r["cases"]}
    assert weekdays == {"Mon": 2, "Tue": 1, "Fri": 1, "Sat": 1}


def test_first_response_and_resolution_in_business_minutes(desk, personas):
    m = metrics(personas.admin)
    # First response of c1 30, c2 120 (Fri 16:00 → Mon 10:00), c3 60 on the mornings
    # calendar (11:00 → 13:00, closed at 12:00), c4 0 (a Saturday): median 45, p90 102.
    assert m["first_response"] == {
        "cases": 4,
        "median_minutes": 45.0,
        "p90_minutes": 102.0,
        "mean_minutes": 52.5,
    }
    # Resolved in the range: c1 120, c2 600 (60 + 480 + 60), c3 120 (60 + 60).
    assert m["resolution"]["cases"] == 3
    assert m["resolution"]["median_minutes"] == 120.0
    assert m["resolution"]["p90_minutes"] == 504.0


def test_sla_attainment_counts_known_outcomes_only(desk, personas):
    sla = metrics(personas.admin)["sla"]
    # First response: c1 met, c2 late, c4 met, c5 never answered and past due.
    assert sla["first_response"] == {"met": 2, "measured": 4, "pending": 0, "attainment": 0.5}
    # Resolution: c1 met, c2 late, c4 open past due; c5 is due in June (pending).
    assert sla["resolution"] == {"met": 1, "measured": 3, "pending": 1, "attainment": 0.3333}
    assert sla["cases_without_targets"] == 1  # c3


def test_backlog_by_age_and_reopen_rate(desk, personas):
    m = metrics(personas.admin)
    buckets = {b["label"]: b["cases"] for b in m["backlog"]["buckets"]}
    assert m["backlog"]["open"] == 4  # c4, c5, c6, c7
    assert buckets == {"< 1 day": 1, "1–3 days": 0, "3–7 days": 0, "7–30 days": 2, "> 30 days": 1}
    assert m["reopen"] == {"cases": 5, "reopened": 1, "rate": 0.2}


def test_agents_resolved_replies_and_median_handle_time(desk, personas):
    agents = {a["name"]: a for a in metrics(personas.admin)["agents"]}
    assert agents["Olga Owner"]["resolved"] == 2
    assert agents["Olga Owner"]["replies"] == 2  # the reply after the range does not count
    assert agents["Olga Owner"]["median_handle_minutes"] == 360.0  # median of 120 and 600
    assert agents["teammate"]["resolved"] == 1
    assert agents["teammate"]["replies"] == 1  # notes and the deleted case's reply do not count
    assert agents["teammate"]["median_handle_minutes"] == 120.0


def test_filters_by_queue_category_and_channel(desk, personas):
    assert metrics(personas.admin, queue_id=desk.mornings.pk)["volume"]["total"] == 1
    assert metrics(personas.admin, category_id=desk.billing.pk)["volume"]["total"] == 3
    by_email = metrics(personas.admin, channel="email")
    assert by_email["volume"]["total"] == 3
    assert by_email["first_response"]["cases"] == 2  # c1 30, c4 0


def test_queue_members_see_their_queues_only(desk, personas):
    assert set(service_cases_for(personas.teammate)) == {desk.cases["c3"]}
    assert metrics(personas.teammate)["volume"]["total"] == 1
    assert metrics(personas.manager)["volume"]["total"] == 5
    with pytest.raises(PermissionDenied):
        service_cases_for(personas.outsider)


def test_empty_range_has_no_figures(desk, personas):
    m = service_metrics(
        user=personas.admin,
        filters=MetricsFilter(start=datetime.date(2025, 1, 1), end=datetime.date(2025, 1, 7)),
        now=NOW,
    )
    assert m["volume"]["total"] == 0
    assert m["first_response"]["median_minutes"] is None
    assert m["sla"]["first_response"]["attainment"] is None
    assert m["reopen"]["rate"] is None
    assert m["agents"] == []


def test_vectorised_business_minutes_agree_with_the_clock():
    spec = CalendarSpec(
        time_zone="Europe/Berlin",
        periods={
            d: [(datetime.time(8), datetime.time(12)), (datetime.time(13), datetime.time(17, 30))]
            for d in range(6)
        },
        holiday_country="DE",
    )
    rng = np.random.default_rng(7)
    base = datetime.datetime(2026, 3, 20, tzinfo=datetime.UTC).timestamp()  # spans the DST change
    a = base + rng.uniform(0, 20 * 86400, 300)
    b = a + rng.uniform(-3600, 9 * 86400, 300)
    got = business_minutes_vector(spec, a, b)
    want = [
        business_minutes_between(
            spec,
            datetime.datetime.fromtimestamp(x, datetime.UTC),
            datetime.datetime.fromtimestamp(y, datetime.UTC),
        )
        for x, y in zip(a, b, strict=True)
    ]
    assert np.allclose(got, want, atol=1e-6)

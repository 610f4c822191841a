"""The pure SLA clock against a table of hand-computed cases.

The office calendar: Monday–Friday 09:00–12:00 and 13:00–17:00 (7 open hours a day),
Europe/Paris, French public holidays (2026: 8 May Victory Day, 14 May Ascension,
25 May Whit Monday). Paris is UTC+1 in winter and UTC+2 in summer; the clocks change on
Sunday 29 March and Sunday 25 October 2026. Every expected instant below is in UTC and
was worked out by hand; the comment on each row shows the sum.
"""

import datetime

import pytest

from rapport.calendars.clock import (
    CalendarSpec,
    add_business_minutes,
    business_minutes_between,
    is_open_at,
    next_opening,
)
from rapport.conftest import TWO_PERIODS
from rapport.sla.clock import MET, PAUSED, RUNNING, STOPPED, ClockInput, ClockRules, compute_clock

PARIS = datetime.timezone(datetime.timedelta(hours=2))  # CEST, for readable summer rows
CET = datetime.timezone(datetime.timedelta(hours=1))
UTC = datetime.UTC
OFFICE = CalendarSpec(
    time_zone="Europe/Paris", periods={d: TWO_PERIODS for d in range(5)}, holiday_country="FR"
)


def at(y, mo, d, h, mi=0, tz=PARIS):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=tz)


def opened(when, status="new"):
    return ClockInput(at=when, kind="opened", status=status)


# (label, spec, opened at, target minutes, expected due instant (UTC))
FIRST_RESPONSE_TABLE = [
    # Monday 4 May 10:00 + 60 min = 11:00 Paris = 09:00 UTC.
    ("same period", OFFICE, at(2026, 5, 4, 10), 60, datetime.datetime(2026, 5, 4, 9, tzinfo=UTC)),
    # 11:30 → 12:00 (30) lunch, 13:00 → 13:30 (30) = 13:30 Paris = 11:30 UTC.
    (
        "over lunch",
        OFFICE,
        at(2026, 5, 4, 11, 30),
        60,
        datetime.datetime(2026, 5, 4, 11, 30, tzinfo=UTC),
    ),
    # Friday 15 May 16:00 → 17:00 (60), weekend, Monday 18 May 09:00 → 10:00 (60) = 08:00 UTC.
    ("weekend", OFFICE, at(2026, 5, 15, 16), 120, datetime.datetime(2026, 5, 18, 8, tzinfo=UTC)),
    # Thursday 7 May 16:30 → 17:00 (30); Friday 8 May is Victory Day; Monday 11 May
    # 09:00 → 10:30 (90) = 08:30 UTC.
    (
        "public holiday",
        OFFICE,
        at(2026, 5, 7, 16, 30),
        120,
        datetime.datetime(2026, 5, 11, 8, 30, tzinfo=UTC),
    ),
    # Wednesday 13 May 16:00 → 17:00 (60); Thursday 14 May Ascension; Friday 15 May
    # 09:00 → 12:00 (180), 13:00 → 14:00 (60): 300 min = Friday 14:00 Paris = 12:00 UTC.
    (
        "holiday mid-week, two periods",
        OFFICE,
        at(2026, 5, 13, 16),
        300,
        datetime.datetime(2026, 5, 15, 12, tzinfo=UTC),
    ),
    # DST spring: Friday 27 March 16:00 CET (15:00 UTC) → 17:00 (60); the clocks go
    # forward on Sunday; Monday 30 March 09:00 → 10:00 CEST (60) = 08:00 UTC.
    (
        "DST spring over a weekend",
        OFFICE,
        at(2026, 3, 27, 16, tz=CET),
        120,
        datetime.datetime(2026, 3, 30, 8, tzinfo=UTC),
    ),
    # DST autumn: Friday 23 Oct 16:00 CEST (14:00 UTC) → 17:00 (60); the clocks go back
    # on Sunday; Monday 26 Oct 09:00 → 10:00 CET (60) = 09:00 UTC.
    (
        "DST autumn over a weekend",
        OFFICE,
        at(2026, 10, 23, 16),
        120,
        datetime.datetime(2026, 10, 26, 9, tzinfo=UTC),
    ),
    # 24×7 over the spring change: Saturday 28 March 23:00 CET = 22:00 UTC, + 4 real
    # hours = Sunday 02:00 UTC (04:00 CEST; the wall clock shows five hours later).
    (
        "24x7 over DST",
        None,
        at(2026, 3, 28, 23, tz=CET),
        240,
        datetime.datetime(2026, 3, 29, 2, tzinfo=UTC),
    ),
    # Opened on a Saturday: counting starts Monday 18 May 09:00 → 09:45 = 07:45 UTC.
    (
        "opened when closed",
        OFFICE,
        at(2026, 5, 16, 11),
        45,
        datetime.datetime(2026, 5, 18, 7, 45, tzinfo=UTC),
    ),
    # Friday 22 May 16:00 → 17:00 (60); Monday 25 May Whit Monday; Tuesday 26 May
    # 09:00 → 12:00 (180) 13:00 → 17:00 (240), Wednesday 27 May 09:00 → 09:20 (20): 500.
    (
        "long weekend, several days",
        OFFICE,
        at(2026, 5, 22, 16),
        500,
        datetime.datetime(2026, 5, 27, 7, 20, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    ("label", "spec", "start", "target", "due"),
    FIRST_RESPONSE_TABLE,
    ids=[row[0] for row in FIRST_RESPONSE_TABLE],
)
def test_first_response_due_times(label, spec, start, target, due):
    rules = ClockRules(first_response=target, spec=spec)
    clock = compute_clock([opened(start)], rules, now=start)["first_response"]
    assert clock.state == RUNNING
    assert clock.due_at == due
    # The inverse: from opening to the due time is exactly the target in business time.
    if spec is not None:
        assert business_minutes_between(spec, start, due) == target
        assert add_business_minutes(spec, start, target) == due


def test_elapsed_business_minutes_over_a_holiday_and_lunch():
    # Thursday 7 May 11:00 → Monday 11 May 14:00: Thursday 11–12 (60) + 13–17 (240),
    # Friday holiday, weekend, Monday 9–12 (180) + 13–14 (60) = 540.
    assert business_minutes_between(OFFICE, at(2026, 5, 7, 11), at(2026, 5, 11, 14)) == 540
    assert business_minutes_between(OFFICE, at(2026, 5, 11, 14), at(2026, 5, 7, 11)) == 0


def test_open_hours_and_next_opening():
    assert is_open_at(OFFICE, at(2026, 5, 4, 9))
    assert not is_open_at(OFFICE, at(2026, 5, 4, 12))  # lunch (periods are [start, end))
    assert not is_open_at(OFFICE, at(2026, 5, 8, 10))  # Victory Day
    # Friday 15 May 17:30 → Monday 18 May 09:00 Paris = 07:00 UTC.
    assert next_opening(OFFICE, at(2026, 5, 15, 17, 30)) == datetime.datetime(
        2026, 5, 18, 7, tzinfo=UTC
    )


def test_pause_and_resume_keep_the_time_already_spent():
    # Resolution 420 min. Monday 4 May 09:00 → 10:00 (60) then pending customer until
    # Tuesday 14:00; 360 left: Tuesday 14:00 → 17:00 (180), Wednesday 09:00 → 12:00 (180)
    # = Wednesday 6 May 12:00 Paris = 10:00 UTC.
    rules = ClockRules(resolution=420, spec=OFFICE)
    inputs = [
        opened(at(2026, 5, 4, 9)),
        ClockInput(at(2026, 5, 4, 10), "status", "pending_customer"),
    ]
    paused = compute_clock(inputs, rules, now=at(2026, 5, 5, 11))["resolution"]
    assert paused.state == PAUSED
    assert paused.elapsed == 60
    assert paused.due_at is None
    inputs.append(ClockInput(at(2026, 5, 5, 14), "status", "open"))
    running = compute_clock(inputs, rules, now=at(2026, 5, 5, 15))["resolution"]
    assert running.state == RUNNING
    assert running.elapsed == 120  # 60 before the pause + Tuesday 14:00 → 15:00
    assert running.due_at == datetime.datetime(2026, 5, 6, 10, tzinfo=UTC)


def test_configured_pause_statuses_only():
    # on_hold does not pause this policy: Monday 09:00 → 11:00 = 120 elapsed.
    rules = ClockRules(resolution=420, spec=OFFICE, pause_statuses=frozenset({"pending_customer"}))
    inputs = [opened(at(2026, 5, 4, 9)), ClockInput(at(2026, 5, 4, 10), "status", "on_hold")]
    clock = compute_clock(inputs, rules, now=at(2026, 5, 4, 11))["resolution"]
    assert (clock.state, clock.elapsed) == (RUNNING, 120)


def test_responses_meet_and_next_response_cycles():
    rules = ClockRules(first_response=60, next_response=60, resolution=840, spec=OFFICE)
    inputs = [
        opened(at(2026, 5, 4, 9)),
        ClockInput(at(2026, 5, 4, 9, 20), "customer_reply"),  # before the first response
        ClockInput(at(2026, 5, 4, 9, 40), "agent_reply"),
        ClockInput(at(2026, 5, 4, 16, 30), "customer_reply"),
    ]
    clocks = compute_clock(inputs, rules, now=at(2026, 5, 4, 16, 45))
    first = clocks["first_response"]
    assert (first.state, first.elapsed, first.breached) == (MET, 40, False)
    # Cycle 1 opened Monday 16:30: 30 min Monday, Tuesday 09:00 → 09:30 = 07:30 UTC.
    cycle = clocks["next_response"]
    assert (cycle.cycle, cycle.state) == (1, RUNNING)
    assert cycle.due_at == datetime.datetime(2026, 5, 5, 7, 30, tzinfo=UTC)
    # An agent reply on Tuesday 10:00 (90 business minutes later) meets it late.
    inputs.append(ClockInput(at(2026, 5, 5, 10), "agent_reply"))
    cycle = compute_clock(inputs, rules, now=at(2026, 5, 5, 10))["next_response"]
    assert (cycle.state, cycle.elapsed, cycle.breached) == (MET, 90, True)
    # The next customer message starts cycle 2.
    inputs.append(ClockInput(at(2026, 5, 5, 11), "customer_reply"))
    assert compute_clock(inputs, rules, now=at(2026, 5, 5, 11))["next_response"].cycle == 2


def test_resolving_stops_and_reopening_resumes_resolution():
    rules = ClockRules(first_response=60, resolution=420, spec=OFFICE)
    inputs = [
        opened(at(2026, 5, 4, 9)),
        ClockInput(at(2026, 5, 4, 11), "status", "resolved"),
    ]
    clocks = compute_clock(inputs, rules, now=at(2026, 5, 4, 15))
    assert clocks["resolution"].state == MET and clocks["resolution"].elapsed == 120
    assert clocks["first_response"].state == STOPPED  # resolved without a reply
    # Reopened Tuesday 09:00 with 300 left: Tuesday 09–12 (180), 13–15 (120) = 15:00 Paris.
    inputs.append(ClockInput(at(2026, 5, 5, 9), "status", "open"))
    resolution = compute_clock(inputs, rules, now=at(2026, 5, 5, 9))["resolution"]
    assert resolution.state == RUNNING
    assert resolution.due_at == datetime.datetime(2026, 5, 5, 13, tzinfo=UTC)


def test_warning_and_second_level_fall_on_the_right_business_minute():
    # First response 240, warn 30 min before (at 210), second level 60 after (at 300).
    # Friday 15 May 15:00 → 17:00 (120); Monday 18 May: 210 at 10:30, 240 at 11:00,
    # 300 at 12:00 Paris... 300 - 120 = 180 → 09:00 + 180 = 12:00 Paris = 10:00 UTC.
    rules = ClockRules(
        first_response=240, spec=OFFICE, warn_minutes_before=30, second_level_after=60
    )
    clock = compute_clock([opened(at(2026, 5, 15, 15))], rules, now=at(2026, 5, 15, 15))[
        "first_response"
    ]
    assert clock.warn_at == datetime.datetime(2026, 5, 18, 8, 30, tzinfo=UTC)
    assert clock.due_at == datetime.datetime(2026, 5, 18, 9, tzinfo=UTC)
    assert clock.second_at == datetime.datetime(2026, 5, 18, 10, tzinfo=UTC)
    # Percent: 25 % before a 240-minute target warns at 180 = Monday 10:00 Paris.
    rules = ClockRules(first_response=240, spec=OFFICE, warn_percent_before=25)
    clock = compute_clock([opened(at(2026, 5, 15, 15))], rules, now=at(2026, 5, 15, 15))[
        "first_response"
    ]
    assert clock.warn_at == datetime.datetime(2026, 5, 18, 8, tzinfo=UTC)


def test_a_changed_calendar_changes_the_answer_for_the_same_history():
    inputs = [opened(at(2026, 5, 7, 16, 30))]
    with_holidays = compute_clock(inputs, ClockRules(first_response=120, spec=OFFICE), inputs[0].at)
    no_holidays = CalendarSpec(time_zone="Europe/Paris", periods={d: TWO_PERIODS for d in range(5)})
    without = compute_clock(inputs, ClockRules(first_response=120, spec=no_holidays), inputs[0].at)
    # Without the holiday: Thursday 30 min, Friday 8 May 09:00 → 10:30 Paris = 08:30 UTC.
    assert without["first_response"].due_at == datetime.datetime(2026, 5, 8, 8, 30, tzinfo=UTC)
    assert with_holidays["first_response"].due_at == datetime.datetime(
        2026, 5, 11, 8, 30, tzinfo=UTC
    )

"""Business time arithmetic: periods, time zones, public and own holidays."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from rapport.calendars.clock import (
    CalendarSpec,
    add_business_days,
    add_business_hours,
    business_minutes_between,
)
from rapport.calendars.services import business_time_add, calendar_save

UTC = datetime.UTC
NINE_FIVE = {d: [(datetime.time(9), datetime.time(17))] for d in range(5)}


def test_hours_continue_at_the_next_opening():
    spec = CalendarSpec(periods=NINE_FIVE)
    friday_4pm = datetime.datetime(2026, 5, 8, 16, tzinfo=UTC)
    assert add_business_hours(spec, friday_4pm, 2) == datetime.datetime(2026, 5, 11, 10, tzinfo=UTC)
    saturday = datetime.datetime(2026, 5, 9, 12, tzinfo=UTC)
    assert add_business_hours(spec, saturday, 1) == datetime.datetime(2026, 5, 11, 10, tzinfo=UTC)


def test_public_holidays_and_time_zones_count():
    spec = CalendarSpec(time_zone="Europe/Berlin", periods=NINE_FIVE, holiday_country="DE")
    # Thursday 30 April 2026 16:00 Berlin (14:00 UTC); 1 May is Labour Day: 2 business hours
    # end on Monday 4 May 10:00 Berlin.
    start = datetime.datetime(2026, 4, 30, 14, tzinfo=UTC)
    assert add_business_hours(spec, start, 2) == datetime.datetime(2026, 5, 4, 8, tzinfo=UTC)
    assert add_business_days(spec, start, 1) == datetime.datetime(2026, 5, 4, 14, tzinfo=UTC)


def test_days_start_no_earlier_than_the_opening():
    spec = CalendarSpec(periods=NINE_FIVE)
    early = datetime.datetime(2026, 5, 4, 6, tzinfo=UTC)  # Monday 06:00
    assert add_business_days(spec, early, 1) == datetime.datetime(2026, 5, 5, 9, tzinfo=UTC)


@pytest.mark.django_db
def test_stored_calendar_with_own_closed_days(personas):
    calendar = calendar_save(
        actor=personas.admin,
        name="Support",
        time_zone="UTC",
        week=NINE_FIVE,
        closed_days=[(datetime.date(2026, 5, 11), "Offsite")],
    )
    start = datetime.datetime(2026, 5, 8, 16, tzinfo=UTC)
    assert business_time_add(calendar=calendar, start=start, hours=2) == datetime.datetime(
        2026, 5, 12, 10, tzinfo=UTC
    )


@pytest.mark.django_db
def test_calendar_input_is_checked(personas):
    with pytest.raises(ValidationError) as err:
        calendar_save(actor=personas.admin, name="X", time_zone="Mars/Olympus", week={})
    assert "time_zone" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        calendar_save(
            actor=personas.admin,
            name="X",
            time_zone="UTC",
            week={
                0: [(datetime.time(9), datetime.time(12)), (datetime.time(11), datetime.time(13))]
            },
        )
    assert "periods" in err.value.message_dict
    empty = calendar_save(actor=personas.admin, name="Closed", time_zone="UTC", week={})
    with pytest.raises(ValidationError):
        business_time_add(calendar=empty, start=datetime.datetime(2026, 1, 1, tzinfo=UTC), hours=1)


@pytest.mark.django_db
def test_only_admins_change_calendars(personas):
    from rapport.records.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        calendar_save(actor=personas.manager, name="X", time_zone="UTC", week=NINE_FIVE)


# Hand-computed business minutes on a Mon–Fri 09:00–17:00 calendar (and a split day).
SPLIT = {
    d: [(datetime.time(8), datetime.time(12)), (datetime.time(13), datetime.time(17))]
    for d in range(5)
}
BETWEEN_CASES = [
    # (calendar, start, end, minutes)
    (NINE_FIVE, (2026, 5, 4, 10, 0), (2026, 5, 4, 11, 30), 90),  # same morning
    (NINE_FIVE, (2026, 5, 4, 7, 0), (2026, 5, 4, 9, 15), 15),  # before opening
    (NINE_FIVE, (2026, 5, 8, 16, 0), (2026, 5, 11, 10, 0), 120),  # over a weekend
    (NINE_FIVE, (2026, 5, 9, 10, 0), (2026, 5, 10, 18, 0), 0),  # all on a weekend
    (NINE_FIVE, (2026, 5, 4, 9, 0), (2026, 5, 11, 9, 0), 5 * 480),  # a whole week
    (SPLIT, (2026, 5, 4, 11, 0), (2026, 5, 4, 14, 0), 120),  # over the lunch break
    (NINE_FIVE, (2026, 5, 4, 12, 0), (2026, 5, 4, 11, 0), 0),  # end before start
]


@pytest.mark.parametrize("periods,start,end,minutes", BETWEEN_CASES)
def test_business_minutes_between_hand_computed(periods, start, end, minutes):
    spec = CalendarSpec(periods=periods)
    a = datetime.datetime(*start, tzinfo=UTC)
    b = datetime.datetime(*end, tzinfo=UTC)
    assert business_minutes_between(spec, a, b) == minutes


def test_business_minutes_between_skip_holidays_and_follow_the_zone():
    spec = CalendarSpec(time_zone="Europe/Berlin", periods=NINE_FIVE, holiday_country="DE")
    # Thursday 30 April 2026 16:00 Berlin → Monday 4 May 10:00 Berlin, 1 May closed: 1 h + 1 h.
    a = datetime.datetime(2026, 4, 30, 14, tzinfo=UTC)
    b = datetime.datetime(2026, 5, 4, 8, tzinfo=UTC)
    assert business_minutes_between(spec, a, b) == 120
    # The inverse of add_business_hours.
    assert business_minutes_between(spec, a, add_business_hours(spec, a, 7.5)) == 450

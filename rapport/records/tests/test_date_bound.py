"""`date_bound` keeps the meaning of a `__date` filter (the whole day in the current time
zone) while bounding the instant itself, so an index on the column serves it."""

import datetime
import itertools
import zoneinfo

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.records.selectors import date_bound

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# Instants around local midnights: in Berlin across the spring-forward night (2026-03-29),
# in São Paulo across 2018-11-04, whose midnight did not exist (the clocks went from 00:00
# to 01:00), and across its 2019-02-17 repeated hour (23:00 happened twice).
INSTANTS = [
    datetime.datetime(2026, 3, 27, 22, 59, 59, tzinfo=UTC),
    datetime.datetime(2026, 3, 27, 23, 0, 0, tzinfo=UTC),
    datetime.datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC),
    datetime.datetime(2026, 3, 28, 23, 0, 0, tzinfo=UTC),
    datetime.datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC),
    datetime.datetime(2026, 3, 29, 22, 0, 0, tzinfo=UTC),
    datetime.datetime(2018, 11, 4, 2, 59, 59, tzinfo=UTC),
    datetime.datetime(2018, 11, 4, 3, 0, 0, tzinfo=UTC),
    datetime.datetime(2018, 11, 5, 1, 59, 59, tzinfo=UTC),
    datetime.datetime(2018, 11, 5, 2, 0, 0, tzinfo=UTC),
    datetime.datetime(2019, 2, 17, 1, 30, tzinfo=UTC),
    datetime.datetime(2019, 2, 17, 2, 30, tzinfo=UTC),
    datetime.datetime(2019, 2, 17, 3, 0, 0, tzinfo=UTC),
    datetime.datetime(1900, 1, 1, 12, 0, tzinfo=UTC),
    datetime.datetime(2200, 12, 31, 12, 0, tzinfo=UTC),
]
DAYS = [
    datetime.date(2026, 3, 28),
    datetime.date(2026, 3, 29),
    datetime.date(2026, 3, 30),
    datetime.date(2018, 11, 3),
    datetime.date(2018, 11, 4),
    datetime.date(2019, 2, 16),
    datetime.date(2019, 2, 17),
    datetime.date(1900, 1, 1),
    datetime.date(2200, 12, 31),
]


@pytest.fixture
def activities(personas):
    return [
        Activity.objects.create(kind="note", subject=str(at), owner=personas.owner, occurred_at=at)
        for at in INSTANTS
    ]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"])
def test_a_date_bound_selects_the_rows_the_date_lookup_selects(activities, zone):
    base = Activity.objects.all()
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        for day, op in itertools.product(DAYS, ("gte", "lte")):
            expected = set(base.filter(**{f"occurred_at__date__{op}": day}).values_list("pk"))
            got = set(date_bound(base, "occurred_at", day, op).values_list("pk"))
            assert got == expected, (zone, day, op)
        # Both bounds on one day: exactly that local day's rows, and at least one day has some.
        days_with_rows = 0
        for day in DAYS:
            one_day = date_bound(
                date_bound(base, "occurred_at", day, "gte"), "occurred_at", day, "lte"
            )
            expected = {a.pk for a in activities if timezone.localtime(a.occurred_at).date() == day}
            assert set(one_day.values_list("pk", flat=True)) == expected, (zone, day)
            days_with_rows += bool(expected)
        assert days_with_rows >= 5


def test_a_date_outside_the_stored_years_bounds_nothing_or_everything(activities):
    base = Activity.objects.all()
    everything = set(base.values_list("pk", flat=True))
    for day, op, expected in [
        (datetime.date(1, 1, 1), "gte", everything),
        (datetime.date(1, 1, 1), "lte", set()),
        (datetime.date(9999, 12, 31), "lte", everything),
        (datetime.date(9999, 12, 31), "gte", set()),
    ]:
        assert (
            set(date_bound(base, "occurred_at", day, op).values_list("pk", flat=True)) == expected
        )


def test_a_datetime_bound_is_the_instant_and_a_naive_one_is_local(activities):
    base = Activity.objects.all()
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        naive = datetime.datetime(2026, 3, 28, 0, 0)  # 2026-03-27 23:00 UTC
        got = set(
            date_bound(base, "occurred_at", naive, "gte").values_list("occurred_at", flat=True)
        )
        assert min(got) == datetime.datetime(2026, 3, 27, 23, 0, 0, tzinfo=UTC)


def test_a_date_bound_compares_the_instant_not_a_cast_of_it():
    sql = str(
        date_bound(Activity.objects.all(), "occurred_at", datetime.date(2026, 3, 29), "lte").query
    )
    assert (
        '"occurred_at" <' in sql and "AT TIME ZONE" not in sql and "django_datetime_cast" not in sql
    )

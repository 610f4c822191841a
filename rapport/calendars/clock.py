"""Business time arithmetic over a BusinessCalendar: "add N business hours / days to t".

Pure functions over a loaded `CalendarSpec` (periods, zone, closed days), so callers that
compute many due times (SLA clocks, automation waits) load the calendar once.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache

import holidays as holidays_lib

# Past this many days without an open period, the calendar is unusable (e.g. all closed).
MAX_SCAN_DAYS = 3660


class CalendarUnusable(ValueError):
    pass


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str, year: int) -> frozenset[datetime.date]:
    try:
        days = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError as exc:
        raise CalendarUnusable(f"Unknown holiday country {country!r}") from exc
    return frozenset(days.keys())


@dataclass(frozen=True)
class CalendarSpec:
    time_zone: str = "UTC"
    # weekday (0 = Monday) -> sorted [(start, end)] local times
    periods: dict[int, list[tuple[datetime.time, datetime.time]]] = field(default_factory=dict)
    closed_days: frozenset[datetime.date] = frozenset()
    holiday_country: str = ""
    holiday_subdivision: str = ""

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def is_closed(self, day: datetime.date) -> bool:
        if day in self.closed_days:
            return True
        if self.holiday_country:
            return day in _public_holidays(self.holiday_country, self.holiday_subdivision, day.year)
        return False

    def open_periods(self, day: datetime.date) -> list[tuple[datetime.datetime, datetime.datetime]]:
        """The day's open periods as aware datetimes (empty on closed days)."""
        if self.is_closed(day):
            return []
        zone = self.zone
        return [
            (
                datetime.datetime.combine(day, start, tzinfo=zone),
                datetime.datetime.combine(day, end, tzinfo=zone),
            )
            for start, end in self.periods.get(day.weekday(), [])
        ]

    def is_business_day(self, day: datetime.date) -> bool:
        return bool(self.open_periods(day))


def spec_of(calendar) -> CalendarSpec:
    """Load a BusinessCalendar row (with its periods and holidays) into a CalendarSpec."""
    periods: dict[int, list] = {}
    for p in calendar.periods.all():
        periods.setdefault(p.weekday, []).append((p.start, p.end))
    return CalendarSpec(
        time_zone=calendar.time_zone,
        periods={k: sorted(v) for k, v in periods.items()},
        closed_days=frozenset(h.date for h in calendar.holidays.all()),  # prefetched or not
        holiday_country=calendar.holiday_country,
        holiday_subdivision=calendar.holiday_subdivision,
    )


def _utc_periods(spec: CalendarSpec, day: datetime.date):
    # Arithmetic in UTC: two aware datetimes sharing a ZoneInfo subtract as wall-clock
    # times, which is an hour off across a DST change inside a period.
    return [
        (open_at.astimezone(datetime.UTC), close_at.astimezone(datetime.UTC))
        for open_at, close_at in spec.open_periods(day)
    ]


def add_business_time(
    spec: CalendarSpec, start: datetime.datetime, amount: datetime.timedelta
) -> datetime.datetime:
    """The moment `amount` of open time after `start` (time outside periods does not count);
    `start` itself when it is zero. The inverse of `business_minutes_between`."""
    remaining = amount
    moment = start.astimezone(datetime.UTC)
    if remaining <= datetime.timedelta(0):
        return moment
    day = start.astimezone(spec.zone).date()
    for _ in range(MAX_SCAN_DAYS):
        for open_at, close_at in _utc_periods(spec, day):
            if close_at <= moment:
                continue
            begin = max(open_at, moment)
            available = close_at - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += datetime.timedelta(days=1)
    raise CalendarUnusable("The calendar has no open period in ten years")


def add_business_hours(
    spec: CalendarSpec, start: datetime.datetime, hours: float
) -> datetime.datetime:
    """The moment `hours` of open time after `start` (time outside periods does not count)."""
    return add_business_time(spec, start, datetime.timedelta(hours=hours))


def add_business_minutes(
    spec: CalendarSpec, start: datetime.datetime, minutes: float
) -> datetime.datetime:
    """The moment `minutes` of open time after `start`."""
    return add_business_time(spec, start, datetime.timedelta(minutes=minutes))


def business_minutes_between(
    spec: CalendarSpec, a: datetime.datetime, b: datetime.datetime
) -> float:
    """Open minutes between two instants (0 when b <= a): time inside the calendar's periods,
    outside its closed days and holidays. add_business_minutes(spec, a, result) lands on b
    whenever b is inside an open period."""
    a = a.astimezone(datetime.UTC)
    b = b.astimezone(datetime.UTC)
    if b <= a:
        return 0.0
    total = datetime.timedelta(0)
    day = a.astimezone(spec.zone).date()
    last = b.astimezone(spec.zone).date()
    while day <= last:
        for open_at, close_at in _utc_periods(spec, day):
            begin, end = max(open_at, a), min(close_at, b)
            if end > begin:
                total += end - begin
        day += datetime.timedelta(days=1)
    return total.total_seconds() / 60


def is_open_at(spec: CalendarSpec, moment: datetime.datetime) -> bool:
    """Whether `moment` falls inside an open period (periods are [start, end))."""
    moment = moment.astimezone(datetime.UTC)
    day = moment.astimezone(spec.zone).date()
    return any(o <= moment < c for o, c in _utc_periods(spec, day))


def next_opening(spec: CalendarSpec, moment: datetime.datetime) -> datetime.datetime:
    """`moment` when the calendar is open then, else the start of its next open period."""
    if is_open_at(spec, moment):
        return moment.astimezone(datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    day = moment.astimezone(spec.zone).date()
    for _ in range(MAX_SCAN_DAYS):
        for open_at, _close in _utc_periods(spec, day):
            if open_at >= moment:
                return open_at
        day += datetime.timedelta(days=1)
    raise CalendarUnusable("The calendar has no open period in ten years")


def add_business_days(spec: CalendarSpec, start: datetime.datetime, days: int) -> datetime.datetime:
    """The same local time of day on the `days`-th business day after `start`'s day; a
    result before that day's first period moves to its opening (never before it)."""
    local = start.astimezone(spec.zone)
    day = local.date()
    counted = 0
    for _ in range(MAX_SCAN_DAYS):
        if counted >= days:
            break
        day += datetime.timedelta(days=1)
        if spec.is_business_day(day):
            counted += 1
    else:
        raise CalendarUnusable("The calendar has no open period in ten years")
    result = datetime.datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=spec.zone)
    periods = spec.open_periods(day)
    if periods and result < periods[0][0]:
        result = periods[0][0]
    return result.astimezone(datetime.UTC)

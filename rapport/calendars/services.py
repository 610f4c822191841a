"""Writes of business calendars (administrators only), and the one entry point other apps
use to compute business time from a stored calendar."""

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.calendars.clock import (
    CalendarSpec,
    CalendarUnusable,
    add_business_days,
    add_business_hours,
    spec_of,
)
from rapport.calendars.models import BusinessCalendar, BusinessPeriod, CalendarHoliday
from rapport.identity.models import User
from rapport.identity.services import require_settings_admin

WeekHours = dict[int, list[tuple[datetime.time, datetime.time]]]


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _check(time_zone: str, country: str, subdivision: str, week: WeekHours) -> None:
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _field_error("time_zone", f"Unknown time zone {time_zone!r}", "invalid_time_zone")
    if country:
        import holidays

        try:
            holidays.country_holidays(country, subdiv=subdivision or None, years=2026)
        except NotImplementedError:
            raise _field_error(
                "holiday_country",
                f"No public holidays known for {country!r} / {subdivision!r}",
                "invalid_country",
            )
    for weekday, periods in week.items():
        if not 0 <= weekday <= 6:
            raise _field_error("periods", "Weekdays go from 0 (Monday) to 6", "invalid_weekday")
        ordered = sorted(periods)
        for start, end in ordered:
            if end <= start:
                raise _field_error("periods", "A period must end after it starts", "invalid_period")
        for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
            if start < end:
                raise _field_error("periods", "Periods of a day overlap", "overlapping_periods")


def calendar_save(
    *,
    actor: User,
    name: str,
    time_zone: str,
    week: WeekHours,
    holiday_country: str = "",
    holiday_subdivision: str = "",
    closed_days: list[tuple[datetime.date, str]] | None = None,
    calendar: BusinessCalendar | None = None,
) -> BusinessCalendar:
    """Create or replace a calendar (name, zone, weekly periods, own closed days) at once."""
    require_settings_admin(actor)
    name = name.strip()
    if not name:
        raise _field_error("name", "Give the calendar a name", "required")
    country = holiday_country.strip().upper()
    _check(time_zone, country, holiday_subdivision, week)
    clash = BusinessCalendar.objects.filter(name=name)
    if calendar is not None:
        clash = clash.exclude(pk=calendar.pk)
    if clash.exists():
        raise _field_error("name", "Another calendar has this name", "duplicate")
    with transaction.atomic():
        calendar = calendar or BusinessCalendar()
        calendar.name = name
        calendar.time_zone = time_zone
        calendar.holiday_country = country
        calendar.holiday_subdivision = holiday_subdivision.strip().upper()
        calendar.save()
        calendar.periods.all().delete()
        BusinessPeriod.objects.bulk_create(
            BusinessPeriod(calendar=calendar, weekday=day, start=start, end=end)
            for day, periods in week.items()
            for start, end in periods
        )
        calendar.holidays.all().delete()
        seen = {}
        for day, label in closed_days or []:
            seen[day] = label
        CalendarHoliday.objects.bulk_create(
            CalendarHoliday(calendar=calendar, date=day, name=label[:120])
            for day, label in sorted(seen.items())
        )
    return calendar


def calendar_delete(*, actor: User, calendar: BusinessCalendar) -> None:
    require_settings_admin(actor)
    calendar.delete()


def business_time_add(
    *,
    calendar: BusinessCalendar | CalendarSpec | None,
    start: datetime.datetime,
    hours: float = 0,
    days: int = 0,
) -> datetime.datetime:
    """`start` plus business days, then business hours, on the calendar (plain time without
    one). Raises ValidationError when the calendar has no open time at all."""
    if calendar is None:
        return start + datetime.timedelta(days=days, hours=hours)
    spec = calendar if isinstance(calendar, CalendarSpec) else spec_of(calendar)
    try:
        moment = add_business_days(spec, start, days) if days else start
        return add_business_hours(spec, moment, hours) if hours else moment
    except CalendarUnusable as exc:
        raise ValidationError(str(exc), code="calendar_unusable")

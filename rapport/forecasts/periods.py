"""Forecast periods: a month ("2026-12") or a quarter ("2026-Q4"), half-open [start, end)."""

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MONTH, QUARTER = "month", "quarter"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    kind: str
    start: datetime.date
    end: datetime.date  # exclusive

    @property
    def key(self) -> str:
        if self.kind == MONTH:
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    @property
    def label(self) -> str:
        if self.kind == MONTH:
            return self.start.strftime("%B %Y")
        return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"

    @property
    def last_day(self) -> datetime.date:
        return self.end - datetime.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def shifted(self, n: int) -> "Period":
        months = 1 if self.kind == MONTH else 3
        return period_starting(self.kind, _add_months(self.start, n * months))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def period_starting(kind: str, start: datetime.date) -> Period:
    return Period(kind, start, _add_months(start, 1 if kind == MONTH else 3))


def period_containing(kind: str, day: datetime.date) -> Period:
    month = day.month if kind == MONTH else (day.month - 1) // 3 * 3 + 1
    return period_starting(kind, datetime.date(day.year, month, 1))


def parse_period(value: str, *, field: str = "period") -> Period:
    """A period from its key; a ValidationError naming `field` otherwise (years 1900–2200)."""
    text = (value or "").strip()
    if m := _MONTH.match(text):
        year, month, kind = int(m[1]), int(m[2]), MONTH
        if not 1 <= month <= 12:
            raise ValidationError({field: ["Month must be 01–12"]}, code="invalid_period")
    elif m := _QUARTER.match(text):
        year, month, kind = int(m[1]), (int(m[2]) - 1) * 3 + 1, QUARTER
    else:
        raise ValidationError(
            {field: ["Use a month like 2026-12 or a quarter like 2026-Q4"]}, code="invalid_period"
        )
    if not 1900 <= year <= 2200:
        raise ValidationError({field: ["Year must be 1900–2200"]}, code="date_out_of_range")
    return period_starting(kind, datetime.date(year, month, 1))

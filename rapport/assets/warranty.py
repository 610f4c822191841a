"""Warranty dates and status of installed products."""

import calendar
import datetime

EXPIRES_SOON_DAYS = 60


def add_months(day: datetime.date, months: int) -> datetime.date:
    """`day` plus whole months, clamped to the month's last day (Jan 31 + 1 month = Feb 28,
    or Feb 29 in a leap year)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return datetime.date(year, month, min(day.day, last))


def warranty_end_for(start: datetime.date | None, months: int) -> datetime.date | None:
    """The last day of a warranty of `months` starting on `start` (None without one)."""
    if start is None or not months:
        return None
    return add_months(start, months)


def warranty_status(warranty_end: datetime.date | None, today: datetime.date | None = None) -> str:
    """ "none" (no warranty), "in_warranty", "expires_soon" (within 60 days) or "expired".

    A warranty ending today still covers today (the portal shows warranty_end >= today)."""
    if warranty_end is None:
        return "none"
    today = today or datetime.date.today()
    if warranty_end < today:
        return "expired"
    if (warranty_end - today).days <= EXPIRES_SOON_DAYS:
        return "expires_soon"
    return "in_warranty"


STATUS_LABELS = {
    "none": "No warranty",
    "in_warranty": "In warranty",
    "expires_soon": "Expires soon",
    "expired": "Expired",
}
STATUS_STYLE = {
    "none": "neutral",
    "in_warranty": "success",
    "expires_soon": "warning",
    "expired": "danger",
}

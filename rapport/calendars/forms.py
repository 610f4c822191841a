"""The calendar form: weekly hours as text per weekday ("09:00-12:00, 13:00-17:00"), own
closed days one per line ("2026-12-24 Christmas Eve"); zone and country from standard lists."""

import datetime
import zoneinfo
from functools import lru_cache

from django import forms

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@lru_cache(maxsize=1)
def _zone_choices():
    return [(z, z) for z in sorted(zoneinfo.available_timezones())]


@lru_cache(maxsize=1)
def _country_choices():
    import holidays

    from rapport.records.iso_codes import country_choices

    supported = set(holidays.list_supported_countries())
    return [("", "No public holidays")] + [
        (code, label) for code, label in country_choices() if code in supported
    ]


def _parse_periods(text: str) -> list[tuple[datetime.time, datetime.time]]:
    periods = []
    for chunk in text.replace(";", ",").split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        try:
            start, end = (datetime.time.fromisoformat(p.strip()) for p in chunk.split("-"))
        except ValueError:
            raise forms.ValidationError(
                f"“{chunk}” is not a period: write it like 09:00-17:00", code="invalid_period"
            )
        if end <= start:
            raise forms.ValidationError(f"“{chunk}” ends before it starts", code="invalid_period")
        periods.append((start, end))
    return sorted(periods)


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=120)
    time_zone = forms.ChoiceField(choices=_zone_choices, initial="UTC")
    holiday_country = forms.ChoiceField(
        choices=_country_choices, required=False, label="Public holidays of"
    )
    holiday_subdivision = forms.CharField(
        max_length=10, required=False, label="Region (optional)", help_text="e.g. BY for Bavaria"
    )
    closed_days = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Own closed days",
        help_text="One per line: 2026-12-24 Christmas Eve",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i, day in enumerate(WEEKDAYS):
            self.fields[f"day_{i}"] = forms.CharField(
                required=False,
                label=day,
                help_text="Open periods, e.g. 09:00-12:00, 13:00-17:00; empty = closed",
                max_length=200,
            )

    def weekday_fields(self):
        return [self[f"day_{i}"] for i in range(7)]

    def clean(self):
        data = super().clean()
        week = {}
        for i in range(7):
            try:
                periods = _parse_periods(data.get(f"day_{i}") or "")
            except forms.ValidationError as exc:
                self.add_error(f"day_{i}", exc)
                continue
            if periods:
                week[i] = periods
        data["week"] = week
        closed = []
        for number, line in enumerate((data.get("closed_days") or "").splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            head, _, label = line.partition(" ")
            try:
                closed.append((datetime.date.fromisoformat(head), label.strip()))
            except ValueError:
                self.add_error("closed_days", f"Line {number}: start with a date like 2026-12-24")
        data["closed"] = closed
        return data

    @classmethod
    def initial_for(cls, calendar) -> dict:
        initial = {
            "name": calendar.name,
            "time_zone": calendar.time_zone,
            "holiday_country": calendar.holiday_country,
            "holiday_subdivision": calendar.holiday_subdivision,
            "closed_days": "\n".join(
                f"{h.date.isoformat()} {h.name}".strip() for h in calendar.holidays.all()
            ),
        }
        for i in range(7):
            initial[f"day_{i}"] = ", ".join(
                f"{p.start:%H:%M}-{p.end:%H:%M}" for p in calendar.periods.all() if p.weekday == i
            )
        return initial

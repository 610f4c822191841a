"""Business calendars as data: working periods per weekday in a time zone, public holidays
from the `holidays` package for a country (and region), plus the organisation's own dates."""

from django.db import models


class BusinessCalendar(models.Model):
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code whose public holidays are closed"
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class BusinessPeriod(models.Model):
    """One open period on a weekday (0 = Monday), local time; several per day allowed."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["calendar", "weekday", "start", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="period_weekday_0_6"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="period_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarHoliday(models.Model):
    """A closed day of this organisation (on top of the country's public holidays)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["calendar", "date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="calendar_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

"""The periodic jobs: what runs, how often, and when the next run is due.

An entry of settings.RAPPORT_SCHEDULE is a dict: `name` (unique), `task` (the dotted path
of a django-tasks task), `kwargs`, and either `every` (seconds) or `at` ("HH:MM", daily, in
settings.TIME_ZONE).
"""

import datetime
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    every: int | None = None
    at: datetime.time | None = None

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first time this job is due strictly after `moment`."""
        if self.every is not None:
            return moment + datetime.timedelta(seconds=self.every)
        local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
        candidate = local.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        if candidate <= local:
            candidate += datetime.timedelta(days=1)
        return candidate.astimezone(datetime.UTC)

    def enqueue(self):
        return import_string(self.task).enqueue(**self.kwargs)


def _job(entry: dict) -> Job:
    every, at = entry.get("every"), entry.get("at")
    if (every is None) == (at is None):
        raise ImproperlyConfigured(f"schedule entry {entry.get('name')!r}: give `every` or `at`")
    if at is not None:
        hour, minute = (int(part) for part in str(at).split(":"))
        at = datetime.time(hour, minute)
    return Job(
        name=entry["name"],
        task=entry["task"],
        kwargs=dict(entry.get("kwargs") or {}),
        every=int(every) if every is not None else None,
        at=at,
    )


def jobs() -> list[Job]:
    return [_job(entry) for entry in settings.RAPPORT_SCHEDULE]


def now() -> datetime.datetime:
    return timezone.now()

"""The scheduler's one write: claim a due job and enqueue it, at most once per due time even
with several scheduler processes (a compare-and-set on the entry's `next_due_at`)."""

import datetime
import logging

from django.db import transaction

from rapport.scheduling.models import ScheduleEntry
from rapport.scheduling.schedule import Job, jobs, now

log = logging.getLogger(__name__)


def schedule_sync(at: datetime.datetime | None = None) -> list[ScheduleEntry]:
    """One row per configured job (new jobs are first due at their next time)."""
    at = at or now()
    entries = []
    for job in jobs():
        entry, _ = ScheduleEntry.objects.get_or_create(
            name=job.name, defaults={"next_due_at": job.next_after(at)}
        )
        entries.append(entry)
    return entries


def schedule_tick(at: datetime.datetime | None = None) -> list[str]:
    """Enqueue every job that is due at `at` (rows made by `schedule_sync`, which the
    scheduler runs once at start); returns the names enqueued. A job is claimed
    by moving its `next_due_at` forward only if nobody moved it meanwhile, in the same
    transaction as the database backend's task row: the run is neither lost nor doubled."""
    at = at or now()
    by_name = {job.name: job for job in jobs()}
    enqueued = []
    due = ScheduleEntry.objects.filter(name__in=by_name, next_due_at__lte=at)
    for entry in due:
        job: Job = by_name[entry.name]
        with transaction.atomic():
            claimed = ScheduleEntry.objects.filter(
                pk=entry.pk, next_due_at=entry.next_due_at
            ).update(next_due_at=job.next_after(at), last_enqueued_at=at)
            if not claimed:
                continue  # another scheduler took it
            result = job.enqueue()
            ScheduleEntry.objects.filter(pk=entry.pk).update(last_task_id=str(result.id)[:64])
        log.info("scheduled %s (task %s)", job.name, result.id)
        enqueued.append(job.name)
    return enqueued

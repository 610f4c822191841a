"""Background tasks of imports: they take ids and call the services."""

import datetime

from django_tasks import task

from rapport.imports.models import ImportJob
from rapport.imports.services.jobs import import_files_purge, import_job_read
from rapport.imports.services.runner import import_run


@task()
def import_run_task(job_id: int) -> str:
    """Run a queued import job (enqueued by import_job_start on commit)."""
    job = ImportJob.objects.filter(pk=job_id).select_related("created_by__team").first()
    if job is None:
        return "missing"
    return import_run(job=job).status


@task()
def import_read_task(job_id: int) -> str:
    """Read an uploaded file's header and first rows (enqueued by import_job_create and by a
    new encoding or delimiter, on commit): the web request never parses an upload."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    return import_job_read(job=job).status


@task()
def import_files_purge_task(days: int = 30) -> int:
    """Delete uploaded files of imports finished more than `days` ago (run daily by the
    scheduler); the jobs and their reports stay."""
    return import_files_purge(older_than=datetime.timedelta(days=days))

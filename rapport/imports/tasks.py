"""Background tasks of imports: they take ids and call the services."""

import datetime

from django_tasks import task

from rapport.imports.models import ImportJob
from rapport.imports.services.jobs import import_files_purge
from rapport.imports.services.runner import import_run


@task()
def import_run_task(job_id: int) -> str:
    """Run a queued import job (enqueued by import_job_start on commit)."""
    job = ImportJob.objects.filter(pk=job_id).select_related("created_by__team").first()
    if job is None:
        return "missing"
    return import_run(job=job).status


@task()
def import_files_purge_task(days: int = 30) -> int:
    """Delete uploaded files of imports finished more than `days` ago (run daily by the
    scheduler); the jobs and their reports stay."""
    return import_files_purge(older_than=datetime.timedelta(days=days))

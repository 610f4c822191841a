"""Background tasks of the API layer."""

from django_tasks import task

from rapport.api.idempotency import idempotency_purge


@task()
def idempotency_purge_task() -> int:
    """Delete Idempotency-Key records older than 24 hours (run daily by the scheduler)."""
    return idempotency_purge()

"""Background tasks of duplicates."""

from django_tasks import task

from rapport.duplicates.services import duplicates_find


@task()
def find_duplicates_task(object_type: str, full: bool | None = None) -> dict:
    """Run duplicate detection over one record type (nightly from the scheduler, after an
    import, or from POST /api/duplicates/scan); returns the run's figures."""
    run = duplicates_find(object_type=object_type, full=full)
    return {
        "run_id": run.pk,
        "mode": run.mode,
        "records": run.records,
        "pairs_compared": run.pairs_compared,
        "candidates_new": run.candidates_new,
        "seconds": round(run.seconds, 2),
    }

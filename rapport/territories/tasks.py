"""Background work: realignment and the scheduled retraining live here and in scoring."""

from django_tasks import task


@task()
def realignment_task(run_id: int) -> None:
    from rapport.territories.services import realignment_run

    realignment_run(run_id)

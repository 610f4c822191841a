"""Scheduled retraining and rescoring (RAPPORT_SCHEDULE entry `scoring-retrain`)."""

from django_tasks import task


@task()
def scoring_retrain_task() -> dict:
    from rapport.scoring.services import retrain_all

    return retrain_all()

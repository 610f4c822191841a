"""Background tasks: take ids, call services."""

from django_tasks import task


@task()
def nps_send_due_task() -> dict:
    """The NPS surveys due today (N days after an order)."""
    from rapport.surveys.services import nps_send_due

    return {"sent": nps_send_due()}

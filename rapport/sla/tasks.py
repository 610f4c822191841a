"""Background tasks of the SLA app: they take ids and call the services."""

from django.contrib.auth import get_user_model
from django_tasks import task

from rapport.sla.services import sla_escalations_run, sla_recompute


@task()
def sla_escalations_task() -> int:
    """The scheduler's SLA pass (every minute): due warnings, breaches, second levels."""
    return sla_escalations_run()


@task()
def sla_recompute_task(actor_id: int | None = None) -> int:
    """Recompute the open cases' clocks after a policy or calendar changed."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return sla_recompute(actor=actor)

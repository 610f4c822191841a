"""Background tasks of webhooks."""

from django_tasks import task

from rapport.webhooks.services import deliver_due, webhook_logs_purge


@task()
def deliver_due_task() -> dict:
    """Send the webhook deliveries that are due (after a commit that queued some, and every
    30 seconds from the scheduler for retries)."""
    return deliver_due()


@task()
def webhook_logs_purge_task() -> dict:
    """Forget old finished deliveries and inbound events (daily, from the scheduler)."""
    return webhook_logs_purge()

"""Background tasks of notifications."""

from django_tasks import task

from rapport.notifications.reminders import reminders_send_due


@task()
def reminders_send_due_task() -> int:
    """Send the reminders and overdue notices that are due (the scheduler runs it every
    minute)."""
    return reminders_send_due()


@task()
def digests_send_due_task() -> int:
    """Queue the hourly and daily notification digests that are due (the scheduler runs it
    every RAPPORT_DIGEST_SECONDS, default 300)."""
    from rapport.notifications.digest import digests_send_due

    return digests_send_due()

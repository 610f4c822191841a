"""Background tasks of mail: the outbox sender (woken after each queue_email commit and swept
by the scheduler every 30 seconds, which also picks up rows whose worker died)."""

from django_tasks import task

from rapport.mail.sender import send_due


@task()
def send_due_task() -> dict[str, int]:
    """Send every delivery that is due (claims in batches; see rapport.mail.sender)."""
    return send_due()

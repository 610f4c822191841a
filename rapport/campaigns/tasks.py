"""Background work of campaigns: the dispatcher (woken when a campaign starts, resumes or its
A/B winner is chosen, and swept by the scheduler every 30 seconds: scheduled sends whose time
came, A/B decisions, recipients of a dead worker whose lease ran out, the rate limit's next
minute). It hands recipients to the mail outbox and wakes the outbox's sender."""

from django_tasks import task

from rapport.campaigns.services import dispatch_due


@task()
def campaign_dispatch_task() -> int:
    handed = dispatch_due()
    if handed:
        from rapport.mail.tasks import send_due_task

        send_due_task.enqueue()
    return handed

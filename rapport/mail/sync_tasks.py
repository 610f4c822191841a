"""Background tasks of receiving mail (the sender's tasks live in rapport.mail.tasks)."""

from dataclasses import asdict

from django_tasks import task

from rapport.mail.sync import sync_all, sync_mailbox


@task()
def mail_sync_all_task() -> list[dict]:
    """Sync every active mailbox (the scheduler enqueues it every RAPPORT_MAIL_SYNC_SECONDS);
    a mailbox another worker is syncing is skipped (its lease)."""
    return [asdict(r) for r in sync_all()]


@task()
def mail_sync_mailbox_task(mailbox_id: int) -> dict:
    return asdict(sync_mailbox(mailbox_id))

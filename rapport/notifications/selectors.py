"""Reads of notifications: a user only ever reads their own."""

from django.db.models import QuerySet

from rapport.notifications.models import Notification
from rapport.records.exceptions import RecordNotFound
from rapport.records.prepared import Prepared

UNREAD_CAP = 99


def notifications_for(user, *, unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user).select_related("actor")
    return qs.filter(read_at__isnull=True) if unread else qs


def notification_get_for_user(*, pk: int, user) -> Notification:
    found = Notification.objects.filter(pk=pk, recipient=user).first()
    if found is None:
        raise RecordNotFound("No such notification")
    return found


def unread_ids(user_id: int) -> QuerySet[Notification]:
    """The recipient's unread notifications, at most UNREAD_CAP + 1 (so a flood costs
    nothing), in no order: the ONE definition of the bell's read, run by `unread_count` and
    inside the workspace's header statement (cases.selectors.workspace_pickers)."""
    return (
        Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
        .order_by()
        .values_list("pk")[: UNREAD_CAP + 1]
    )


# Compiled once per process: compiling the bell's read was most of its ~0.5 ms of CPU on
# every page.
UNREAD_IDS = Prepared(unread_ids, 1)


def unread_count(user) -> int:
    """How many unread (counted up to UNREAD_CAP + 1, so a flood costs nothing)."""
    return len(UNREAD_IDS(user.pk))

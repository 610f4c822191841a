"""Reads of notifications: a user only ever reads their own."""

from django.db.models import QuerySet

from rapport.notifications.models import Notification
from rapport.records.exceptions import RecordNotFound

UNREAD_CAP = 99


def notifications_for(user, *, unread: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(recipient=user).select_related("actor")
    return qs.filter(read_at__isnull=True) if unread else qs


def notification_get_for_user(*, pk: int, user) -> Notification:
    found = Notification.objects.filter(pk=pk, recipient=user).first()
    if found is None:
        raise RecordNotFound("No such notification")
    return found


def unread_count(user) -> int:
    """How many unread (counted up to UNREAD_CAP + 1, so a flood costs nothing)."""
    return (
        Notification.objects.filter(recipient=user, read_at__isnull=True)
        .order_by()  # a count: the model's ordering would only be compiled and sorted
        .values("pk")[: UNREAD_CAP + 1]
        .count()
    )

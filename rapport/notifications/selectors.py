"""Reads of notifications: a user only ever reads their own."""

from django.db import connection
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


def unread_count_sql(user) -> tuple[str, list]:
    """The unread count (up to UNREAD_CAP + 1, so a flood costs nothing) as one SQL
    expression and its parameters, for a page that reads it with other header data in one
    statement. The ORM's `.filter(recipient=user, read_at__isnull=True).values("pk")[:cap]
    .count()` wrote the same statement; compiling it was most of the bell's ~0.5 ms of CPU on
    every page (test_unread_count.py compares the two)."""
    q = connection.ops.quote_name
    opts = Notification._meta
    table = q(opts.db_table)
    read_at = q(opts.get_field("read_at").column)
    recipient = q(opts.get_field("recipient").column)
    return (
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {table}.{read_at} IS NULL"  # noqa: S608 - our names; the user is a parameter
        f" AND {table}.{recipient} = %s LIMIT {UNREAD_CAP + 1}) unread)",
        [user.pk],
    )


def unread_count(user) -> int:
    """How many unread (counted up to UNREAD_CAP + 1, so a flood costs nothing)."""
    sql, params = unread_count_sql(user)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return cursor.fetchone()[0]

"""The bell's unread count (`unread_ids`, compiled once, also a part of the workspace's header
statement) counts the recipient's own unread notifications, up to UNREAD_CAP + 1."""

import pytest
from django.utils import timezone

from rapport.notifications.models import Notification
from rapport.notifications.selectors import UNREAD_CAP, unread_count

pytestmark = pytest.mark.django_db


def _add(user, n: int, *, read: bool = False) -> None:
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            recipient=user,
            kind="assigned_to_you",
            title=f"n{i}",
            created_at=now,
            read_at=now if read else None,
        )
        for i in range(n)
    )


def test_counts_only_the_recipients_unread_up_to_the_cap(personas):
    owner, teammate = personas.owner, personas.teammate
    assert unread_count(owner) == 0
    _add(owner, 3)
    _add(owner, 4, read=True)
    _add(teammate, 5)
    assert unread_count(owner) == 3
    assert unread_count(teammate) == 5
    assert unread_count(personas.outsider) == 0
    _add(owner, UNREAD_CAP + 10)
    assert unread_count(owner) == UNREAD_CAP + 1 == 100

"""Notification digests: hourly and daily, only in the user's working hours and time zone,
one email through the mail outbox listing the unread notifications not emailed yet, never
the same notification twice."""

import datetime

import pytest
import time_machine

from rapport.mail.models import Delivery, MailMessage
from rapport.notifications.digest import digest_send, digests_send_due
from rapport.notifications.models import Notification, NotificationPreference
from rapport.notifications.services import (
    notification_mark_read,
    notify,
    preferences_for,
    preferences_update,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
TUESDAY = datetime.date(2026, 3, 3)  # Berlin is UTC+1 in March (before the DST change)


def _at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=UTC)


def _prefer(user, delivery: str) -> None:
    user.email = "owner@example.com"
    user.save(update_fields=["email"])
    preferences_update(
        user=user,
        changes={
            "email_delivery": delivery,
            "time_zone": "Europe/Berlin",
            "work_days": [0, 1, 2, 3, 4],
            "work_start": datetime.time(9),
            "work_end": datetime.time(17),
            "email_kinds": ["mentioned", "assigned_to_you"],
        },
    )


def _notify(personas, title: str, kind: str = "mentioned") -> Notification:
    return notify(personas.owner, kind, title=title, link="/contacts/1/", actor=personas.teammate)


def _digests(user) -> list[MailMessage]:
    return [m for m in MailMessage.objects.order_by("id") if user.email in m.to]


def test_hourly_digest_waits_for_working_hours_lists_each_notification_once(personas):
    user = personas.owner
    _prefer(user, "hourly")
    with time_machine.travel(_at(TUESDAY, 6), tick=False):  # 07:00 in Berlin
        first = _notify(personas, "Maria mentioned you on Acme")
        second = _notify(personas, "Alex assigned Beta to you", kind="assigned_to_you")
        read = _notify(personas, "Already read")
        notification_mark_read(notification=read, user=user)
        off_kind = notify(user, "system", title="Not an emailed kind", actor=personas.teammate)
        assert first.email_id is None and not Delivery.objects.exists()  # no email of its own
        assert digests_send_due() == 0  # before the working day
    with time_machine.travel(_at(TUESDAY, 8, 5), tick=False):  # 09:05 in Berlin
        assert digests_send_due() == 2
        assert digests_send_due() == 0
    (digest,) = _digests(user)
    assert digest.subject == "Rapport: 2 unread notifications"
    assert "Maria mentioned you on Acme" in digest.text_body
    assert "Alex assigned Beta to you" in digest.text_body
    assert "Already read" not in digest.text_body and "Not an emailed kind" not in digest.text_body
    assert "Tue 03 Mar 07:00" in digest.text_body  # the user's local time
    assert Delivery.objects.get(message=digest).state == "queued"
    assert {n.email_id for n in (first, second)} == {None}  # the objects are stale:
    assert set(
        Notification.objects.filter(pk__in=[first.pk, second.pk]).values_list("email", flat=True)
    ) == {digest.pk}
    assert Notification.objects.get(pk=read.pk).email_id is None
    assert Notification.objects.get(pk=off_kind.pk).email_id is None
    with time_machine.travel(_at(TUESDAY, 8, 30), tick=False):
        third = _notify(personas, "A third one")
    with time_machine.travel(_at(TUESDAY, 9, 0), tick=False):
        assert digests_send_due() == 0  # less than an hour since the last digest
    with time_machine.travel(_at(TUESDAY, 9, 6), tick=False):
        assert digests_send_due() == 1
    later = _digests(user)[-1]
    assert later.subject == "Rapport: 1 unread notification"
    assert "A third one" in later.text_body and "Maria" not in later.text_body
    assert Notification.objects.get(pk=third.pk).email_id == later.pk
    with time_machine.travel(_at(TUESDAY, 16, 30), tick=False):  # 17:30 in Berlin
        _notify(personas, "After hours")
        assert digests_send_due() == 0
    assert len(_digests(user)) == 2


def test_daily_digest_once_per_local_working_day(personas):
    user = personas.owner
    _prefer(user, "daily")
    with time_machine.travel(_at(TUESDAY, 9), tick=False):
        _notify(personas, "Morning")
        assert digests_send_due() == 1
    with time_machine.travel(_at(TUESDAY, 14), tick=False):
        _notify(personas, "Afternoon")
        assert digests_send_due() == 0  # one a day
    friday = TUESDAY + datetime.timedelta(days=3)
    with time_machine.travel(_at(friday, 7, 59), tick=False):  # 08:59 in Berlin
        assert digests_send_due() == 0
    with time_machine.travel(_at(friday, 8, 0), tick=False):
        assert digests_send_due() == 1
    saturday = friday + datetime.timedelta(days=1)
    with time_machine.travel(_at(saturday, 10), tick=False):
        _notify(personas, "Weekend")
        assert digests_send_due() == 0  # not a working day
    monday = saturday + datetime.timedelta(days=2)
    with time_machine.travel(_at(monday, 10), tick=False):
        assert digests_send_due() == 1
    bodies = [m.text_body for m in _digests(user)]
    assert ["Morning" in b for b in bodies] == [True, False, False]
    assert "Afternoon" in bodies[1] and "Weekend" in bodies[2]


def test_a_stale_claim_sends_nothing_twice(personas):
    # Two workers read the same preference row; only the first one's claim updates it.
    user = personas.owner
    _prefer(user, "hourly")
    with time_machine.travel(_at(TUESDAY, 10), tick=False):
        _notify(personas, "Once")
        worker_a = NotificationPreference.objects.select_related("user").get(user=user)
        worker_b = NotificationPreference.objects.select_related("user").get(user=user)
        assert digest_send(worker_a, _at(TUESDAY, 10)) == 1
        assert digest_send(worker_b, _at(TUESDAY, 10)) == 0
    assert len(_digests(user)) == 1


def test_off_and_immediately(personas):
    user = personas.owner
    _prefer(user, "off")
    with time_machine.travel(_at(TUESDAY, 10), tick=False):
        quiet = _notify(personas, "In-app only")
        assert quiet.email_id is None and digests_send_due() == 0
        preferences_update(user=user, changes={"email_delivery": "immediately"})
        loud = _notify(personas, "Emailed now")
        assert loud.email_id is not None
        assert digests_send_due() == 0  # immediately: no digests
    assert preferences_for(user).email_delivery == "immediately"
    assert [m.subject for m in _digests(user)] == ["Emailed now"]

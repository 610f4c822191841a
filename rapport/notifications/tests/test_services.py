"""Notifications: reminders and overdue notices, assignments, mentions, the email copy in
working hours, and dedupe under retries."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.accounts.services import account_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_complete, activity_log, activity_update
from rapport.mail.models import Delivery
from rapport.notifications.mentions import mentioned_usernames
from rapport.notifications.models import Notification, NotificationKind
from rapport.notifications.reminders import reminders_send_due
from rapport.notifications.services import email_send_at, notify, preferences_update
from rapport.records.services import record_share, record_transfer_owner

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# A Tuesday, 10:00 UTC.
NOW = datetime.datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def _task(actor, owner=None, **fields):
    fields.setdefault("subject", "Call back Acme")
    activity, _ = activity_log(actor=actor, kind="task", fields=fields, owner=owner)
    return activity


def _of(user, kind=None):
    qs = Notification.objects.filter(recipient=user)
    return list(qs.filter(kind=kind) if kind else qs)


@time_machine.travel(NOW, tick=False)
def test_task_reminder_fires_once_at_its_time(personas):
    task = _task(personas.owner, due_at=NOW + datetime.timedelta(hours=2), reminder_minutes=30)
    assert task.remind_at == NOW + datetime.timedelta(minutes=90)
    with time_machine.travel(NOW + datetime.timedelta(minutes=89), tick=False):
        assert reminders_send_due() == 0
    assert _of(personas.owner) == []
    with time_machine.travel(NOW + datetime.timedelta(minutes=90), tick=False):
        assert reminders_send_due() == 1
        assert reminders_send_due() == 0  # the next pass finds nothing
    [note] = _of(personas.owner)
    assert note.kind == NotificationKind.TASK_DUE
    assert "Call back Acme" in note.title
    assert note.link == f"/activities/{task.pk}/" or str(task.pk) in note.link
    task.refresh_from_db()
    assert task.remind_at is None


@time_machine.travel(NOW, tick=False)
def test_overdue_fires_once_and_not_for_a_done_task(personas):
    late = _task(personas.owner, due_at=NOW + datetime.timedelta(hours=1), reminder_minutes=None)
    done = _task(personas.owner, due_at=NOW + datetime.timedelta(hours=1), subject="Done one")
    activity_complete(activity=done, actor=personas.owner)
    with time_machine.travel(NOW + datetime.timedelta(hours=1, minutes=1), tick=False):
        reminders_send_due()
        reminders_send_due()
    overdue = _of(personas.owner, NotificationKind.TASK_OVERDUE)
    assert [n.link for n in overdue] == [f"/activities/{late.pk}/"]
    assert _of(personas.owner, NotificationKind.TASK_DUE) == []


@time_machine.travel(NOW, tick=False)
def test_meeting_reminder_uses_the_owners_default(personas):
    preferences_update(user=personas.owner, changes={"default_reminder_minutes": 10})
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    meeting, _ = activity_log(
        actor=personas.owner,
        kind="meeting",
        fields={"subject": "Demo", "starts_at": NOW + datetime.timedelta(hours=1)},
        links={"account_id": account.pk},
    )
    assert meeting.reminder_minutes == 10
    with time_machine.travel(NOW + datetime.timedelta(minutes=50), tick=False):
        assert reminders_send_due() == 1
    [note] = _of(personas.owner)
    assert note.kind == NotificationKind.MEETING_REMINDER


@time_machine.travel(NOW, tick=False)
def test_moving_the_due_date_rearms_the_reminder(personas):
    task = _task(personas.owner, due_at=NOW + datetime.timedelta(minutes=20), reminder_minutes=15)
    with time_machine.travel(NOW + datetime.timedelta(minutes=6), tick=False):
        reminders_send_due()
    activity_update(
        activity=task, actor=personas.owner, fields={"due_at": NOW + datetime.timedelta(days=1)}
    )
    task.refresh_from_db()
    assert task.remind_at == NOW + datetime.timedelta(days=1, minutes=-15)
    with time_machine.travel(NOW + datetime.timedelta(days=1, minutes=-14), tick=False):
        reminders_send_due()
    assert len(_of(personas.owner, NotificationKind.TASK_DUE)) == 2


@time_machine.travel(NOW, tick=False)
def test_reminder_pass_reads_only_due_rows(personas):
    for i in range(30):
        _task(personas.owner, due_at=NOW + datetime.timedelta(days=2 + i), subject=f"T{i}")
    with CaptureQueriesContext(connection) as queries:
        assert reminders_send_due() == 0
    assert len(queries) == 2  # one probe per column, nothing else
    assert "remind_at" in queries[0]["sql"]


def test_retried_notify_with_the_same_key_notifies_once(personas):
    personas.owner.email = "olga@example.com"
    personas.owner.save(update_fields=["email"])
    first = notify(personas.owner, "import_finished", title="Import done", dedupe_key="import:7")
    again = notify(personas.owner, "import_finished", title="Import done", dedupe_key="import:7")
    assert first.pk == again.pk
    assert Notification.objects.count() == 1


def test_nobody_is_notified_of_their_own_action_or_while_inactive(personas):
    assert notify(personas.owner, "system", title="x", actor=personas.owner) is None
    assert notify(personas.deactivated, "system", title="x") is None
    with pytest.raises(ValueError):
        notify(personas.owner, "no_such_kind", title="x")


def test_transfer_notifies_the_new_owner_but_not_a_self_assignment(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    record_transfer_owner(record=account, new_owner=personas.teammate, actor=personas.owner)
    [note] = _of(personas.teammate)
    assert note.kind == NotificationKind.ASSIGNED_TO_YOU
    assert note.actor == personas.owner
    assert "Acme" in note.title
    assert note.link == f"/accounts/{account.pk}/"
    # The manager takes it for themselves: nobody is told.
    record_transfer_owner(record=account, new_owner=personas.manager, actor=personas.manager)
    assert _of(personas.manager) == []


def test_task_created_or_reassigned_for_someone_else_notifies_them(personas):
    task = _task(personas.owner, owner=None)
    assert Notification.objects.count() == 0
    account = account_create(actor=personas.manager, fields={"name": "Acme"})
    given, _ = activity_log(
        actor=personas.manager,
        kind="task",
        fields={"subject": "Follow up"},
        links={"account_id": account.pk},
        owner=personas.owner,
    )
    assert [n.kind for n in _of(personas.owner)] == [NotificationKind.ASSIGNED_TO_YOU]
    activity_update(activity=given, actor=personas.manager, fields={}, owner=personas.teammate)
    assert len(_of(personas.teammate, NotificationKind.ASSIGNED_TO_YOU)) == 1
    assert task.owner == personas.owner


def test_mention_rule():
    text = "Ask @Maria. and @sam_k, not mail@example.com nor @@x; again @maria"
    assert mentioned_usernames(text) == ["maria", "sam_k"]


def test_mention_notifies_only_users_who_can_see_the_record(personas):
    account = account_create(actor=personas.owner, fields={"name": "Secret Co"})
    note, _ = activity_log(
        actor=personas.owner,
        kind="note",
        fields={"body": "@manager please look; @outsider too"},
        links={"account_id": account.pk},
    )
    assert [n.kind for n in _of(personas.manager)] == [NotificationKind.MENTIONED]
    assert _of(personas.manager)[0].link == f"/activities/{note.pk}/"
    # The outsider may not see the account: no notification, so no leak of its name.
    assert _of(personas.outsider) == []
    # Once the account is shared, a new mention reaches them; the old one is not repeated.
    record_share(record=account, actor=personas.owner, user=personas.outsider, access="read")
    activity_update(
        activity=note,
        actor=personas.owner,
        fields={"body": "@manager please look; @outsider too, @OUTSIDER now"},
    )
    assert len(_of(personas.manager)) == 1
    assert _of(personas.outsider) == []  # already mentioned before: not new
    activity_update(activity=note, actor=personas.owner, fields={"body": "thanks"})
    activity_update(activity=note, actor=personas.owner, fields={"body": "@outsider see this"})
    assert [n.kind for n in _of(personas.outsider)] == [NotificationKind.MENTIONED]


def test_email_copy_waits_for_working_hours_in_the_users_time_zone(personas):
    user = personas.teammate
    user.email = "tom@example.com"
    user.save(update_fields=["email"])
    preferences_update(
        user=user,
        changes={
            "time_zone": "America/New_York",
            "work_start": datetime.time(9),
            "work_end": datetime.time(17),
            "work_days": [0, 1, 2, 3, 4],
        },
    )
    # Tuesday 10:00 UTC is 05:00 in New York: the email waits until 09:00 there (14:00 UTC).
    with time_machine.travel(NOW, tick=False):
        note = notify(user, NotificationKind.MENTIONED, title="Hi", link="/accounts/1/")
    delivery = Delivery.objects.get(message=note.email)
    assert delivery.purpose == "transactional"
    assert delivery.next_attempt_at == datetime.datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
    assert note.email.to == ["tom@example.com"]
    assert "/accounts/1/" in note.email.text_body
    # Friday 23:00 in New York: the next working window is Monday 09:00 (13:00 UTC, DST).
    friday_late = datetime.datetime(2026, 3, 14, 3, 0, tzinfo=UTC)
    pref = user.notification_preference
    assert email_send_at(pref, friday_late) == datetime.datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
    # In working hours: sent now.
    assert email_send_at(pref, datetime.datetime(2026, 3, 3, 15, 0, tzinfo=UTC)) is None


def test_kinds_not_chosen_for_email_stay_in_app(personas):
    user = personas.teammate
    user.email = "tom@example.com"
    user.save(update_fields=["email"])
    preferences_update(user=user, changes={"email_kinds": []})
    note = notify(user, NotificationKind.MENTIONED, title="Hi")
    assert note.email is None
    assert Delivery.objects.count() == 0


def test_preferences_refuse_bad_values_naming_the_field(personas):
    from django.core.exceptions import ValidationError

    for changes, field in [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"work_days": []}, "work_days"),
        ({"work_days": [7]}, "work_days"),
        ({"work_start": datetime.time(18)}, "work_end"),
        ({"email_kinds": ["bogus"]}, "email_kinds"),
        ({"default_reminder_minutes": 10**7}, "default_reminder_minutes"),
    ]:
        with pytest.raises(ValidationError) as err:
            preferences_update(user=personas.owner, changes=changes)
        assert field in err.value.message_dict


@time_machine.travel(NOW, tick=False)
def test_a_call_has_no_reminder(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        activity_log(
            actor=personas.owner,
            kind="call",
            fields={"reminder_minutes": 5},
            links={"account_id": account.pk},
        )
    assert "reminder_minutes" in err.value.message_dict
    call, _ = activity_log(
        actor=personas.owner, kind="call", links={"account_id": account.pk}, fields={}
    )
    assert (call.reminder_minutes, call.remind_at) == (None, None)
    assert Activity.objects.filter(remind_at__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_racing_retries_write_one_notification_on_postgresql(personas):
    """Two workers retrying the same job at once: one row, both get it back."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections")
    import threading

    from django.db import close_old_connections, transaction

    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                results.append(
                    notify(personas.owner, "automation", title="Rule ran", dedupe_key="run:42").pk
                )
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
    assert Notification.objects.filter(dedupe_key="run:42").count() == 1

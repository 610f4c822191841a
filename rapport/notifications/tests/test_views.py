"""Notification pages: the bell, the list, marking read, settings; the reminder field of
the activity form and the composer."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from rapport.accounts.services import account_create
from rapport.activities.models import Activity
from rapport.notifications.models import Notification
from rapport.notifications.services import notify, preferences_for

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_bell_shows_the_unread_count_on_every_page(personas):
    notify(personas.owner, "system", title="One")
    notify(personas.owner, "system", title="Two")
    page = _client(personas.owner).get("/")
    assert b'id="notification-bell"' in page.content
    assert b'aria-label="Notifications: 2 unread"' in page.content
    bell = _client(personas.owner).get("/notifications/bell", HTTP_HX_REQUEST="true")
    assert b"2 unread" in bell.content


def test_list_shows_only_your_own_and_marks_read(personas):
    mine = notify(personas.owner, "system", title="For Olga", link="/accounts/1/")
    theirs = notify(personas.teammate, "system", title="For the teammate")
    client = _client(personas.owner)
    page = client.get("/notifications/")
    assert b"For Olga" in page.content and b"For the teammate" not in page.content
    read = client.post(f"/notifications/{mine.pk}/read", HTTP_HX_REQUEST="true")
    assert read.status_code == 200
    assert read["HX-Trigger"] == "notifications-changed"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert client.post(f"/notifications/{theirs.pk}/read").status_code == 404
    assert client.get(f"/notifications/{theirs.pk}/open").status_code == 404


def test_opening_follows_the_link_and_marks_read_but_never_leaves_the_site(personas):
    inside = notify(personas.owner, "system", title="In", link="/accounts/1/")
    outside = notify(personas.owner, "system", title="Out", link="https://evil.example/")
    client = _client(personas.owner)
    assert client.get(f"/notifications/{inside.pk}/open")["Location"] == "/accounts/1/"
    assert client.get(f"/notifications/{outside.pk}/open")["Location"] == "/notifications/"
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_mark_all_read(personas):
    for i in range(3):
        notify(personas.owner, "system", title=f"N{i}")
    response = _client(personas.owner).post("/notifications/read-all")
    assert response.status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_settings_form_saves_and_shows_errors_next_to_the_field(personas):
    client = _client(personas.owner)
    assert client.get("/notifications/settings").status_code == 200
    data = {
        "email_delivery": "daily",
        "email_kinds": ["mentioned"],
        "time_zone": "Asia/Tokyo",
        "work_days": ["0", "1", "2"],
        "work_start": "08:00",
        "work_end": "16:00",
        "default_reminder_minutes": "60",
    }
    assert client.post("/notifications/settings", data).status_code == 302
    pref = preferences_for(personas.owner)
    assert (pref.time_zone, pref.work_days, pref.email_kinds) == (
        "Asia/Tokyo",
        [0, 1, 2],
        ["mentioned"],
    )
    assert pref.default_reminder_minutes == 60
    assert pref.email_delivery == "daily"
    page = client.get("/notifications/settings").content.decode()
    assert re.search(r'<input[^>]*value="daily"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="immediately"[^>]*checked', page)
    bad = client.post("/notifications/settings", {**data, "work_end": "07:00"})
    assert bad.status_code == 422
    assert b"must end after it starts" in bad.content
    none = client.post("/notifications/settings", {**data, "default_reminder_minutes": "none"})
    assert none.status_code == 302
    assert preferences_for(personas.owner).default_reminder_minutes is None


def test_activity_form_sets_and_clears_the_reminder(personas):
    client = _client(personas.owner)
    form = client.get("/activities/new?kind=task")
    assert b'name="reminder_minutes"' in form.content
    due = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/activities/new?kind=task",
        {
            "kind": "task",
            "subject": "Ring Acme",
            "owner": personas.owner.pk,
            "due_at": due,
            "reminder_minutes": "none",
            "priority": "normal",
        },
    )
    assert response.status_code in (302, 303), response.content[:2000]
    task = Activity.objects.get(subject="Ring Acme")
    assert (task.reminder_minutes, task.remind_at) == (None, None)
    assert b"No reminder" in client.get(f"/activities/{task.pk}/").content


def test_composer_task_takes_my_default_reminder(personas):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    client = _client(personas.owner)
    due = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/accounts/{account.pk}/composer",
        {
            "kind": "task",
            "subject": "From composer",
            "due_at": due,
            "priority": "normal",
            "reminder_minutes": "",
        },
    )
    assert response.status_code in (200, 302), response.content[:2000]
    task = Activity.objects.get(subject="From composer")
    assert task.reminder_minutes == 15
    assert task.remind_at is not None


def test_mention_suggestions_list_active_colleagues_by_name_or_username(personas):
    client = _client(personas.owner)
    found = client.get("/notifications/mentions", {"q": "tea"}).json()["users"]
    assert found == [{"username": "teammate", "name": "teammate"}]
    by_name = client.get("/notifications/mentions", {"q": "mia"}).json()["users"]
    assert [u["username"] for u in by_name] == ["manager"]
    nobody = client.get("/notifications/mentions", {"q": "deactiv"}).json()["users"]
    assert nobody == []


def test_bulk_assign_sends_one_summary_notification(personas):
    accounts = [
        account_create(actor=personas.owner, fields={"name": f"Bulk {i}"}) for i in range(3)
    ]
    client = _client(personas.owner)
    client.post(
        "/accounts/bulk",
        {"action": "assign", "ids": [a.pk for a in accounts], "owner_id": personas.teammate.pk},
    )
    [note] = Notification.objects.filter(recipient=personas.teammate)
    assert note.title == "Olga Owner assigned 3 accounts to you"
    assert note.link == f"/accounts/?owner_id={personas.teammate.pk}"


def test_list_page_and_api_queries_do_not_grow_with_the_rows(personas, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(personas.owner)
    api = api_as(personas.owner)

    def count(fn):
        with CaptureQueriesContext(connection) as queries:
            assert fn().status_code == 200
        return len(queries)

    api.get("/api/notifications")  # the token's first use writes its last-used time
    client.get("/notifications/")
    notify(personas.owner, "system", title="first", actor=personas.manager)
    few = (
        count(lambda: client.get("/notifications/")),
        count(lambda: api.get("/api/notifications")),
    )
    for i in range(15):
        notify(personas.owner, "system", title=f"N{i}", actor=personas.teammate)
    many = (
        count(lambda: client.get("/notifications/")),
        count(lambda: api.get("/api/notifications")),
    )
    assert many == few

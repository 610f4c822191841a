"""The notifications API: your own only, cursor pages, read marks, preferences."""

import datetime

import pytest

from rapport.notifications.services import notify

pytestmark = pytest.mark.django_db


def test_list_pages_by_cursor_and_shows_only_your_own(personas, api_as):
    for i in range(3):
        notify(personas.owner, "system", title=f"N{i}")
    notify(personas.teammate, "system", title="Not yours")
    client = api_as(personas.owner)
    first = client.get("/api/notifications", limit=2)
    assert first.status_code == 200
    body = first.json()
    assert [n["title"] for n in body["items"]] == ["N2", "N1"]
    assert body["count"] == 3
    rest = client.get("/api/notifications", limit=2, cursor=body["next_cursor"]).json()
    assert [n["title"] for n in rest["items"]] == ["N0"]
    assert client.get("/api/notifications", cursor="junk").status_code == 400


def test_mark_read_and_unread_count(personas, api_as):
    mine = notify(personas.owner, "system", title="A")
    notify(personas.owner, "system", title="B")
    theirs = notify(personas.teammate, "system", title="C")
    client = api_as(personas.owner)
    assert client.get("/api/notifications/unread-count").json() == {"unread": 2}
    read = client.post(f"/api/notifications/{mine.pk}/read")
    assert read.status_code == 200 and read.json()["read_at"]
    assert client.get("/api/notifications/unread-count").json() == {"unread": 1}
    assert [n["title"] for n in client.get("/api/notifications", unread=True).json()["items"]] == [
        "B"
    ]
    # Someone else's notification does not exist for you.
    assert client.post(f"/api/notifications/{theirs.pk}/read").status_code == 404
    assert client.post("/api/notifications/read-all").json() == {"marked": 1}
    assert client.get("/api/notifications/unread-count").json() == {"unread": 0}


def test_preferences_get_and_patch(personas, api_as):
    client = api_as(personas.owner)
    got = client.get("/api/notifications/preferences").json()
    assert got["work_days"] == [0, 1, 2, 3, 4]
    assert "task_due" in got["email_kinds"]
    changed = client.patch(
        "/api/notifications/preferences",
        {"time_zone": "Europe/Paris", "work_start": "08:30", "default_reminder_minutes": None},
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["time_zone"] == "Europe/Paris"
    assert changed.json()["work_start"] == "08:30"
    assert changed.json()["default_reminder_minutes"] is None
    bad = client.patch("/api/notifications/preferences", {"time_zone": "Nowhere/Land"})
    assert bad.status_code == 422 and bad.json()["field"] == "time_zone"
    bad = client.patch("/api/notifications/preferences", {"email_kinds": ["bogus"]})
    assert bad.status_code == 422
    bad = client.patch("/api/notifications/preferences", {"work_end": "07:00"})
    assert bad.status_code == 422 and bad.json()["field"] == "work_end"
    bad = client.patch("/api/notifications/preferences", {"work_start": None})
    assert bad.status_code == 422
    assert got["email_delivery"] == "immediately" and got["last_digest_at"] is None
    hourly = client.patch("/api/notifications/preferences", {"email_delivery": "hourly"})
    assert hourly.status_code == 200 and hourly.json()["email_delivery"] == "hourly"
    assert hourly.json()["time_zone"] == "Europe/Paris"  # a partial update
    bad = client.patch("/api/notifications/preferences", {"email_delivery": "weekly"})
    assert bad.status_code == 422 and bad.json()["field"] == "email_delivery"


def test_activity_api_sets_and_shows_the_reminder(personas, api_as):
    client = api_as(personas.owner)
    due = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).isoformat()
    made = client.post(
        "/api/activities",
        {"kind": "task", "subject": "Ring", "due_at": due, "reminder_minutes": 60},
    )
    assert made.status_code == 201, made.json()
    assert made.json()["reminder_minutes"] == 60
    assert made.json()["remind_at"]
    default = client.post("/api/activities", {"kind": "task", "subject": "Ring", "due_at": due})
    assert default.json()["reminder_minutes"] == 15
    pk = made.json()["id"]
    cleared = client.patch(f"/api/activities/{pk}", {"reminder_minutes": None})
    assert cleared.status_code == 200
    assert (cleared.json()["reminder_minutes"], cleared.json()["remind_at"]) == (None, None)
    bad = client.patch(f"/api/activities/{pk}", {"reminder_minutes": -5})
    assert bad.status_code == 422


def test_anonymous_gets_401(db, api_as):
    assert api_as(None).get("/api/notifications").status_code == 401
    assert api_as(None).get("/api/notifications/unread-count").status_code == 401

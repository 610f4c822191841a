"""The calendar shows tasks due beside meetings, and a day/week hour grid where a meeting
spans its hours (month view keeps its grid)."""

import datetime
import re
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from rapport.accounts.services import account_create
from rapport.activities.calendar_grid import grid_css, hour_grid
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2030, 5, 15, 12, 0, tzinfo=datetime.UTC)  # a Wednesday


def _at(days=0, hours=0, minutes=0):
    return NOW + datetime.timedelta(days=days, hours=hours, minutes=minutes)


@pytest.fixture(autouse=True)
def frozen_clock(request):
    if "page" in request.fixturenames:  # the browser runs on the real clock
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


def test_week_shows_tasks_due_beside_meetings(personas, log, account):
    log("task", subject="Send the quote", account_id=account.pk, due_at=_at(days=1, hours=-3))
    log("task", subject="Next week's", account_id=account.pk, due_at=_at(days=8))
    log("meeting", subject="Kick-off", account_id=account.pk, starts_at=_at(hours=-2))
    theirs = account_create(actor=personas.outsider, fields={"name": "Far away"})
    log("task", subject="Not mine", actor=personas.outsider, account_id=theirs.pk, due_at=_at())
    page = text_of(ui_client(personas.owner).get("/activities/calendar/"))
    assert "Send the quote" in page and "Kick-off" in page
    assert "Next week&#x27;s" not in page
    assert "Not mine" not in page
    assert 'class="hour-head hour-tasks"' in page
    month = text_of(ui_client(personas.owner).get("/activities/calendar/?view=month"))
    assert "Send the quote" in month and "Next week&#x27;s" in month


def test_day_view_is_one_column_of_hours(personas, log, account):
    log("meeting", subject="Kick-off", account_id=account.pk, starts_at=_at(hours=-2))
    log("meeting", subject="Tomorrow", account_id=account.pk, starts_at=_at(days=1))
    client = ui_client(personas.owner)
    page = text_of(client.get("/activities/calendar/?view=day&date=2030-05-15"))
    assert "Wed 15 May 2030" in page
    assert "days-1" in page
    assert "Kick-off" in page and "Tomorrow" not in page
    assert 'href="/activities/calendar/?view=day&amp;date=2030-05-16"' in page
    assert 'aria-current="page">Day<' in page


def test_meeting_spans_its_half_hours_and_overlaps_go_side_by_side(personas, log, account):
    # 10:00–11:30 UTC (the test time zone): rows from 07:00 → the 7th half hour, 3 long.
    log(
        "meeting",
        subject="Long one",
        account_id=account.pk,
        starts_at=_at(hours=-2),
        ends_at=_at(hours=-0.5),
    )
    log(
        "meeting",
        subject="Clash",
        account_id=account.pk,
        starts_at=_at(hours=-1.5),
        ends_at=_at(hours=-1),
    )
    page = text_of(ui_client(personas.owner).get("/activities/calendar/?view=day"))
    long_one = re.search(r'class="hour-item is-meeting[^"]*"[^>]*title="Long one', page)
    assert long_one and "at-7 span-3 day-0 lane-0 lanes-2" in long_one.group(0)
    clash = re.search(r'class="hour-item is-meeting[^"]*"[^>]*title="Clash', page)
    assert clash and "at-8 span-1 day-0 lane-1 lanes-2" in clash.group(0)


def test_hours_widen_to_an_early_meeting():
    day = datetime.date(2030, 5, 15)
    item = {"kind": "meeting", "start": datetime.datetime(2030, 5, 15, 5, 15, tzinfo=datetime.UTC)}
    grid = hour_grid([day], {day: [item]}, day)
    assert grid["hours"][0]["label"] == "05:00"
    assert grid["columns"][0].timed[0].css.startswith("at-1 span-1 ")


def test_the_stylesheet_has_every_grid_class():
    css = (Path(__file__).resolve().parents[2] / "web/static/web/rapport.css").read_text()
    missing = [rule for rule in grid_css().splitlines() if rule not in css]
    assert not missing, missing[:3]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_week_grid_places_a_meeting_on_its_hours(page, personas, screenshot):
    account = account_create(actor=personas.owner, fields={"name": "Acme"})
    from rapport.activities.services import activity_log

    today = datetime.date.today()
    start = datetime.datetime.combine(today, datetime.time(10, 0), tzinfo=datetime.UTC)
    activity_log(
        actor=personas.owner,
        kind="meeting",
        fields={
            "subject": "Grid meeting",
            "starts_at": start,
            "ends_at": start + datetime.timedelta(hours=1),
        },
        links={"account_id": account.pk},
    )
    activity_log(
        actor=personas.owner,
        kind="task",
        fields={"subject": "Grid task", "due_at": start},
        links={"account_id": account.pk},
    )
    sign_in(page, personas.owner)
    page.goto("/activities/calendar/?view=week")
    meeting = page.locator(".hour-item", has_text="Grid meeting")
    label_10 = page.locator(".hour-label", has_text="10:00")
    label_11 = page.locator(".hour-label", has_text="11:00")
    top, ten, eleven = (
        meeting.bounding_box()["y"],
        label_10.bounding_box(),
        label_11.bounding_box(),
    )
    row = eleven["y"] - ten["y"]  # one hour
    assert abs(top - (ten["y"] + ten["height"] * 0.6)) < row / 2
    assert abs(meeting.bounding_box()["height"] - row) < 6
    expect(page.locator(".hour-tasks", has_text="Grid task")).to_be_visible()
    shots_at_both_sizes(page, screenshot, "calendar-week")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # the phone gets the agenda instead of the grid
    expect(page.locator(".calendar-agenda", has_text="Grid meeting")).to_be_visible()
    shots_at_both_sizes(page, screenshot, "calendar-week-agenda")
    assert page.errors == []

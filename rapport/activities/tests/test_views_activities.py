"""Activity pages: my tasks (complete and reopen in place), the list and its filters, the
calendar of meetings, the activity page and its form — who sees and changes what."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_update
from rapport.records.services import record_share
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2030, 5, 15, 12, 0, tzinfo=datetime.UTC)  # a Wednesday


def _at(days=0, hours=0):
    return NOW + datetime.timedelta(days=days, hours=hours)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


# ----- access -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(personas, log, account):
    task = log("task", subject="T", account_id=account.pk)
    for url in (
        "/activities/",
        "/activities/all/",
        "/activities/calendar/",
        "/activities/new",
        f"/activities/{task.pk}/",
        f"/activities/{task.pk}/edit",
    ):
        r = ui_client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login/?next="), url


def test_outsider_gets_404_on_every_activity_url(personas, log, account):
    task = log("task", subject="Secret plan", account_id=account.pk)
    client = ui_client(personas.outsider)
    base = f"/activities/{task.pk}/"
    for url in (base, base + "edit"):
        assert client.get(url).status_code == 404, url
    for url in (base + "complete", base + "reopen", base + "delete", base + "edit"):
        assert client.post(url, {"subject": "x"}).status_code == 404, url
    assert "Secret plan" not in text_of(client.get("/activities/all/"))
    task.refresh_from_db()
    assert (task.done, task.subject) == (False, "Secret plan")


def test_reader_sees_the_activity_but_cannot_change_it(personas, log, account):
    task = log("task", subject="Look only", account_id=account.pk)
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    client = ui_client(personas.reader)
    page = client.get(f"/activities/{task.pk}/")
    assert page.status_code == 200
    assert f"/activities/{task.pk}/edit" not in text_of(page)
    assert client.get(f"/activities/{task.pk}/edit").status_code == 403
    assert client.post(f"/activities/{task.pk}/complete").status_code == 403
    assert client.post(f"/activities/{task.pk}/delete").status_code == 403
    task.refresh_from_db()
    assert task.done is False


# ----- my tasks -------------------------------------------------------------------------


def test_my_tasks_sorts_open_tasks_into_overdue_today_upcoming_and_undated(personas, log):
    log("task", subject="Late report", due_at=_at(days=-2))
    log("task", subject="Call back at four", due_at=_at(hours=4))
    log("task", subject="Plan next week", due_at=_at(days=6))
    log("task", subject="Someday maybe")
    log("task", subject="Not mine", actor=personas.teammate)
    page = text_of(ui_client(personas.owner).get("/activities/"))
    sections = {
        key: page.split(f'id="tasks-{key}"', 1)[1].split("</section>", 1)[0]
        for key in ("overdue", "today", "upcoming", "undated")
    }
    assert "Late report" in sections["overdue"] and "Overdue" in sections["overdue"]
    assert "Call back at four" in sections["today"]
    assert "Plan next week" in sections["upcoming"]
    assert "Someday maybe" in sections["undated"]
    assert "Not mine" not in page
    assert "4 open" in page


def test_complete_in_place_returns_the_row_and_an_undo_toast(personas, log, account):
    task = log("task", subject="Send offer", due_at=_at(hours=2), account_id=account.pk)
    client = ui_client(personas.owner)
    r = client.post(f"/activities/{task.pk}/complete", headers=HTMX)
    assert r.status_code == 200
    body = text_of(r)
    assert f'id="task-{task.pk}"' in body
    assert "task-done" in body and "Reopen" in body
    assert "Completed “Send offer”" in body  # the toast, out of band
    assert f'action="/activities/{task.pk}/reopen"' in body  # its undo
    assert "<html" not in body
    task.refresh_from_db()
    assert task.done is True
    r = client.post(f"/activities/{task.pk}/reopen", headers=HTMX)
    assert r.status_code == 200
    assert "task-open" in text_of(r)
    task.refresh_from_db()
    assert task.done is False


def test_complete_without_javascript_goes_back_where_it_came_from(personas, log):
    task = log("task", subject="Plain post")
    client = ui_client(personas.owner)
    r = client.post(f"/activities/{task.pk}/complete", {"next": "/activities/?x=1"})
    assert r.status_code == 302
    assert r["Location"] == "/activities/?x=1"
    r = client.post(f"/activities/{task.pk}/reopen", headers={"Referer": "http://testserver/"})
    assert r["Location"] == "/"
    r = client.post(f"/activities/{task.pk}/complete", {"next": "https://evil.example/"})
    assert r["Location"] == "/activities/"
    page = text_of(client.get("/activities/"))
    assert "Done today" in page and "Plain post" in page


def test_completing_something_that_is_not_a_task_says_why(personas, log, account):
    call = log("call", subject="Chat", account_id=account.pk)
    client = ui_client(personas.owner)
    r = client.post(f"/activities/{call.pk}/complete", headers=HTMX)
    assert r.status_code == 422
    assert "Only tasks can be completed" in text_of(r)
    r = client.post(f"/activities/{call.pk}/complete", follow=True)
    assert "Only tasks can be completed" in text_of(r)


def test_quick_add_creates_a_personal_task_and_returns_to_my_tasks(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/activities/new",
        {
            "kind": "task",
            "subject": "Renew licence",
            "due_at": "2030-05-16T09:00",
            "owner": personas.owner.pk,
            "priority": "normal",
            "next": "/activities/",
        },
    )
    assert r.status_code == 302, text_of(r)
    assert r["Location"] == "/activities/"
    task = Activity.objects.get()
    assert (task.kind, task.subject, task.account_id) == ("task", "Renew licence", None)
    assert "Renew licence" in text_of(client.get("/activities/"))


# ----- the list -------------------------------------------------------------------------


def _subjects(page: str) -> list[str]:
    import re

    return re.findall(
        r'class="cell-text cell-primary"><a href="/activities/\d+/">([^<]+)</a>', page
    )


def test_list_filters_by_kind_owner_done_dates_and_linked_record(personas, log, account):
    other = account_create(actor=personas.owner, fields={"name": "Other Co"})
    log("call", subject="Call Acme", account_id=account.pk, occurred_at=_at(days=-3))
    log("task", subject="Task Acme", account_id=account.pk, due_at=_at(days=2))
    done = log("task", subject="Done Other", account_id=other.pk, due_at=_at(days=-1))
    activity_update(activity=done, actor=personas.owner, fields={"done": True})
    theirs = account_create(actor=personas.teammate, fields={"name": "Team Co"})
    log("task", subject="Teammate task", actor=personas.teammate, account_id=theirs.pk)
    client = ui_client(personas.manager)
    assert sorted(_subjects(text_of(client.get("/activities/all/?kind=call")))) == ["Call Acme"]
    page = text_of(client.get(f"/activities/all/?owner_id={personas.teammate.pk}"))
    assert _subjects(page) == ["Teammate task"]
    page = text_of(client.get("/activities/all/?kind=task&done=true"))
    assert _subjects(page) == ["Done Other"]
    assert "Kind: Task" in page and "Done: Done" in page
    page = text_of(client.get("/activities/all/?due_from=2030-05-16"))
    assert _subjects(page) == ["Task Acme"]
    page = text_of(client.get("/activities/all/?occurred_to=2030-05-13"))
    assert _subjects(page) == ["Call Acme"]
    page = text_of(client.get(f"/activities/all/?account_id={other.pk}"))
    assert _subjects(page) == ["Done Other"]
    assert "Account: Other Co" in page


def test_list_page_has_the_activity_filters_and_no_trash(personas, log, account):
    log("call", subject="Listed", account_id=account.pk)
    page = text_of(ui_client(personas.owner).get("/activities/all/"))
    assert '<select name="kind"' in page and 'name="due_from"' in page
    assert 'name="tag"' not in page and ">Trash<" not in page
    assert 'href="/activities/calendar/"' in page  # the section tabs


def test_list_filter_errors_are_shown_not_crashed(personas):
    r = ui_client(personas.owner).get("/activities/all/?due_from=yesterday&kind=nope")
    assert r.status_code == 200
    assert "Some filters are not valid" in text_of(r)


def test_linked_filter_on_an_invisible_record_is_refused(personas, log):
    hidden = account_create(actor=personas.outsider, fields={"name": "Hidden Inc"})
    log("call", subject="Their call", actor=personas.outsider, account_id=hidden.pk)
    page = text_of(ui_client(personas.owner).get(f"/activities/all/?account_id={hidden.pk}"))
    assert "Hidden Inc" not in page and "Their call" not in page


def test_list_names_only_linked_records_the_reader_may_see(personas, log):
    private = account_create(actor=personas.outsider, fields={"name": "Private Parent"})
    shared = contact_create(
        actor=personas.outsider, fields={"last_name": "Shared", "account": private}
    )
    record_share(record=shared, actor=personas.outsider, user=personas.owner, access="read")
    activity = log(
        "call",
        actor=personas.outsider,
        subject="Visible via contact",
        account_id=private.pk,
        contact_id=shared.pk,
    )
    client = ui_client(personas.owner)
    page = text_of(client.get("/activities/all/"))
    assert "Visible via contact" in page
    assert "Private Parent" not in page
    assert "Shared" in page
    detail = text_of(client.get(f"/activities/{activity.pk}/"))
    assert "Private Parent" not in detail and "Shared" in detail


def test_list_csv_export_has_only_visible_rows(personas, log, account):
    log("call", subject="Mine", account_id=account.pk)
    hidden = account_create(actor=personas.outsider, fields={"name": "Far"})
    log("call", subject="Theirs", actor=personas.outsider, account_id=hidden.pk)
    r = ui_client(personas.owner).get("/activities/all/export.csv")
    assert r.status_code == 200
    assert "activities-" in r["Content-Disposition"]
    rows = csv_rows(r)
    assert rows[0][:3] == ["ID", "Subject", "Kind"]
    assert [row[1] for row in rows[1:]] == ["Mine"]


def test_activity_list_has_no_n_plus_one(personas, log, account, contact):
    client = ui_client(personas.owner)

    def grow(n, start):
        for i in range(start, start + n):
            log("call", subject=f"C{i}", account_id=account.pk, contact_id=contact.pk)

    grow(3, 0)
    url = "/activities/all/?cols=subject,kind,about,owner,when,due,status,priority"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17, 3)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


def test_my_tasks_has_no_n_plus_one(personas, log, account):
    client = ui_client(personas.owner)

    def grow(n, start):
        for i in range(start, start + n):
            log("task", subject=f"T{i}", account_id=account.pk, due_at=_at(days=i % 5 - 2))

    grow(3, 0)
    client.get("/activities/")
    few = count_queries(lambda: client.get("/activities/"))
    grow(17, 3)
    many = count_queries(lambda: client.get("/activities/"))
    assert few == many, (few, many)


# ----- calendar -------------------------------------------------------------------------


def test_week_calendar_shows_my_meetings_on_their_day(personas, log, account):
    log("meeting", subject="Kick-off", account_id=account.pk, starts_at=_at(days=1, hours=-2))
    log("meeting", subject="Later on", account_id=account.pk, starts_at=_at(days=7))
    shared = account_create(actor=personas.teammate, fields={"name": "Shared Co"})
    record_share(record=shared, actor=personas.teammate, user=personas.owner, access="read")
    log(
        "meeting",
        subject="Teammate's",
        actor=personas.teammate,
        account_id=shared.pk,
        starts_at=_at(),
    )
    page = text_of(ui_client(personas.owner).get("/activities/calendar/"))
    assert "13 – 19 May 2030" in page
    thursday = page.split("Thu</span>", 1)[1].split("</li>\n  \n  <li", 1)[0]
    assert "Kick-off" in thursday and "10:00" in thursday
    assert "Later on" not in page
    assert "Teammate&#x27;s" not in page
    assert 'aria-current="date"' in page
    page = text_of(ui_client(personas.owner).get("/activities/calendar/?who=all"))
    assert "Teammate&#x27;s" in page


def test_calendar_includes_meetings_i_am_invited_to(personas, log, account):
    shared = account_create(actor=personas.teammate, fields={"name": "Shared Co"})
    record_share(record=shared, actor=personas.teammate, user=personas.owner, access="read")
    log(
        "meeting",
        subject="Invited",
        actor=personas.teammate,
        account_id=shared.pk,
        starts_at=_at(),
        attendee_user_ids=[personas.owner.pk],
    )
    assert "Invited" in text_of(ui_client(personas.owner).get("/activities/calendar/"))


def test_month_calendar_has_previous_and_next_links_that_work_without_javascript(
    personas, log, account
):
    log("meeting", subject="June review", account_id=account.pk, starts_at=_at(days=18))
    client = ui_client(personas.owner)
    page = text_of(client.get("/activities/calendar/?view=month"))
    assert "May 2030" in page
    assert 'href="/activities/calendar/?view=month&amp;date=2030-06-01"' in page
    assert 'href="/activities/calendar/?view=month&amp;date=2030-04-01"' in page
    assert "June review" in page  # Sunday 2 June: the last row of May's grid
    june = text_of(client.get("/activities/calendar/?view=month&date=2030-06-01"))
    assert "June 2030" in june and "June review" in june
    week = text_of(client.get("/activities/calendar/?date=2030-06-02"))
    assert "27 May – 2 Jun 2030" in week and "June review" in week
    assert 'href="/activities/calendar/?date=2030-05-20"' in week


def test_calendar_ignores_a_bad_date_and_shows_this_week(personas):
    r = ui_client(personas.owner).get("/activities/calendar/?date=not-a-date&view=year")
    assert r.status_code == 200
    assert "13 – 19 May 2030" in text_of(r)


def test_month_calendar_caps_a_busy_day_with_a_more_link(personas, log, account):
    for i in range(6):
        log("meeting", subject=f"M{i}", account_id=account.pk, starts_at=_at(hours=i))
    page = text_of(ui_client(personas.owner).get("/activities/calendar/?view=month"))
    assert "+2 more" in page


def test_calendar_has_no_n_plus_one(personas, log, account, contact):
    client = ui_client(personas.owner)

    def grow(n, start):
        for i in range(start, start + n):
            log(
                "meeting",
                subject=f"M{i}",
                account_id=account.pk,
                contact_id=contact.pk,
                starts_at=_at(days=i % 7 - 3),
                attendee_user_ids=[personas.teammate.pk],
            )

    grow(3, 0)
    url = "/activities/calendar/?view=month"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17, 3)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


# ----- the activity page and its form -----------------------------------------------------


def test_activity_page_shows_facts_links_and_attendees(personas, log, account, contact):
    meeting = log(
        "meeting",
        subject="Quarterly review",
        account_id=account.pk,
        starts_at=_at(days=1),
        location="Room 4",
        body="Agenda: <b>numbers</b>",
        attendee_contact_ids=[contact.pk],
        attendee_user_ids=[personas.teammate.pk],
    )
    page = text_of(ui_client(personas.owner).get(f"/activities/{meeting.pk}/"))
    assert "Quarterly review" in page and "Room 4" in page
    assert f'href="/accounts/{account.pk}/">Acme</a>' in page
    assert f'href="/contacts/{contact.pk}/">Doe</a>' in page
    assert "teammate" in page
    assert "&lt;b&gt;numbers&lt;/b&gt;" in page
    assert f"/activities/all/?account_id={account.pk}" in page


def test_create_form_shows_errors_next_to_fields(personas, account):
    client = ui_client(personas.owner)
    r = client.post(
        "/activities/new",
        {
            "kind": "meeting",
            "subject": "Demo",
            "owner": personas.owner.pk,
            "account": account.pk,
            "starts_at": "2030-05-20T10:00",
            "ends_at": "2030-05-20T09:00",
        },
    )
    assert r.status_code == 422
    assert field_error(r, "must end after it starts")
    r = client.post("/activities/new", {"kind": "call", "owner": personas.owner.pk})
    assert r.status_code == 422
    assert "Link it to an account" in text_of(r)
    r = client.post("/activities/new", {"kind": "note", "owner": personas.owner.pk})
    assert field_error(r, "This field is required")
    assert not Activity.objects.exists()


def test_create_a_meeting_for_an_account(personas, account):
    client = ui_client(personas.owner)
    assert client.get(f"/activities/new?kind=meeting&account={account.pk}").status_code == 200
    r = client.post(
        "/activities/new",
        {
            "kind": "meeting",
            "subject": "Demo",
            "owner": personas.owner.pk,
            "account": account.pk,
            "starts_at": "2030-05-20T10:00",
            "ends_at": "2030-05-20T11:00",
            "location": "Online",
        },
    )
    meeting = Activity.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/activities/{meeting.pk}/"
    assert (meeting.kind, meeting.account_id, meeting.location) == ("meeting", account.pk, "Online")


def test_create_refuses_an_account_the_user_cannot_see(personas):
    hidden = account_create(actor=personas.outsider, fields={"name": "Hidden"})
    r = ui_client(personas.owner).post(
        "/activities/new",
        {"kind": "call", "owner": personas.owner.pk, "account": hidden.pk},
    )
    assert r.status_code == 422
    assert not Activity.objects.exists()


def test_edit_a_call_and_its_minutes(personas, log, account):
    call = log("call", subject="Intro", account_id=account.pk, occurred_at=_at(days=-1))
    client = ui_client(personas.owner)
    form = text_of(client.get(f"/activities/{call.pk}/edit"))
    assert 'value="Intro"' in form and 'value="2030-05-14T12:00"' in form
    r = client.post(
        f"/activities/{call.pk}/edit",
        {
            "subject": "Intro call",
            "owner": personas.owner.pk,
            "occurred_at": "2030-05-14T12:00",
            "direction": "inbound",
            "outcome": "connected",
            "duration_minutes": "15",
            "body": "Went well",
            "version": call.version,
        },
    )
    assert r.status_code == 302, text_of(r)
    call.refresh_from_db()
    assert (call.subject, call.direction, call.duration_seconds, call.body) == (
        "Intro call",
        "inbound",
        900,
        "Went well",
    )


def test_edit_with_stale_version_says_someone_else_changed_it(personas, log, account):
    task = log("task", subject="Old", account_id=account.pk)
    activity_update(activity=task, actor=personas.manager, fields={"subject": "Manager's"})
    r = ui_client(personas.owner).post(
        f"/activities/{task.pk}/edit",
        {"subject": "Mine", "owner": personas.owner.pk, "priority": "normal", "version": 1},
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    task.refresh_from_db()
    assert task.subject == "Manager's"


def test_delete_removes_the_activity(personas, log, account):
    task = log("task", subject="Bin me", account_id=account.pk)
    r = ui_client(personas.owner).post(f"/activities/{task.pk}/delete", follow=True)
    assert "Deleted task “Bin me”" in text_of(r)
    assert not Activity.objects.exists()


def test_user_text_is_escaped_on_activity_pages(personas, log, account):
    evil = "<script>alert(1)</script>"
    task = log("task", subject=evil, account_id=account.pk, due_at=timezone.now())
    log("meeting", subject=evil, account_id=account.pk, starts_at=_at())
    client = ui_client(personas.owner)
    for url in (
        "/activities/",
        "/activities/all/",
        "/activities/calendar/",
        "/activities/calendar/?view=month",
        f"/activities/{task.pk}/",
        f"/activities/{task.pk}/edit",
    ):
        body = text_of(client.get(url))
        assert evil not in body, url
        assert "&lt;script&gt;" in body, url

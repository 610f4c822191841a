import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.tests.conftest import AT
from rapport.records.models import RecordShare
from rapport.records.services import record_share
from rapport.timeline.selectors import timeline_of

pytestmark = pytest.mark.django_db


def test_owner_logs_gets_updates_lists_and_deletes_a_call(personas, api_as, contact):
    api = api_as(personas.owner)
    r = api.post(
        "/api/activities",
        {
            "kind": "call",
            "contact_id": contact.pk,
            "subject": "Intro",
            "direction": "outbound",
            "duration_seconds": 120,
            "outcome": "connected",
            "occurred_at": AT.isoformat(),
        },
    )
    assert r.status_code == 201, r.data
    assert r["ETag"] == '"1"'
    assert (r.data["owner_id"], r.data["outcome"], r.data["priority"]) == (
        personas.owner.pk,
        "connected",
        "normal",
    )
    pk = r.data["id"]
    r = api.get(f"/api/activities/{pk}")
    assert (r.status_code, r["ETag"], r.data["subject"]) == (200, '"1"', "Intro")
    r = api.patch(f"/api/activities/{pk}", {"subject": "Intro call"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["version"], r["ETag"]) == (200, 2, '"2"')
    r = api.patch(f"/api/activities/{pk}", {"subject": "Stale"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["code"], r["ETag"]) == (412, "stale_version", '"2"')
    r = api.get("/api/activities")
    assert ([a["id"] for a in r.data["items"]], r.data["count"]) == ([pk], 1)
    assert api.delete(f"/api/activities/{pk}", headers={"If-Match": '"1"'}).status_code == 412
    assert api.delete(f"/api/activities/{pk}").status_code == 204
    assert api.get(f"/api/activities/{pk}").status_code == 404


@pytest.mark.parametrize(
    ("who", "get", "write"),
    [
        ("owner", 200, 200),
        ("manager", 200, 200),
        ("admin", 200, 200),
        ("teammate", 404, 404),
        ("outsider", 404, 404),
        ("reader", 404, 404),
        ("deactivated", 401, 401),
        ("anonymous", 401, 401),
    ],
)
def test_who_sees_and_changes_an_activity(personas, api_as, log, account, who, get, write):
    task = log("task", account_id=account.pk)
    api = api_as(None if who == "anonymous" else getattr(personas, who))
    assert api.get(f"/api/activities/{task.pk}").status_code == get
    listed = api.get("/api/activities")
    if get == 200:
        assert [a["id"] for a in listed.data["items"]] == [task.pk]
    elif get == 404:
        assert listed.data["items"] == []
    assert api.patch(f"/api/activities/{task.pk}", {"subject": "x"}).status_code == write
    assert api.post(f"/api/activities/{task.pk}/complete").status_code == write
    assert api.post(f"/api/activities/{task.pk}/reopen").status_code == write
    delete = 204 if write == 200 else write
    assert api.delete(f"/api/activities/{task.pk}").status_code == delete


def test_reader_and_read_sharer_see_but_get_403(personas, api_as, log, contact):
    note = log("note", contact_id=contact.pk)
    record_share(record=contact, actor=personas.owner, user=personas.reader, access="edit")
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="read")
    for user in (personas.reader, personas.teammate):
        api = api_as(user)
        assert api.get(f"/api/activities/{note.pk}").status_code == 200
        assert api.patch(f"/api/activities/{note.pk}", {"body": "x"}).status_code == 403
        assert api.delete(f"/api/activities/{note.pk}").status_code == 403
        r = api.post("/api/activities", {"kind": "note", "body": "Hi", "contact_id": contact.pk})
        assert r.status_code == 403, user
    r = api_as(personas.reader).post("/api/activities", {"kind": "task", "subject": "Mine"})
    assert r.status_code == 403
    assert Activity.objects.count() == 1


def test_linking_an_invisible_record_is_422_on_its_field(
    personas, api_as, outsider_contact, lead, opportunity
):
    api = api_as(personas.outsider)
    for field, pk in (
        ("contact_id", 987654),
        ("lead_id", lead.pk),
        ("opportunity_id", opportunity.pk),
    ):
        r = api.post("/api/activities", {"kind": "note", "body": "x", field: pk})
        assert (r.status_code, r.data["field"]) == (422, field)
    r = api.post(
        "/api/activities", {"kind": "note", "body": "x", "contact_id": outsider_contact.pk}
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "visit"}, "kind"),
        ({"kind": "note"}, "body"),
        ({"kind": "interaction"}, "channel"),
        ({"kind": "interaction", "channel": "fax"}, "channel"),
        ({"kind": "meeting"}, "starts_at"),
        (
            {
                "kind": "meeting",
                "starts_at": "2025-03-01T10:00:00Z",
                "ends_at": "2025-03-01T09:00Z",
            },
            "ends_at",
        ),
        ({"kind": "call", "due_at": "2025-03-01T10:00:00Z"}, "due_at"),
        ({"kind": "call", "duration_seconds": -1}, "duration_seconds"),
        ({"kind": "call", "outcome": "great"}, "outcome"),
        ({"kind": "task", "priority": "urgent"}, "priority"),
        ({"kind": "email", "direction": "sideways"}, "direction"),
        ({"kind": "call", "subject": "s" * 201}, "subject"),
        ({"kind": "call", "owner_id": 987654}, "owner_id"),
        ({"kind": "call", "account_id": None}, "account_id"),
        ({"kind": "meeting", "starts_at": "2025-03-01T10:00:00Z", "attendee_user_ids": [0]}, None),
    ],
)
def test_bad_input_gives_422_with_the_field(personas, api_as, account, body, field):
    payload = {"account_id": account.pk, **body}
    r = api_as(personas.owner).post("/api/activities", payload)
    assert r.status_code == 422, r.data
    if field:
        assert r.data["field"] == field
    else:
        assert r.data["field"].startswith("attendee_user_ids")
    assert not Activity.objects.exists()


def test_interaction_with_a_known_external_id_returns_it_with_200(personas, api_as, contact):
    api = api_as(personas.owner)
    body = {
        "kind": "interaction",
        "channel": "store",
        "contact_id": contact.pk,
        "external_id": "pos-991",
        "direction": "inbound",
        "subject": "Till receipt",
    }
    first = api.post("/api/activities", body)
    again = api.post("/api/activities", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data["id"] == first.data["id"]
    assert Activity.objects.count() == 1


def test_activities_appear_on_every_linked_timeline(
    personas, api_as, account, contact, lead, opportunity
):
    api = api_as(personas.owner)
    r = api.post(
        "/api/activities",
        {
            "kind": "meeting",
            "subject": "Kick-off",
            "starts_at": "2025-03-01T10:00:00Z",
            "ends_at": "2025-03-01T11:00:00Z",
            "account_id": account.pk,
            "contact_id": contact.pk,
            "lead_id": lead.pk,
            "opportunity_id": opportunity.pk,
            "attendee_contact_ids": [contact.pk],
            "attendee_user_ids": [personas.manager.pk],
        },
    )
    assert r.status_code == 201, r.data
    assert (r.data["attendee_contact_ids"], r.data["attendee_user_ids"]) == (
        [contact.pk],
        [personas.manager.pk],
    )
    pk = r.data["id"]
    api.patch(f"/api/activities/{pk}", {"location": "HQ"})
    for path in (f"/api/accounts/{account.pk}/timeline", f"/api/contacts/{contact.pk}/timeline"):
        items = api.get(path).data["items"]
        mine = [(e["kind"], e["activity_id"]) for e in items if e["activity_id"]]
        assert mine == [("activity_updated", pk), ("activity_logged", pk)], path
    for record in (lead, opportunity):
        kinds = [e.kind for e in timeline_of(record, user=personas.admin).filter(activity_id=pk)]
        assert kinds == ["activity_updated", "activity_logged"]


def test_complete_and_reopen_over_the_api(personas, api_as, log, account):
    task = log("task", account_id=account.pk)
    api = api_as(personas.owner)
    r = api.post(f"/api/activities/{task.pk}/complete", headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["done"], r["ETag"]) == (200, True, '"2"')
    assert r.data["done_at"] is not None
    r = api.post(f"/api/activities/{task.pk}/reopen", headers={"If-Match": '"1"'})
    assert r.status_code == 412
    r = api.post(f"/api/activities/{task.pk}/reopen")
    assert (r.status_code, r.data["done"], r.data["done_at"]) == (200, False, None)
    items = api.get(f"/api/accounts/{account.pk}/timeline").data["items"]
    assert [e["kind"] for e in items if e["activity_id"]][:2] == [
        "activity_updated",
        "activity_done",
    ]
    call = log("call", account_id=account.pk)
    r = api.post(f"/api/activities/{call.pk}/complete")
    assert (r.status_code, r.data["field"]) == (422, "kind")


def test_patch_rules(personas, api_as, log, account, contact):
    api = api_as(personas.owner)
    note = log("note", account_id=account.pk)
    for body, field in (
        ({"owner_id": None}, "owner_id"),
        ({"body": ""}, "body"),
        ({"account_id": None}, "account_id"),
        ({"channel": "sms"}, "channel"),
        ({"kind": "call"}, None),  # kind is not patchable: ignored
    ):
        r = api.patch(f"/api/activities/{note.pk}", body)
        if field is None:
            assert (r.status_code, r.data["kind"], r.data["version"]) == (200, "note", 1)
        else:
            assert (r.status_code, r.data["field"]) == (422, field), body
    r = api.patch(
        f"/api/activities/{note.pk}", {"contact_id": contact.pk, "owner_id": personas.manager.pk}
    )
    assert (r.status_code, r.data["contact_id"], r.data["owner_id"]) == (
        200,
        contact.pk,
        personas.manager.pk,
    )


def test_owner_who_gives_away_an_activity_they_no_longer_see_gets_the_result(
    personas, api_as, log, contact
):
    record_share(record=contact, actor=personas.owner, user=personas.outsider, access="edit")
    call = log("call", actor=personas.outsider, contact_id=contact.pk)
    RecordShare.objects.all().delete()
    r = api_as(personas.outsider).patch(
        f"/api/activities/{call.pk}", {"owner_id": personas.owner.pk}
    )
    assert (r.status_code, r.data["owner_id"]) == (200, personas.owner.pk)
    assert api_as(personas.outsider).get(f"/api/activities/{call.pk}").status_code == 404


def test_list_filters_over_the_api(personas, api_as, log, account, contact):
    now = timezone.now()
    overdue = log("task", account_id=account.pk, due_at=now - datetime.timedelta(hours=1))
    log("task", account_id=account.pk, due_at=now + datetime.timedelta(hours=1))
    chat = log("interaction", contact_id=contact.pk, channel="chat")
    call = log("call", contact_id=contact.pk)
    api = api_as(personas.owner)

    def ids(**params):
        r = api.get("/api/activities", **params)
        assert r.status_code == 200, r.data
        return [a["id"] for a in r.data["items"]]

    assert ids(overdue="true") == [overdue.pk]
    assert set(ids(kind=["call", "interaction"])) == {chat.pk, call.pk}
    assert ids(channel="chat") == [chat.pk]
    assert len(ids(mine="true", contact_id=contact.pk)) == 2
    assert ids(sort="created_at", limit=1) == [overdue.pk]
    today = now.date().isoformat()
    assert set(ids(occurred_from=today, occurred_to=today, kind="interaction")) == {chat.pk}
    two_hours_ago = (now - datetime.timedelta(hours=2)).isoformat()
    assert set(ids(due_to=two_hours_ago)) == set()
    assert set(ids(due_from=two_hours_ago, due_to=now.isoformat())) == {overdue.pk}
    assert api.get("/api/activities", sort="due_at").status_code == 400
    assert api.get("/api/activities", kind="visit").status_code == 422
    assert api.get("/api/activities", due_from="yesterday").status_code == 422


def test_list_queries_do_not_grow_with_rows(
    personas, api_as, log, account, contact, lead, opportunity, django_assert_max_num_queries
):
    def add_meetings(n):
        for i in range(n):
            log(
                "meeting",
                account_id=account.pk,
                contact_id=contact.pk if i % 2 else None,
                lead_id=lead.pk if i % 3 else None,
                opportunity_id=opportunity.pk,
                attendee_contact_ids=[contact.pk],
                attendee_user_ids=[personas.teammate.pk, personas.manager.pk],
            )

    api = api_as(personas.manager)
    add_meetings(2)
    api.get("/api/activities")  # the token's last-use write happens once
    with CaptureQueriesContext(connection) as few:
        api.get("/api/activities", limit=50)
    add_meetings(10)
    with django_assert_max_num_queries(15):
        r = api.get("/api/activities", limit=50)
    assert len(r.data["items"]) == 12
    assert all(len(a["attendee_user_ids"]) == 2 for a in r.data["items"])
    with CaptureQueriesContext(connection) as many:
        api.get("/api/activities", limit=50)
    assert len(many) == len(few)

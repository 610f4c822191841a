import datetime

import pytest
import time_machine
from django.utils import timezone

from rapport.api.models import IdempotencyRecord
from rapport.api.tasks import idempotency_purge_task

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays_the_first_response(personas, api_as):
    api = api_as(personas.owner)
    first = api.post("/api/contacts", {"last_name": "Once"}, headers={"Idempotency-Key": "k1"})
    again = api.post("/api/contacts", {"last_name": "Once"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.data == first.data
    assert again["Idempotent-Replayed"] == "true"
    assert api.get("/api/contacts").data["count"] == 1


def test_keys_are_per_user(personas, api_as):
    a = api_as(personas.owner).post(
        "/api/accounts", {"name": "A"}, headers={"Idempotency-Key": "same"}
    )
    b = api_as(personas.outsider).post(
        "/api/accounts", {"name": "A"}, headers={"Idempotency-Key": "same"}
    )
    assert a.status_code == b.status_code == 201
    assert a.data["id"] != b.data["id"]


def test_failed_validation_is_replayed_but_server_errors_are_not_stored(personas, api_as):
    api = api_as(personas.owner)
    bad = api.post("/api/accounts", {"name": ""}, headers={"Idempotency-Key": "bad"})
    assert bad.status_code == 422
    assert (
        api.post("/api/accounts", {"name": ""}, headers={"Idempotency-Key": "bad"}).status_code
        == 422
    )


def test_records_expire_after_a_day(personas, api_as):
    api = api_as(personas.owner)
    api.post("/api/accounts", {"name": "Old"}, headers={"Idempotency-Key": "old"})
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        result = idempotency_purge_task.enqueue()
        assert result.return_value == 1
    assert not IdempotencyRecord.objects.exists()


def test_stale_if_match_on_delete_changes_nothing(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/accounts", {"name": "Keep"}).data["id"]
    api.patch(f"/api/accounts/{pk}", {"name": "Keep 2"})
    r = api.delete(f"/api/accounts/{pk}", headers={"If-Match": '"1"'})
    assert r.status_code == 412 and r["ETag"] == '"2"'
    assert api.get(f"/api/accounts/{pk}").status_code == 200
    assert (
        api.patch(
            f"/api/accounts/{pk}", {"name": "x"}, headers={"If-Match": "nonsense"}
        ).status_code
        == 400
    )


def test_bad_cursor_and_sort_are_400(personas, api_as):
    api = api_as(personas.owner)
    assert api.get("/api/accounts", cursor="!!!").status_code == 400
    r = api.get("/api/accounts", sort="password")
    assert r.status_code == 400 and r.data["code"] == "bad_request"


def test_keyset_pages_walk_every_row_once(personas, api_as):
    api = api_as(personas.owner)
    made = {api.post("/api/accounts", {"name": f"N{i % 3}"}).data["id"] for i in range(7)}
    for sort in ("-created_at", "name", "-name", "updated_at"):
        seen, cursor = [], None
        while True:
            params = {"limit": "3", "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/api/accounts", **params).data
            seen += [row["id"] for row in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(made) and len(seen) == 7, sort


def test_count_is_capped(personas, api_as, settings):
    settings.RAPPORT_COUNT_CAP = 3
    api = api_as(personas.owner)
    for i in range(5):
        api.post("/api/accounts", {"name": f"C{i}"})
    assert api.get("/api/accounts").data["count"] == "3+"

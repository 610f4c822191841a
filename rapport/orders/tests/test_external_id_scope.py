"""External ids are their writer's key, unique per (writer, source, external_id): one
person's (or one system's) ids neither collide with another's, nor reveal that an invisible
record exists, nor ever attach a write to another person's record; a writer's own replay
stays idempotent."""

import pytest

from rapport.accounts.services import account_create

pytestmark = pytest.mark.django_db

AT = "2026-01-05T10:00:00+00:00"


def _order(account_id, external_id, source=None):
    body = {
        "account_id": account_id,
        "external_id": external_id,
        "ordered_at": AT,
        "lines": [{"description": "x", "quantity": "1", "unit_price": "1"}],
    }
    if source is not None:
        body["source"] = source
    return body


@pytest.fixture
def accounts(personas):
    mine = account_create(actor=personas.owner, fields={"name": "Mine"})
    theirs = account_create(actor=personas.outsider, fields={"name": "Theirs"})
    return mine, theirs


def test_an_invisible_order_in_another_source_neither_collides_nor_shows(
    personas, api_as, accounts
):
    mine, theirs = accounts
    other = api_as(personas.outsider).post("/api/orders", _order(theirs.pk, "A-1", "shop-b"))
    assert other.status_code == 201, other.data
    assert other.data["source"] == "shop-b"
    r = api_as(personas.owner).post("/api/orders", _order(mine.pk, "A-1", "shop-a"))
    assert r.status_code == 201, r.data
    default = api_as(personas.owner).post("/api/orders", _order(mine.pk, "A-1"))
    assert default.status_code == 201, default.data
    assert default.data["source"] == ""


def _shape(response) -> tuple:
    """What a caller sees of an answer, ids and times aside."""
    body = {k: v for k, v in response.data.items() if k not in ("id", "created_at", "updated_at")}
    body.pop("lines", None)
    return response.status_code, sorted(body), body["external_id"] is not None


def test_an_invisible_orders_id_answers_exactly_as_a_fresh_id(personas, api_as, accounts):
    mine, theirs = accounts
    theirs_order = api_as(personas.outsider).post("/api/orders", _order(theirs.pk, "B-1", "pos"))
    assert theirs_order.status_code == 201
    owner = api_as(personas.owner)
    taken = owner.post("/api/orders", _order(mine.pk, "B-1", "pos"))
    fresh = owner.post("/api/orders", _order(mine.pk, "B-9", "pos"))
    assert taken.status_code == fresh.status_code == 201
    assert _shape(taken) == _shape(fresh)
    assert taken.data["account_id"] == mine.pk
    # The other order is untouched and still the outsider's alone.
    other = api_as(personas.outsider).get(f"/api/orders/{theirs_order.data['id']}")
    assert (other.data["account_id"], other.data["total"]) == (theirs.pk, "1.00")
    assert owner.get(f"/api/orders/{theirs_order.data['id']}").status_code == 404
    # Bulk: the same, "created" as for any fresh id.
    bulk = owner.post("/api/orders/bulk", {"orders": [_order(mine.pk, "B-1", "web")]})
    assert [r["status"] for r in bulk.data["results"]] == ["created"]
    api_as(personas.outsider).post(
        "/api/orders/bulk", {"orders": [_order(theirs.pk, "B-2", "web")]}
    )
    bulk = owner.post("/api/orders/bulk", {"orders": [_order(mine.pk, "B-2", "web")]})
    assert [r["status"] for r in bulk.data["results"]] == ["created"]


def test_a_visible_order_of_another_person_is_not_given_the_callers_data(
    personas, api_as, accounts
):
    mine, _ = accounts
    # The manager sees the owner's order, but the id is the owner's key, not the manager's.
    first = api_as(personas.owner).post("/api/orders", _order(mine.pk, "V-1", "pos"))
    second = api_as(personas.manager).post("/api/orders", _order(mine.pk, "V-1", "pos"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.data["id"] != first.data["id"]


def test_ones_own_id_replays_idempotently(personas, api_as, accounts):
    mine, _ = accounts
    owner = api_as(personas.owner)
    first = owner.post("/api/orders", _order(mine.pk, "R-1", "pos"))
    again = owner.post("/api/orders", _order(mine.pk, "R-1", "pos"))
    assert (again.status_code, again.data["code"]) == (409, "duplicate")
    bulk = owner.post("/api/orders/bulk", {"orders": [_order(mine.pk, "R-1", "pos")]})
    assert bulk.data["results"][0]["status"] == "existing"
    assert bulk.data["results"][0]["id"] == first.data["id"]
    assert owner.get("/api/orders?external_id=R-1").data["items"][0]["id"] == first.data["id"]


def test_bulk_orders_are_matched_within_their_source(personas, api_as, accounts):
    mine, theirs = accounts
    api_as(personas.outsider).post("/api/orders", _order(theirs.pk, "C-1", "erp"))
    r = api_as(personas.owner).post(
        "/api/orders/bulk", {"orders": [_order(mine.pk, "C-1", "web"), _order(mine.pk, "C-1")]}
    )
    assert r.status_code == 200, r.data
    assert [row["status"] for row in r.data["results"]] == ["created", "created"]
    again = api_as(personas.owner).post(
        "/api/orders/bulk", {"orders": [_order(mine.pk, "C-1", "web")]}
    )
    assert [row["status"] for row in again.data["results"]] == ["existing"]


def test_an_invisible_activitys_id_answers_as_a_fresh_one_and_a_replay_stays_200(
    personas, api_as, accounts
):
    mine, theirs = accounts
    body = {"kind": "interaction", "channel": "web", "external_id": "I-1", "source": "pos"}
    theirs_act = api_as(personas.outsider).post(
        "/api/activities", {**body, "account_id": theirs.pk}
    )
    owner = api_as(personas.owner)
    taken = owner.post("/api/activities", {**body, "account_id": mine.pk})
    fresh = owner.post("/api/activities", {**body, "external_id": "I-9", "account_id": mine.pk})
    assert taken.status_code == fresh.status_code == 201
    assert sorted(taken.data) == sorted(fresh.data)
    assert taken.data["id"] != theirs_act.data["id"] and taken.data["account_id"] == mine.pk
    replay = owner.post("/api/activities", {**body, "account_id": mine.pk})
    assert (replay.status_code, replay.data["id"]) == (200, taken.data["id"])
    other = api_as(personas.outsider).get(f"/api/activities/{theirs_act.data['id']}")
    assert other.data["account_id"] == theirs.pk


def test_activity_external_ids_are_unique_per_source(personas, api_as, accounts):
    mine, theirs = accounts
    body = {"kind": "interaction", "channel": "web", "external_id": "T-1", "source": "pos"}
    other = api_as(personas.outsider).post("/api/activities", {**body, "account_id": theirs.pk})
    assert other.status_code == 201, other.data
    crm = api_as(personas.owner).post(
        "/api/activities", {**body, "source": "crm", "account_id": mine.pk}
    )
    assert crm.status_code == 201, crm.data
    assert crm.data["source"] == "crm"
    replay = api_as(personas.owner).post(
        "/api/activities", {**body, "source": "crm", "account_id": mine.pk}
    )
    assert (replay.status_code, replay.data["id"]) == (200, crm.data["id"])

"""External ids are unique per source: one team's (or one system's) ids neither collide
with another's nor reveal that an invisible record exists."""

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


def test_a_taken_id_answers_the_same_whether_visible_or_not(personas, api_as, accounts):
    mine, theirs = accounts
    api_as(personas.outsider).post("/api/orders", _order(theirs.pk, "B-1", "pos"))
    api_as(personas.owner).post("/api/orders", _order(mine.pk, "B-2", "pos"))
    invisible = api_as(personas.owner).post("/api/orders", _order(mine.pk, "B-1", "pos"))
    visible = api_as(personas.owner).post("/api/orders", _order(mine.pk, "B-2", "pos"))
    assert invisible.status_code == visible.status_code == 409
    assert invisible.data == visible.data


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

"""Crafted cursors are a 400 on every list endpoint, never a 500 (issue 16, item 5).

The endpoints are every GET in the served OpenAPI schema that takes a `cursor`.
"""

import base64
import functools
import json

import pytest
from django.core import signing

from rapport.api.pagination import keyset_page
from rapport.imports.models import ImportJob
from rapport.webforms.models import WebForm

pytestmark = pytest.mark.django_db


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


CRAFTED = {
    "list_of_ints": "WzEsMl0",  # [1, 2]: the cursor format before signing
    "nan_decimal": _b64([{"k": "dec", "t": "NaN"}, 1]),
    "old_format_date": _b64([{"k": "dt", "t": "2025-01-01T00:00:00"}, 1]),
    "garbage": "!!!not-a-cursor",
    "forged_signature": signing.dumps({"s": "-created_at", "v": [1, 2]}, salt="x"),
    "signed_nan": signing.dumps(
        {"s": "-created_at", "v": [{"k": "dec", "t": "NaN"}, 1]},
        salt="rapport.api.pagination.cursor",
    ),
    "signed_wrong_types": signing.dumps(
        {"s": "-created_at", "v": [[1], {"x": 1}]}, salt="rapport.api.pagination.cursor"
    ),
}


@functools.cache
def list_paths() -> list[str]:
    from rapport.api.router import api

    schema = api.get_openapi_schema()
    return sorted(
        path
        for path, methods in schema["paths"].items()
        if "get" in methods
        and any(p["name"] == "cursor" for p in methods["get"].get("parameters", []))
    )


@pytest.fixture
def ids(personas, api_as):
    admin = api_as(personas.admin)
    account = admin.post("/api/accounts", {"name": "Cursor Co"}).data
    contact = admin.post("/api/contacts", {"last_name": "Cursor"}).data
    lead = admin.post("/api/leads", {"last_name": "Cursor", "company": "C"}).data
    opportunity = admin.post("/api/opportunities", {"name": "Cursor deal"}).data
    job = ImportJob.objects.create(
        object_type="accounts", file_path="x.csv", original_name="x.csv", created_by=personas.admin
    )
    rule = admin.post(
        "/api/automation/rules",
        {
            "name": "Cursor",
            "trigger_type": "manual",
            "object_type": "contact",
            "actions": [{"type": "add_tag", "params": {"tag": "x"}}],
        },
    ).data
    segment = admin.post("/api/segments", {"name": "Cursor", "kind": "static"}).data
    campaign = admin.post("/api/campaigns", {"name": "Cursor", "send": {}}).data
    case = admin.post("/api/cases", {"subject": "Cursor"}).data
    form = WebForm.objects.create(
        name="Cursor", slug="cursor", assign_user=personas.admin, created_by=personas.admin
    )
    return {
        "/api/campaigns/": campaign["id"],
        "/api/cases/": case["id"],
        "/api/forms/": form.pk,
        "/api/automation/rules/": rule["id"],
        "/api/segments/": segment["id"],
        "/api/accounts/": account["id"],
        "/api/contacts/": contact["id"],
        "/api/leads/": lead["id"],
        "/api/opportunities/": opportunity["id"],
        "/api/imports/": job.pk,
        "/api/consent/contacts/": contact["id"],
        "/api/consent/leads/": lead["id"],
    }


def _url(path: str, ids: dict) -> str:
    if "{pk}" not in path:
        return path
    prefix = path.split("{pk}")[0]
    return path.replace("{pk}", str(ids[prefix]))


def test_there_are_list_endpoints():
    assert len(list_paths()) >= 20


@functools.cache
def _query_params(path: str) -> set[str]:
    from rapport.api.router import api

    operation = api.get_openapi_schema()["paths"][path]["get"]
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


@pytest.mark.parametrize("crafted", list(CRAFTED))
@pytest.mark.parametrize("path", list_paths())
def test_a_crafted_cursor_is_a_400(personas, api_as, ids, path, crafted):
    api = api_as(personas.admin)
    query = {"cursor": CRAFTED[crafted]}
    if {"record_type", "record_id"} <= _query_params(path):  # a record's emails: named
        query.update(record_type="account", record_id=ids["/api/accounts/"])
    response = api.client.get(_url(path, ids), query, headers=api.headers)
    if path.startswith("/api/exports/"):
        # An export is the whole filtered list: it takes the list's parameters and ignores
        # the cursor.
        assert response.status_code == 200
        b"".join(response.streaming_content if response.streaming else [response.content])
        return
    assert response.status_code == 400, (response.status_code, response.content[:300])
    response.data = response.json()
    assert response.data["code"] == "bad_request"
    assert "cursor" in response.data["detail"]


def test_a_real_cursor_pages_and_is_bound_to_its_sort(personas, api_as):
    client = api_as(personas.owner)
    for i in range(3):
        client.post("/api/accounts", {"name": f"Page {i}"})
    first = client.get("/api/accounts", limit=2, sort="name")
    assert first.status_code == 200
    cursor = first.data["next_cursor"]
    second = client.get("/api/accounts", limit=2, sort="name", cursor=cursor)
    assert [a["name"] for a in second.data["items"]] == ["Page 2"]
    assert client.get("/api/accounts", sort="-name", cursor=cursor).status_code == 400


def test_decimal_and_date_cursors_round_trip(personas):
    from rapport.sales.models import Product

    for i, price in enumerate(["1.50", "2.50", "2.50", "9.99"]):
        Product.objects.create(sku=f"S{i}", name=f"P{i}", unit_price=price)
    seen = []
    cursor = None
    while True:
        page = keyset_page(
            Product.objects.all(), sort="unit_price", allowed={"unit_price"}, cursor=cursor, limit=1
        )
        seen += [p.sku for p in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == ["S0", "S1", "S2", "S3"]


def test_later_pages_reuse_the_first_pages_count_for_the_same_filters(personas, api_as):
    """The count travels in the cursor (issue 17: the capped count was the costliest
    statement of a deep page at 1M); a cursor of other filters is counted again."""
    client = api_as(personas.owner)
    for i in range(3):
        client.post("/api/accounts", {"name": f"Page {i}", "industry": "Retail"})
    first = client.get("/api/accounts", limit=2, sort="name")
    assert first.data["count"] == 3
    cursor = first.data["next_cursor"]
    client.post("/api/accounts", {"name": "Page 3", "industry": "Retail"})
    # Same filters: the count of the walk's first page, not a new count.
    second = client.get("/api/accounts", limit=2, sort="name", cursor=cursor)
    assert second.data["count"] == 3
    assert [a["name"] for a in second.data["items"]] == ["Page 2", "Page 3"]
    # Other filters with that cursor: counted again (4 Retail accounts now).
    other = client.get("/api/accounts", limit=2, sort="name", industry="Retail", cursor=cursor)
    assert other.data["count"] == 4
    # A cursor made without a count (an older cursor) is counted too.
    from rapport.api.pagination import _encode

    bare = _encode(["Page 1", first.data["items"][-1]["id"]], "name")
    assert client.get("/api/accounts", limit=2, sort="name", cursor=bare).data["count"] == 4


def test_a_cursor_handed_to_another_user_is_counted_again_for_them(personas, api_as):
    """The carried count is the walker's: someone else using the cursor gets their own
    count (a count of records they cannot see would leak)."""
    owner = api_as(personas.owner)
    for i in range(3):
        owner.post("/api/accounts", {"name": f"Owned {i}"})
    outsider = api_as(personas.outsider)
    outsider.post("/api/accounts", {"name": "Outsider's own"})
    first = owner.get("/api/accounts", limit=2, sort="name")
    own_count = outsider.get("/api/accounts", limit=2, sort="name").data["count"]
    assert own_count != first.data["count"]  # the personas see different sets
    handed = outsider.get("/api/accounts", limit=2, sort="name", cursor=first.data["next_cursor"])
    assert handed.data["count"] == own_count

"""A NUL character in text is refused with a 422 that says where (PostgreSQL cannot store one,
and psycopg raises before the query runs, so it must never reach the database)."""

import pytest

from rapport.accounts.models import Account

pytestmark = pytest.mark.django_db


def test_nul_in_a_query_string_is_a_422_naming_the_parameter(personas, api_as):
    api = api_as(personas.owner)
    for path in ("/api/accounts", "/api/exports/accounts"):
        r = api.get(path, tag="vip\x00")
        assert r.status_code == 422, (path, r.status_code)
        assert r.data["code"] == "null_characters"
        assert r.data["field"] == "tag"


def test_nul_in_a_body_is_a_422_naming_the_field_and_stores_nothing(personas, api_as):
    api = api_as(personas.owner)
    r = api.post("/api/accounts", {"name": "Acme\x00", "tags": ["ok"]})
    assert r.status_code == 422
    assert r.data["field"] == "name"
    r = api.post("/api/accounts", {"name": "Acme", "tags": ["ok", "b\x00d"]})
    assert r.status_code == 422
    assert r.data["field"] == "tags[1]"
    assert not Account.all_objects.exists()

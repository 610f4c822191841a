"""Unknown query parameters answer 400 naming the parameter (issue 17): `?owner=` on
/api/contacts (the filter is `owner_id`) was silently ignored and the whole list came back.
Checked for every list endpoint of the served OpenAPI schema, and the names the schema
documents are all still accepted."""

import pytest

from rapport.accounts.models import Contact
from rapport.accounts.services import contact_create
from rapport.api.router import api

pytestmark = pytest.mark.django_db

UNKNOWN = "no_such_parameter"


def _schema() -> dict:
    return api.get_openapi_schema()


def _page_schema(schema: dict, operation: dict) -> dict | None:
    """The 200 answer's schema, resolved once."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if body and "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return body


def _is_list(schema: dict, operation: dict) -> bool:
    """A list endpoint: its answer is an array, or a page of `items`."""
    body = _page_schema(schema, operation)
    if not body:
        return False
    return body.get("type") == "array" or "items" in body.get("properties", {})


def _list_operations() -> list[tuple[str, dict]]:
    schema = _schema()
    return sorted(
        (path, methods["get"])
        for path, methods in schema["paths"].items()
        if "get" in methods and _is_list(schema, methods["get"])
    )


def _url(path: str, operation: dict) -> str:
    """The path with its parameters filled (a parameter's value does not matter: the check
    runs before the endpoint looks anything up)."""
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            kind = param.get("schema", {}).get("type")
            path = path.replace("{" + param["name"] + "}", "1" if kind == "integer" else "x")
    return path


LISTS = _list_operations()
# The lists that declare query parameters (the rest have none to accept).
WITH_QUERY = [
    (path, op) for path, op in LISTS if any(p["in"] == "query" for p in op.get("parameters", []))
]


def test_the_schema_has_the_list_endpoints_this_test_covers():
    paths = {path for path, _ in LISTS}
    assert {"/api/contacts", "/api/accounts", "/api/orders", "/api/opportunities"} <= paths
    assert len(LISTS) >= 40, len(LISTS)
    assert len(WITH_QUERY) >= 20, len(WITH_QUERY)


@pytest.mark.parametrize(("path", "operation"), LISTS, ids=[p for p, _ in LISTS])
def test_every_list_endpoint_refuses_an_unknown_parameter(path, operation, personas, api_as):
    client = api_as(personas.admin)
    response = client.get(_url(path, operation), **{UNKNOWN: "1"})
    assert response.status_code == 400, (path, response.status_code, response.content[:300])
    assert response.data["code"] == "unknown_parameter"
    assert response.data["field"] == UNKNOWN
    assert UNKNOWN in response.data["detail"]


@pytest.mark.parametrize(("path", "operation"), WITH_QUERY, ids=[p for p, _ in WITH_QUERY])
def test_every_documented_parameter_is_accepted(path, operation, personas, api_as):
    """The check reads the same declarations the schema is built from: no documented query
    parameter is called unknown (a value may still be refused as invalid: 422)."""
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    client = api_as(personas.admin)
    response = client.get(_url(path, operation), **dict.fromkeys(names, "1"))
    assert response.status_code != 500, (path, response.content[:300])
    if response.status_code == 400:
        assert response.data["code"] != "unknown_parameter", (path, response.data)


def test_owner_on_contacts_answers_400_with_a_hint(personas, api_as):
    contact_create(actor=personas.owner, fields={"last_name": "Mine"})
    contact_create(actor=personas.teammate, fields={"last_name": "Theirs"})
    client = api_as(personas.admin)
    response = client.get("/api/contacts", owner=personas.owner.pk)
    assert response.status_code == 400
    assert response.data["field"] == "owner"
    assert "owner_id" in response.data["detail"]  # did you mean owner_id?
    # The declared filter still filters.
    listed = client.get("/api/contacts", owner_id=personas.owner.pk)
    assert listed.status_code == 200
    assert [row["last_name"] for row in listed.data["items"]] == ["Mine"]
    assert Contact.objects.count() == 2


def test_unknown_parameter_without_credentials_answers_401_first(db, api_as):
    response = api_as(None).get("/api/contacts", owner="1")
    assert response.status_code == 401


def test_a_known_parameter_with_an_unknown_one_is_still_refused(personas, api_as):
    client = api_as(personas.admin)
    response = client.get("/api/contacts", limit=5, ownr_id=1)
    assert response.status_code == 400
    assert response.data["field"] == "ownr_id"


def test_get_of_one_record_refuses_unknown_parameters_too(personas, api_as):
    contact = contact_create(actor=personas.owner, fields={"last_name": "One"})
    client = api_as(personas.admin)
    assert client.get(f"/api/contacts/{contact.pk}").status_code == 200
    response = client.get(f"/api/contacts/{contact.pk}", expand="all")
    assert response.status_code == 400
    assert response.data["field"] == "expand"

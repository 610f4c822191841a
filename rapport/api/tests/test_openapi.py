"""The served OpenAPI schema: strict JSON (no key twice), a valid OpenAPI document, built once
per process, and rendered by the docs page (/api/docs) in a real browser."""

import json
from collections import Counter

import ninja.main
import pytest
from django.test import Client
from openapi_spec_validator import validate
from playwright.sync_api import expect

from rapport.api.router import api


def _served_schema() -> bytes:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.content


def _strict_loads(content: bytes) -> dict:
    """json.loads that refuses an object holding a key twice (Python keeps the last one
    silently; YAML parsers such as Swagger UI's refuse the whole document)."""
    duplicated: list[str] = []

    def pairs_hook(pairs):
        duplicated.extend(key for key, count in Counter(k for k, _ in pairs).items() if count > 1)
        return dict(pairs)

    schema = json.loads(content, object_pairs_hook=pairs_hook)
    assert duplicated == [], f"{len(duplicated)} duplicated keys, e.g. {duplicated[:8]}"
    return schema


def test_served_schema_has_no_duplicated_keys(db):
    _strict_loads(_served_schema())


def test_served_schema_is_valid_openapi(db):
    schema = _strict_loads(_served_schema())
    validate(schema)  # raises OpenAPIValidationError naming the first problem


def test_every_operation_documents_the_error_shape_once(db):
    schema = _strict_loads(_served_schema())
    contacts_get = schema["paths"]["/api/contacts/{pk}"]["get"]["responses"]
    assert set(contacts_get) >= {"200", "400", "401", "403", "404", "409", "412", "422", "429"}
    assert contacts_get["404"]["description"] == "Not found (or not visible to you)"
    refs = {
        response["content"]["application/json"]["schema"]["$ref"]
        for methods in schema["paths"].values()
        for operation in methods.values()
        for status, response in operation["responses"].items()
        if status in {"400", "401", "403", "404", "409", "412", "422", "429"}
    }
    # One error schema, the one the endpoints declare (not a second copy under another name).
    assert refs == {"#/components/schemas/ErrorOut"}
    assert "Error" not in schema["components"]["schemas"]


def test_schema_is_built_once_per_process(db, monkeypatch):
    builds = []
    real_get_schema = ninja.main.get_schema

    def counting_get_schema(**kwargs):
        builds.append(kwargs["path_prefix"])
        return real_get_schema(**kwargs)

    monkeypatch.setattr(ninja.main, "get_schema", counting_get_schema)
    api.openapi_cache_clear()
    first = _served_schema()
    second = _served_schema()
    assert builds == ["/api/"]
    assert first == second
    # Python callers get their own copy: changing it does not change what is served.
    api.get_openapi_schema()["paths"].clear()
    assert builds == ["/api/"]
    assert _served_schema() == first


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_page_renders_every_operation(page):
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    from rapport.api.router import api

    api.get_openapi_schema()  # built once per process: the test is about rendering, not that
    page.goto("/api/docs")
    page.locator(".opblock").first.wait_for(timeout=60_000)  # Swagger UI parses ~160 paths
    expect(page.locator(".opblock").nth(99)).to_be_attached()  # at least 100 operations
    expect(page.get_by_text("Rapport API").first).to_be_visible()
    # Swagger UI lists parser and resolver problems in an errors box above the operations.
    assert page.locator(".errors-wrapper").count() == 0
    assert "Parser error" not in page.content()
    assert console_errors == []
    assert page.errors == []


def test_no_two_schemas_share_a_name():
    """ninja names components by class name: two response schemas with one name make one
    silently replace the other in the served schema (a mail StageOut once hid the pipelines')."""
    import ninja

    from rapport.api.router import api

    assert api.get_openapi_schema()  # every router (and its schemas) imported
    seen: dict[str, str] = {}
    clashes = []
    stack = list(ninja.Schema.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not cls.__module__.startswith("rapport.") or ".tests" in cls.__module__:
            continue
        where = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__name__ in seen and seen[cls.__name__] != where:
            clashes.append((seen[cls.__name__], where))
        seen.setdefault(cls.__name__, where)
    assert not clashes, clashes

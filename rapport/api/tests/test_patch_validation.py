"""PATCH validates like create (issue 16, items 6 and 9): the field constraints of the create
schema apply, and `null` clears a text field instead of reaching a NOT NULL column (a 500)."""

import pytest

from rapport.accounts.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(personas, api_as):
    return api_as(personas.owner)


@pytest.fixture
def admin(personas, api_as):
    return api_as(personas.admin)


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/accounts", {"name": "Null Co", "city": "Paris", "industry": "Food"}),
        ("/api/contacts", {"last_name": "Null", "city": "Paris", "title": "CTO"}),
        ("/api/leads", {"last_name": "Null", "company": "Null Co", "city": "Paris"}),
    ],
)
def test_null_clears_an_optional_text_field(rep, path, body):
    created = rep.post(path, body)
    assert created.status_code == 201, created.data
    url = f"{path}/{created.data['id']}"
    response = rep.patch(url, {"city": None})
    assert response.status_code == 200, response.data
    assert response.data["city"] == ""
    assert rep.get(url).data["city"] == ""


@pytest.mark.parametrize("name_field", ["name", "last_name"])
def test_null_for_a_required_text_field_is_a_422_naming_it(rep, name_field):
    path, body = {
        "name": ("/api/accounts", {"name": "Named Co"}),
        "last_name": ("/api/contacts", {"last_name": "Named"}),
    }[name_field]
    created = rep.post(path, body).data
    response = rep.patch(f"{path}/{created['id']}", {name_field: None})
    assert response.status_code == 422, response.data
    assert response.data["field"] == name_field


def test_null_for_a_non_text_field_is_a_422_naming_it(rep):
    account = rep.post("/api/accounts", {"name": "Orders Co"}).data
    order = rep.post(
        "/api/orders",
        {
            "account_id": account["id"],
            "ordered_at": "2025-03-01T10:00:00Z",
            "lines": [{"description": "W", "unit_price": "1"}],
        },
    ).data
    for field in ("ordered_at", "channel"):
        response = rep.patch(f"/api/orders/{order['id']}", {field: None})
        assert response.status_code == 422, response.data
        assert response.data["field"] == field


@pytest.mark.parametrize(
    "body,field",
    [
        ({"currency": "$$$"}, "currency"),
        ({"country": "1!"}, "country"),
        ({"name": "x" * 5000}, "name"),
        ({"website": "http://[x"}, "website"),
    ],
)
def test_account_patch_applies_the_create_rules(rep, body, field):
    created = rep.post("/api/accounts", {"name": "Rules Co"}).data
    assert rep.post("/api/accounts", {"name": "Other", **body}).status_code == 422
    response = rep.patch(f"/api/accounts/{created['id']}", body)
    assert response.status_code == 422, response.data
    assert response.data["field"] == field
    stored = Account.objects.get(pk=created["id"])
    assert (stored.name, stored.currency, stored.country, stored.website) == (
        "Rules Co",
        "EUR",
        "",
        "",
    )


def test_product_patch_refuses_a_negative_price(admin):
    product = admin.post("/api/products", {"sku": "P-1", "name": "Widget", "unit_price": "5"})
    assert product.status_code == 201, product.data
    response = admin.patch(f"/api/products/{product.data['id']}", {"unit_price": "-1"})
    assert response.status_code == 422, response.data
    assert response.data["field"] == "unit_price"
    assert admin.get(f"/api/products/{product.data['id']}").data["unit_price"] in ("5", "5.00")


def test_pipeline_patch_refuses_a_5000_character_name(admin):
    pipelines = admin.get("/api/pipelines").data["items"]
    response = admin.patch(f"/api/pipelines/{pipelines[0]['id']}", {"name": "x" * 5000})
    assert response.status_code == 422, response.data
    assert response.data["field"] == "name"


def test_every_patch_body_keeps_the_constraints_of_its_schema():
    """The mechanism: each PATCH operation's body has, field by field, the constraints of the
    schema it was made from."""
    from rapport.api.patch import patch_schema
    from rapport.api.router import api

    checked = 0
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                if "PATCH" not in operation.methods:
                    continue
                for params in operation.models:
                    for field in params.model_fields.values():
                        wrapped = getattr(field.annotation, "_wrapped_model", None)
                        if wrapped is None:
                            continue
                        original = wrapped.__bases__[0]
                        assert wrapped.__name__ == patch_schema(original).__name__
                        own = original.model_json_schema()["properties"]
                        patched = wrapped.model_json_schema()["properties"]
                        for name, prop in own.items():
                            rules = {
                                k: v
                                for k, v in prop.items()
                                if k in ("maxLength", "minLength", "pattern", "minimum")
                            }
                            variants = patched[name].get("anyOf", [patched[name]])
                            assert any(rules.items() <= v.items() for v in variants), name
                            checked += bool(rules)
    assert checked > 20


@pytest.mark.parametrize("website", ["http://[x", "https://[::1", "http://x:99999"])
def test_a_malformed_website_is_a_422_not_a_500(rep, website):
    response = rep.post(
        "/api/duplicates/check", {"object_type": "account", "name": "X", "website": website}
    )
    assert response.status_code == 422, response.data
    assert response.data["field"] == "website"
    assert rep.post("/api/accounts", {"name": "X", "website": website}).status_code == 422


def test_a_malformed_stored_website_gives_no_domain():
    from rapport.duplicates.matching import domain_key

    assert domain_key("http://[x") == ""

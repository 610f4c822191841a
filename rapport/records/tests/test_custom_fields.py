import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(personas, api_as):
    admin = api_as(personas.admin)
    for body in (
        {
            "object_type": "account",
            "key": "tier",
            "label": "Tier",
            "field_type": "choice",
            "choices": ["gold", "silver"],
        },
        {"object_type": "account", "key": "seats", "label": "Seats", "field_type": "number"},
        {"object_type": "account", "key": "renewal", "label": "Renewal", "field_type": "date"},
        {
            "object_type": "account",
            "key": "regions",
            "label": "Regions",
            "field_type": "multi_choice",
            "choices": ["eu", "us", "apac"],
        },
        {"object_type": "account", "key": "active", "label": "Active", "field_type": "boolean"},
        {"object_type": "account", "key": "mrr", "label": "MRR", "field_type": "money"},
    ):
        r = admin.post("/api/custom-fields", body)
        assert r.status_code == 201, r.data


def test_only_admin_defines_custom_fields(personas, api_as):
    r = api_as(personas.owner).post(
        "/api/custom-fields",
        {"object_type": "account", "key": "x", "label": "X", "field_type": "text"},
    )
    assert r.status_code == 403
    r = api_as(personas.admin).post(
        "/api/custom-fields",
        {"object_type": "account", "key": "x", "label": "X", "field_type": "choice"},
    )
    assert r.status_code == 422 and r.data["field"] == "choices"


def test_custom_values_validated_on_write(personas, api_as, fields):
    api = api_as(personas.owner)
    r = api.post("/api/accounts", {"name": "A", "custom": {"tier": "bronze"}})
    assert r.status_code == 422 and r.data["field"] == "custom.tier"
    r = api.post("/api/accounts", {"name": "A", "custom": {"nope": 1}})
    assert r.status_code == 422 and r.data["code"] == "unknown_field"
    r = api.post("/api/accounts", {"name": "A", "custom": {"seats": "many"}})
    assert r.status_code == 422 and r.data["field"] == "custom.seats"
    r = api.post("/api/accounts", {"name": "A", "custom": {"renewal": "2026-02-30"}})
    assert r.status_code == 422 and r.data["field"] == "custom.renewal"
    r = api.post(
        "/api/accounts",
        {
            "name": "A",
            "custom": {
                "tier": "gold",
                "seats": "12",
                "renewal": "2027-01-31",
                "regions": ["us", "eu"],
                "active": True,
                "mrr": 99.999,
            },
        },
    )
    assert r.status_code == 201, r.data
    assert r.data["custom"] == {
        "tier": "gold",
        "seats": 12,
        "renewal": "2027-01-31",
        "regions": ["eu", "us"],
        "active": True,
        "mrr": 100.0,
    }
    r = api.patch(f"/api/accounts/{r.data['id']}", {"custom": {"seats": None}})
    assert "seats" not in r.data["custom"] and r.data["custom"]["tier"] == "gold"


def test_custom_fields_filter_lists(personas, api_as, fields):
    api = api_as(personas.owner)
    a = api.post(
        "/api/accounts", {"name": "A", "custom": {"tier": "gold", "seats": 50, "regions": ["eu"]}}
    ).data["id"]
    b = api.post(
        "/api/accounts",
        {"name": "B", "custom": {"tier": "silver", "seats": 5, "regions": ["us", "apac"]}},
    ).data["id"]

    def listed(*cf):
        r = api.get("/api/accounts", cf=list(cf))
        assert r.status_code == 200, r.data
        return {x["id"] for x in r.data["items"]}

    assert listed("tier=gold") == {a}
    assert listed("seats__gte=10") == {a}
    assert listed("seats__lt=10") == {b}
    assert listed("regions=apac") == {b}
    r = api.get("/api/accounts", cf=["seats__gte=lots"])
    assert r.status_code == 422 and r.data["code"] == "invalid_filter"
    r = api.get("/api/accounts", cf=["unknown=1"])
    assert r.status_code == 422

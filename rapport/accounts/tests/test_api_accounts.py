import pytest

pytestmark = pytest.mark.django_db


def test_owner_creates_lists_and_updates_account(personas, api_as):
    api = api_as(personas.owner)
    r = api.post(
        "/api/accounts", {"name": "Acme", "website": "https://www.acme.example/x", "tags": ["vip"]}
    )
    assert r.status_code == 201, r.data
    assert r.data["domain"] == "acme.example"
    assert r.data["tags"] == ["vip"]
    assert r["ETag"] == '"1"'
    pk = r.data["id"]
    r = api.get("/api/accounts")
    assert r.status_code == 200
    assert [a["id"] for a in r.data["items"]] == [pk]
    assert r.data["count"] == 1
    r = api.patch(f"/api/accounts/{pk}", {"industry": "Tools"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.data
    assert r.data["version"] == 2
    r = api.patch(f"/api/accounts/{pk}", {"industry": "Other"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.data["code"] == "stale_version"
    assert api.get(f"/api/accounts/{pk}").data["industry"] == "Tools"


def test_outsider_gets_404_for_private_account(personas, api_as):
    pk = api_as(personas.owner).post("/api/accounts", {"name": "Secret"}).data["id"]
    outsider = api_as(personas.outsider)
    assert outsider.get(f"/api/accounts/{pk}").status_code == 404
    assert outsider.get("/api/accounts").data["items"] == []
    assert api_as(personas.manager).get(f"/api/accounts/{pk}").status_code == 200


def test_bad_input_gives_422_with_field(personas, api_as):
    r = api_as(personas.owner).post("/api/accounts", {"name": ""})
    assert r.status_code == 422
    assert r.data["field"] == "name"
    assert set(r.data) >= {"detail", "code", "field"}


def test_idempotency_key_creates_once(personas, api_as):
    api = api_as(personas.owner)
    h = {"Idempotency-Key": "abc"}
    r1 = api.post("/api/accounts", {"name": "Once"}, headers=h)
    r2 = api.post("/api/accounts", {"name": "Once"}, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.data["id"] == r2.data["id"]
    assert api.get("/api/accounts").data["count"] == 1
    r3 = api.post("/api/accounts", {"name": "Other"}, headers=h)
    assert r3.status_code == 409


def test_contact_with_emails_and_phones(personas, api_as):
    api = api_as(personas.owner)
    r = api.post(
        "/api/contacts",
        {
            "last_name": "Doe",
            "first_name": "Jane",
            "emails": [
                {"email": "Jane@Example.COM"},
                {"email": "j@home.example", "kind": "home", "is_primary": True},
            ],
            "phones": [{"number": "+1 (650) 253-0000"}],
        },
    )
    assert r.status_code == 201, r.data
    assert r.data["email"] == "j@home.example"
    assert r.data["phone"] == "+16502530000"
    bad = api.post("/api/contacts", {"last_name": "X", "email": "not-an-email"})
    assert bad.status_code == 422
    assert bad.data["field"] == "emails[0].email"

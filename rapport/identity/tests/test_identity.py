import pytest
from django.contrib.auth.hashers import identify_hasher
from django.test import Client, override_settings

from rapport.identity.models import ApiToken, Role
from rapport.identity.services import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    user_create,
    user_deactivate,
)

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_authenticates(personas):
    token, secret = api_token_create(user=personas.owner, name="cli")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in (stored.digest, stored.prefix)
    assert api_token_authenticate(secret) == personas.owner
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_revoked_token_no_longer_authenticates(personas, api_as):
    token, secret = api_token_create(user=personas.owner, name="cli")
    api_token_revoke(token=token)
    assert api_token_authenticate(secret) is None
    r = Client().get("/api/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert r.json()["code"] == "unauthenticated"


def test_deactivation_ends_sessions_and_tokens_at_once(personas):
    user = personas.teammate
    browser = Client()
    browser.force_login(user)
    assert browser.get("/api/me").status_code == 200
    _, secret = api_token_create(user=user, name="cli")
    user_deactivate(user=user)
    assert browser.get("/api/me").status_code == 401
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_passwords_are_hashed_with_argon2_in_production_settings():
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"]):
        user = user_create(username="argon", password="correct horse battery", role=Role.SALES_REP)
        assert identify_hasher(user.password).algorithm == "argon2"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_login_attempts_are_rate_limited(personas):
    personas.owner.set_password("right-password-1")
    personas.owner.save()
    client = Client()
    for _ in range(3):
        client.post("/admin/login/", {"username": "owner", "password": "wrong"})
    r = client.post("/admin/login/", {"username": "owner", "password": "right-password-1"})
    assert r.status_code == 429


def test_token_endpoints_create_list_and_revoke(personas, api_as):
    api = api_as(personas.owner)
    r = api.post("/api/me/tokens", {"name": "laptop"})
    assert r.status_code == 201
    secret = r.data["token"]
    assert secret.startswith("rpt_")
    listed = api.get("/api/me/tokens").data
    assert "token" not in listed[0]
    assert {t["name"] for t in listed} >= {"laptop"}
    assert api.delete(f"/api/me/tokens/{r.data['id']}").status_code == 204
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # Someone else's token is not found.
    assert api_as(personas.outsider).delete(f"/api/me/tokens/{r.data['id']}").status_code == 404


def test_only_admins_manage_users_and_teams(personas, api_as):
    r = api_as(personas.manager).post("/api/users", {"username": "newbie"})
    assert r.status_code == 403
    r = api_as(personas.admin).post(
        "/api/users", {"username": "newbie", "team_id": personas.team_b.pk}
    )
    assert r.status_code == 201, r.data
    r = api_as(personas.admin).post("/api/teams", {"name": "Team A"})
    assert r.status_code == 422 and r.data["field"] == "name"
    r = api_as(personas.admin).post(f"/api/users/{personas.teammate.pk}/deactivate")
    assert r.status_code == 200 and r.data["is_active"] is False


def test_anonymous_gets_401_everywhere():
    for path in ("/api/me", "/api/accounts", "/api/contacts", "/api/users"):
        r = Client().get(path)
        assert r.status_code == 401, path
        assert r.json()["code"] == "unauthenticated"

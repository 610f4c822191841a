"""Signing in and out, password reset and change, API tokens."""

import re

import pytest
from django.core import mail

from rapport.identity.models import ApiToken
from rapport.identity.services import api_token_create, user_create
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane(db):
    return user_create(
        username="jane", email="jane@example.com", password="correct-horse-9", validate=False
    )


def test_sign_in_with_the_form_then_sign_out(jane):
    client = ui_client()
    page = client.get("/login/?next=/accounts/")
    assert page.status_code == 200
    assert 'name="next" value="/accounts/"' in text_of(page)
    r = client.post(
        "/login/", {"username": "jane", "password": "correct-horse-9", "next": "/accounts/"}
    )
    assert r.status_code == 302 and r["Location"] == "/accounts/"
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405  # signing out is a POST (no CSRF-able GET)
    r = client.post("/logout/")
    assert r.status_code == 302 and r["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_wrong_password_shows_an_error_and_repeated_failures_lock_out(jane, settings):
    client = ui_client()
    r = client.post("/login/", {"username": "jane", "password": "wrong"})
    assert r.status_code == 200
    assert "correct username and password" in text_of(r)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        r = client.post("/login/", {"username": "jane", "password": "wrong"})
    r = client.post("/login/", {"username": "jane", "password": "correct-horse-9"})
    assert r.status_code == 429  # django-axes saw the failures: the request reached authenticate


def test_password_reset_sends_a_working_link(jane):
    client = ui_client()
    r = client.post("/password-reset/", {"email": "jane@example.com"})
    assert r.status_code == 302 and r["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in text_of(form)
    r = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "another-Secret-42", "new_password2": "another-Secret-42"},
    )
    assert r.status_code == 302 and r["Location"] == "/reset/done/"
    jane.refresh_from_db()
    assert jane.check_password("another-Secret-42")


def test_unknown_email_gets_the_same_answer_and_no_mail(db):
    r = ui_client().post("/password-reset/", {"email": "nobody@example.com"})
    assert r.status_code == 302
    assert mail.outbox == []


def test_change_own_password(jane):
    client = ui_client(jane)
    r = client.post(
        "/me/password/",
        {"old_password": "nope", "new_password1": "x", "new_password2": "x"},
    )
    assert r.status_code == 200
    assert "incorrect" in text_of(r)
    r = client.post(
        "/me/password/",
        {
            "old_password": "correct-horse-9",
            "new_password1": "brand-New-pass-77",
            "new_password2": "brand-New-pass-77",
        },
        follow=True,
    )
    assert "Your password was changed" in text_of(r)
    jane.refresh_from_db()
    assert jane.check_password("brand-New-pass-77")


def test_api_token_secret_is_shown_once_and_can_be_revoked(jane):
    client = ui_client(jane)
    r = client.post("/me/tokens/", {"name": "CI script"})
    assert r.status_code == 200
    secret = re.search(r'value="(rpt_[^"]+)"', text_of(r)).group(1)
    token = ApiToken.objects.get(user=jane)
    assert token.name == "CI script"
    page = text_of(client.get("/me/tokens/"))
    assert "CI script" in page and secret not in page and "Never" in page
    api = ui_client()
    assert (
        api.get("/api/accounts", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    r = client.post(f"/me/tokens/{token.pk}/revoke")
    assert "Revoked" in text_of(r)
    assert (
        api.get("/api/accounts", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_token_form_errors_and_other_users_tokens(jane, personas):
    client = ui_client(jane)
    r = client.post("/me/tokens/", {"name": ""})
    assert r.status_code == 422
    assert "This field is required" in text_of(r)
    other, _ = api_token_create(user=personas.owner, name="theirs")
    assert client.post(f"/me/tokens/{other.pk}/revoke").status_code == 404
    assert "theirs" not in text_of(client.get("/me/tokens/"))
    other.refresh_from_db()
    assert other.revoked_at is None


def _api_status(secret: str) -> int:
    return ui_client().get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def test_password_reset_revokes_api_tokens(jane):
    _, secret = api_token_create(user=jane, name="laptop script")
    assert _api_status(secret) == 200
    client = ui_client()
    client.post("/password-reset/", {"email": "jane@example.com"})
    link = re.search(r"http://testserver(/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    r = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "another-Secret-42", "new_password2": "another-Secret-42"},
        follow=True,
    )
    assert "API tokens you had were revoked" in text_of(r)
    assert _api_status(secret) == 401
    assert ApiToken.objects.get(user=jane).revoked_at is not None


def test_password_change_revokes_api_tokens_and_says_so(jane):
    _, secret = api_token_create(user=jane, name="laptop script")
    _, other = api_token_create(user=jane, name="nightly sync")
    client = ui_client(jane)
    assert "revokes your API tokens" in text_of(client.get("/me/password/"))
    r = client.post(
        "/me/password/",
        {
            "old_password": "correct-horse-9",
            "new_password1": "brand-New-pass-77",
            "new_password2": "brand-New-pass-77",
        },
        follow=True,
    )
    assert "Your 2 API tokens were revoked" in text_of(r)
    assert _api_status(secret) == 401 and _api_status(other) == 401
    jane.refresh_from_db()
    assert jane.check_password("brand-New-pass-77")
    assert client.get("/").status_code == 200  # this session stays signed in


def test_admin_setting_a_password_revokes_the_users_tokens(jane, personas):
    _, secret = api_token_create(user=jane, name="laptop script")
    client = ui_client(personas.admin)
    r = client.post(
        f"/admin/identity/user/{jane.pk}/password/",
        {"password1": "admin-Set-pass-31", "password2": "admin-Set-pass-31"},
    )
    assert r.status_code == 302
    assert _api_status(secret) == 401

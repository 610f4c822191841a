"""Login throttling behind a TLS proxy: lockouts follow the real client address, and one
address trying many names is stopped (password spraying)."""

import pytest
from django.test import Client, RequestFactory

from rapport.identity.login_throttle import client_address
from rapport.identity.services import user_create

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"  # the TLS proxy: every request reaches Django from here


@pytest.fixture
def jane(db):
    return user_create(username="jane", password="correct-horse-9", validate=False)


def _sign_in(username, password, client_ip=None, remote=PROXY, forwarded=None):
    headers = {}
    if forwarded is not None or client_ip is not None:
        headers["X-Forwarded-For"] = forwarded if forwarded is not None else client_ip
    return Client(REMOTE_ADDR=remote).post(
        "/login/", {"username": username, "password": password}, headers=headers
    )


def test_lockout_behind_the_proxy_is_per_client_not_for_everyone(jane, settings):
    settings.RAPPORT_TRUSTED_PROXIES = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in("jane", "wrong", client_ip="203.0.113.9")
    assert _sign_in("jane", "correct-horse-9", client_ip="203.0.113.9").status_code == 429
    # Jane herself, from her own address, still gets in through the same proxy.
    assert _sign_in("jane", "correct-horse-9", client_ip="198.51.100.7").status_code == 302


def test_forged_forwarded_for_entries_left_of_the_proxys_are_ignored(jane, settings):
    settings.RAPPORT_TRUSTED_PROXIES = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The attacker varies what they send; the proxy appends their real address.
        _sign_in("jane", "wrong", forwarded=f"192.0.2.{n}, 203.0.113.9")
    assert (
        _sign_in("jane", "correct-horse-9", forwarded="192.0.2.200, 203.0.113.9").status_code == 429
    )


def test_without_trusted_proxies_the_header_is_not_believed(jane, settings):
    settings.RAPPORT_TRUSTED_PROXIES = 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in("jane", "wrong", remote="203.0.113.9", forwarded=f"192.0.2.{n}")
    r = _sign_in("jane", "correct-horse-9", remote="203.0.113.9", forwarded="192.0.2.99")
    assert r.status_code == 429


def test_password_spraying_from_one_address_is_stopped(jane, settings):
    settings.RAPPORT_TRUSTED_PROXIES = 1
    settings.RAPPORT_LOGIN_FAILURES_PER_ADDRESS = 20
    statuses = [
        _sign_in(f"user{n}", "Summer2026!", client_ip="203.0.113.66").status_code for n in range(30)
    ]
    assert statuses[:19] == [200] * 19  # the usual "wrong username or password" form
    assert set(statuses[19:]) == {429}
    # Even the right password is refused from that address during the cool-off ...
    r = _sign_in("jane", "correct-horse-9", client_ip="203.0.113.66")
    assert r.status_code == 429
    assert "Too many sign-in attempts" in r.content.decode()
    # ... while everyone else signs in as usual.
    assert _sign_in("jane", "correct-horse-9", client_ip="198.51.100.7").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.5", "203.0.113.9", "10.0.0.5"),
        (1, "10.0.0.5", "", "10.0.0.5"),
        (1, "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.5", "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        (2, "10.0.0.5", "1.2.3.4, 203.0.113.9, 10.0.0.4", "203.0.113.9"),
        (2, "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (1, "10.0.0.5", "not-an-address", "10.0.0.5"),
        (1, "10.0.0.5", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(settings, proxies, remote, forwarded, expected):
    settings.RAPPORT_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected

"""Security headers: a strict Content-Security-Policy on every page, HSTS behind TLS (HTTPS=1)."""

import pytest

from rapport.web.testing import probe_fresh_process, ui_client

PRODUCTION = {"SECRET_KEY": "test-only-secret-key-for-the-headers-probe"}


def test_https_deployment_sends_hsts_for_a_year():
    answer = probe_fresh_process(
        "/login/", headers={"X-Forwarded-Proto": "https"}, HTTPS="1", **PRODUCTION
    )
    assert answer["status"] == 200
    assert answer["headers"]["Strict-Transport-Security"] == "max-age=31536000"
    assert "script-src 'self'" in answer["headers"]["Content-Security-Policy"]


def test_plain_http_deployment_sends_no_hsts():
    answer = probe_fresh_process("/login/", HTTPS="0", **PRODUCTION)
    assert "Strict-Transport-Security" not in answer["headers"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/", "/accounts/", "/api/docs", "/admin/login/"])
def test_pages_carry_a_policy_without_unsafe_inline_or_eval(personas, path):
    response = ui_client(personas.admin).get(path)
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]

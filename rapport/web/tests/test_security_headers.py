"""Security headers: a strict Content-Security-Policy on every page, HSTS behind TLS (HTTPS=1)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rapport.web.testing import ui_client

ROOT = Path(__file__).resolve().parents[3]

# Run in a fresh interpreter: the HTTPS settings are read from the environment at start-up.
PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/login/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({"status": response.status_code, "hsts": response.get("Strict-Transport-Security"),
                  "csp": response.get("Content-Security-Policy")}))
"""


def _probe(**env) -> dict:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rapport.settings",
        "DATABASE_URL": "sqlite:///:memory:",
        "SECRET_KEY": "test-only-secret-key-for-the-headers-probe",
        "DEBUG": "0",
        **env,
    }
    environment.pop("RAPPORT_DEV", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_https_deployment_sends_hsts_for_a_year():
    answer = _probe(HTTPS="1")
    assert answer["status"] == 200
    assert answer["hsts"] == "max-age=31536000"
    assert "script-src 'self'" in answer["csp"]


def test_plain_http_deployment_sends_no_hsts():
    assert _probe(HTTPS="0")["hsts"] is None


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

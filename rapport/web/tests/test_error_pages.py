"""Rapport's own 403/404/500 pages (never Django's technical ones), saying why; `make run`
keeps DEBUG off and still serves the static files."""

import re
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from rapport.accounts.services import account_create
from rapport.records.services import org_default_set
from rapport.web.testing import probe_fresh_process, text_of, ui_client

pytestmark = pytest.mark.django_db


def test_unknown_address_gets_the_branded_404_inside_the_app(personas):
    response = ui_client(personas.owner).get("/no-such-page/")
    assert response.status_code == 404
    page = text_of(response)
    assert "Not found" in page and 'class="sidebar"' in page and "Go home" in page
    assert "URLconf" not in page


def test_settings_refused_to_a_rep_says_who_may_see_them(personas):
    response = ui_client(personas.owner).get("/settings/")
    assert response.status_code == 403
    page = text_of(response)
    assert "Only administrators and managers may see the settings" in page
    assert 'class="sidebar"' in page


def test_edit_refused_on_a_record_shared_read_only_says_so(personas):
    account = account_create(actor=personas.owner, fields={"name": "Viewable Co"})
    org_default_set(object_type="account", access="public_read", actor=personas.admin)
    response = ui_client(personas.outsider).get(f"/accounts/{account.pk}/edit")
    assert response.status_code == 403
    assert "You may not change this record" in text_of(response)
    assert "URLconf" not in text_of(response)


def test_server_error_page_needs_no_context():
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "{{" not in page and "{%" not in page
    assert 'href="/static/web/rapport.css"' in page


def test_make_run_does_not_force_debug():
    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    run_recipe = re.search(r"^run:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert "DEBUG=1" not in run_recipe


def test_development_mode_without_debug_serves_static_files_and_branded_pages():
    css = probe_fresh_process("/static/web/rapport.css", RAPPORT_DEV="1")
    assert css["status"] == 200 and "Rapport's CSS foundation" in css["body"]
    missing = probe_fresh_process("/no-such-page/", RAPPORT_DEV="1")
    assert missing["status"] == 404
    assert "Not found" in missing["body"] and "URLconf" not in missing["body"]

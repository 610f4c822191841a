"""The favicon: linked from every page and served at /favicon.ico (no 404 in the log)."""

import pytest

from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_to_anyone():
    r = ui_client().get("/favicon.ico")
    assert r.status_code == 200
    assert r["Content-Type"] == "image/x-icon"
    body = b"".join(r.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age" in r["Cache-Control"]


def test_pages_link_the_icon(personas):
    for client, url in ((ui_client(), "/login/"), (ui_client(personas.owner), "/")):
        page = text_of(client.get(url))
        assert 'rel="icon"' in page and "favicon" in page, url

"""The sidebar is rendered once per process for each combination of the abilities it shows
(`rapport_ui.sidebar`) with the current link marked per request: the text must be what the
plain include of web/_sidebar.html writes, for every persona and every section."""

import re
from pathlib import Path

import pytest
from django.template import engines
from django.test import RequestFactory

import rapport
from rapport.web.abilities import Abilities
from rapport.web.templatetags import rapport_ui

pytestmark = pytest.mark.django_db

PATHS = [
    "/",
    "/cases/",
    "/cases/12/",
    "/accounts/3/",
    "/portal-admin/",
    "/marketing/x",
    "/imports/",
    "/settings/users/",
    "/search",
    "/nowhere/",
    "/cases",
]
INCLUDED = "{% include 'web/_sidebar.html' %}"
CACHED = "{% load rapport_ui %}{% sidebar %}"


def _render(source: str, user, path: str) -> str:
    request = RequestFactory().get(path)
    request.user = user
    return engines["django"].from_string(source).render({"can": Abilities(user)}, request)


def test_cached_sidebar_is_the_included_one(personas):
    rapport_ui._sidebars.clear()
    seen = set()
    for user in (personas.admin, personas.manager, personas.owner, personas.reader):
        for path in PATHS:
            included = _render(INCLUDED, user, path)
            assert _render(CACHED, user, path) == included, (user.username, path)
            assert _render(CACHED, user, path) == included  # from the cache
            seen.add(included)
    assert len(rapport_ui._sidebars) >= 2  # admins see Settings and Imports, readers do not
    assert len(seen) > len(PATHS)
    admin_cases = _render(CACHED, personas.admin, "/cases/12/")
    assert admin_cases.count('aria-current="page"') == 1
    assert '<a class="nav-link" href="/cases/" aria-current="page">Service</a>' in admin_cases
    assert _render(CACHED, personas.admin, "/search").count("aria-current") == 0
    assert _render(CACHED, personas.admin, "/").count('aria-current="page">Home<') == 1


def test_the_sidebar_reads_only_the_abilities_it_is_cached_by():
    source = (Path(rapport.__file__).parent / "web/templates/web/_sidebar.html").read_text()
    variables = set(re.findall(r"\{%\s*(?:if|elif)\s+([^%]*)%\}", source))
    names = {
        w for v in variables for w in re.findall(r"[\w.]+", v) if w not in {"or", "and", "not"}
    }
    assert names <= {f"can.{name}" for name in rapport_ui.SIDEBAR_ABILITIES}, names
    assert "{{" not in source and "with" not in source
    tags = set(re.findall(r"\{%\s*(\w+)", source))
    assert tags <= {"load", "nav_link", "url", "if", "elif", "else", "endif"}, tags

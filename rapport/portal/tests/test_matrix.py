"""The portal's authorisation matrix: a portal session × every staff URL and API path (from
the URL resolver) → 404, never data; a portal user × other customers' cases, orders, assets
and returns → 404; a staff session × every portal page → the portal's sign-in page."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from rapport.portal.middleware import OPEN_PREFIXES
from rapport.portal.models import PortalAccountSetting
from rapport.portal.tests.factories import portal_client
from rapport.returns.services import return_create

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def _concrete(route: str, value: int) -> str | None:
    if route.startswith("^") or "(?P" in route:  # regex routes (admin): fill the simple ones
        route = route.lstrip("^").rstrip("$").replace("\\Z", "")
        route = re.sub(r"\(\?P<\w+>[^)]*\)", str(value), route)
        if any(ch in route for ch in "()[]*+?\\"):
            return None

    def fill(match):
        converter = match.group(1) or "str"
        if converter == "int":
            return str(value)
        if converter == "uuid":
            return "00000000-0000-0000-0000-000000000000"
        return "x1"

    return "/" + _PARAM.sub(fill, route)


def all_paths(value: int) -> list[str]:
    paths = set()
    for route in _walk(get_resolver().url_patterns):
        path = _concrete(route, value)
        if path is not None:
            paths.add(path)
    return sorted(paths)


def test_portal_session_reaches_no_staff_url_or_api_path(customers):
    alice, bob = customers
    client = portal_client(alice.portal_user)
    paths = [p for p in all_paths(bob.case.pk) if not p.startswith(OPEN_PREFIXES)]
    assert len(paths) > 200  # the resolver walk found the CRM
    assert any(p.startswith("/api/") for p in paths)
    leaks = []
    for path in paths:
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code != 404:
                leaks.append((method, path, response.status_code))
            elif path.startswith("/api/"):
                assert response.json()["code"] == "not_found"
    assert leaks == []


def test_portal_user_sees_only_their_own_records(customers):
    alice, bob = customers
    client = portal_client(alice.portal_user)
    bob_return = return_create(
        portal_user=bob.portal_user,
        fields={
            "order_line": bob.line,
            "quantity": 1,
            "reason": "defective",
            "condition": "used",
            "disposition": "refund",
        },
    )
    for path in (
        f"/portal/cases/{bob.case.pk}/",
        f"/portal/cases/{alice.colleague_case.pk}/",  # a colleague's: company setting is off
        f"/portal/orders/{bob.order.pk}/",
        f"/portal/returns/new/?order_line={bob.line.pk}",
        f"/portal/returns/new/?asset={bob.asset.pk}",
        f"/portal/cases/new/?asset={bob.asset.pk}",
    ):
        response = client.get(path)
        expected = 200 if path.startswith("/portal/cases/new/") else 404
        assert response.status_code == expected, path
        assert b"Bob" not in response.content or path.startswith("/portal/cases/new"), path
    for path in (f"/portal/cases/{bob.case.pk}/reply", f"/portal/cases/{bob.case.pk}/close"):
        assert client.post(path, {"body": "hi"}).status_code == 404
    assert client.post("/portal/returns/new/", {"asset": bob.asset.pk}).status_code == 404
    response = client.post("/portal/cases/new/", {"subject": "x", "asset": bob.asset.pk})
    assert response.status_code == 404
    # Lists hold only Alice's rows.
    for path, mine, theirs in (
        ("/portal/?status=all", alice.case.subject, bob.case.subject),
        ("/portal/orders/", f"Order {alice.order.pk}", f"Order {bob.order.pk}"),
        ("/portal/products/", "SN-Alice", "SN-Bob"),
        ("/portal/returns/", "", bob_return.number),
    ):
        content = client.get(path).content.decode()
        assert mine.replace("'", "&#x27;") in content
        assert theirs.replace("'", "&#x27;") not in content
    # The public conversation only: the reply, never the internal note.
    detail = client.get(f"/portal/cases/{alice.case.pk}/").content.decode()
    assert "PUBLIC-ANSWER-Alice" in detail
    assert "INTERNAL-NOTE-Alice" not in detail


def test_company_setting_opens_colleagues_cases_only(customers):
    alice, bob = customers
    PortalAccountSetting.objects.create(account=alice.account, company_cases=True)
    client = portal_client(alice.portal_user)
    assert client.get(f"/portal/cases/{alice.colleague_case.pk}/").status_code == 200
    assert client.get(f"/portal/cases/{bob.colleague_case.pk}/").status_code == 404
    assert client.get(f"/portal/cases/{bob.case.pk}/").status_code == 404


def test_staff_session_gets_no_portal_page(customers, personas):
    alice = customers[0]
    staff = Client()
    staff.force_login(personas.admin)
    portal_paths = [
        p
        for p in all_paths(alice.case.pk)
        if p.startswith("/portal/")
        and not p.startswith("/portal/login/")
        and p != "/portal/logout/"
    ]
    assert len(portal_paths) >= 12
    for path in portal_paths:
        response = staff.get(path)
        assert response.status_code in (302, 405), path
        if response.status_code == 302:
            assert response["Location"].startswith("/portal/login/"), path

"""A service's Conflict (the record's state forbids the action) reaches a person as a 409 page
or, under htmx, as a toast with nothing swapped — never as a 500."""

import pytest
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from rapport.records.exceptions import Conflict
from rapport.web.decorators import ui_view
from rapport.web.testing import HTMX

pytestmark = pytest.mark.django_db


@ui_view
def _refusing_view(request):
    raise Conflict("This lead is converted: change its account instead", code="lead_converted")


def _request(user, headers=None):
    request = RequestFactory().post("/anything", headers=headers or {})
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    request.user = user
    from django_htmx.middleware import HtmxDetails

    request.htmx = HtmxDetails(request)
    return request


def test_plain_request_gets_a_409_page_with_the_reason(personas):
    response = _refusing_view(_request(personas.owner))
    assert response.status_code == 409
    body = response.content.decode()
    assert "This lead is converted: change its account instead" in body
    assert "<html" in body.lower()


def test_htmx_request_gets_a_toast_and_no_swap(personas):
    response = _refusing_view(_request(personas.owner, {"HX-Request": "true", **HTMX}))
    assert response.status_code == 409
    assert response["HX-Reswap"] == "none"
    body = response.content.decode()
    assert "This lead is converted: change its account instead" in body
    assert "hx-swap-oob" in body

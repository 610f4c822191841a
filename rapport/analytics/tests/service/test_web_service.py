"""The Service dashboard page: who may open it, what it shows, bad filters."""

import pytest
from django.test import Client

from .conftest import END, START

pytestmark = pytest.mark.django_db

URL = "/analytics/service/"
RANGE = {"start": START.isoformat(), "end": END.isoformat()}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_manager_sees_the_figures_and_the_charts_data(desk, personas):
    response = client_for(personas.manager).get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="service-data"' in html
    assert 'id="table-agents"' in html
    assert "Olga Owner" in html
    assert "45 min" in html  # the median first response
    assert "50.0 %" in html  # first-response SLA attainment
    assert 'aria-current="page">Service<' in html


def test_queue_member_sees_their_queue_only_and_outsider_gets_the_reason(desk, personas):
    member = client_for(personas.teammate).get(URL, RANGE)
    assert member.status_code == 200
    assert "Olga Owner" not in member.content.decode()  # the Desk queue's agent
    refused = client_for(personas.outsider).get(URL)
    assert refused.status_code == 403
    assert "queue members" in refused.content.decode()


def test_reversed_range_is_shown_next_to_the_field(desk, personas):
    response = client_for(personas.admin).get(URL, {"start": "2026-05-10", "end": "2026-05-01"})
    assert response.status_code == 422
    assert "Start is after end" in response.content.decode()


def test_overview_links_to_the_service_dashboard(personas):
    response = client_for(personas.admin).get("/analytics/")
    assert 'href="/analytics/service/"' in response.content.decode()

"""The SLA API: policies CRUD (administrators), a case's clock, recomputation."""

import pytest
import time_machine

from rapport.sla.models import SlaPolicy
from rapport.sla.services import sla_on_case_event
from rapport.sla.tests.conftest import paris

pytestmark = pytest.mark.django_db

POLICY = {
    "name": "Gold",
    "tiers": ["gold"],
    "first_response_minutes": 60,
    "resolution_minutes": 420,
    "warn_percent_before": 20,
    "escalations": {"breach": {"notify_owner": True, "raise_priority": True}},
}


def test_admin_creates_reads_replaces_and_deletes_a_policy(personas, api_as, office):
    api = api_as(personas.admin)
    created = api.post("/api/sla/policies", {**POLICY, "calendar_id": office.pk})
    assert created.status_code == 201, created.data
    body = created.data
    assert body["calendar_id"] == office.pk
    assert body["escalations"]["breach"]["raise_priority"] is True
    assert body["pause_statuses"] == ["pending_customer", "on_hold"]
    pk = body["id"]
    assert [p["name"] for p in api.get("/api/sla/policies").data] == ["Gold"]
    replaced = api.put(
        f"/api/sla/policies/{pk}", {**POLICY, "name": "Gold 24x7", "escalations": {}}
    )
    assert replaced.status_code == 200, replaced.data
    assert (replaced.data["name"], replaced.data["calendar_id"], replaced.data["escalations"]) == (
        "Gold 24x7",
        None,
        {"warning": None, "breach": None, "second": None},
    )
    assert api.delete(f"/api/sla/policies/{pk}").status_code == 204
    assert not SlaPolicy.objects.exists()


def test_bad_policy_input_names_the_field(personas, api_as):
    api = api_as(personas.admin)
    bad = api.post("/api/sla/policies", {**POLICY, "channels": ["pigeon"]})
    assert (bad.status_code, bad.data["field"]) == (422, "channels")
    bad = api.post("/api/sla/policies", {**POLICY, "calendar_id": 999})
    assert (bad.status_code, bad.data["field"]) == (422, "calendar_id")
    bad = api.post(
        "/api/sla/policies",
        {**POLICY, "escalations": {"breach": {"reassign_queue_id": 999}}},
    )
    assert (bad.status_code, bad.data["field"]) == (422, "escalations.breach.reassign_queue_id")
    assert not SlaPolicy.objects.exists()


def test_only_admins_write_and_agents_do_not_read_policies(personas, api_as):
    assert api_as(personas.manager).post("/api/sla/policies", POLICY).status_code == 403
    assert api_as(personas.owner).get("/api/sla/policies").status_code == 403
    assert api_as(personas.manager).get("/api/sla/policies").status_code == 200
    assert api_as(personas.owner).post("/api/sla/recompute", {}).status_code == 403


def test_case_clock_and_recompute(personas, api_as, office, new_case):
    api = api_as(personas.admin)
    api.post("/api/sla/policies", {**POLICY, "tiers": [], "calendar_id": office.pk})
    with time_machine.travel(paris(2026, 5, 4, 10), tick=False):
        case = new_case()
        sla_on_case_event(case=case, event="created")
    with time_machine.travel(paris(2026, 5, 4, 10, 30), tick=False):
        got = api.get(f"/api/sla/cases/{case.pk}")
        assert got.status_code == 200, got.data
        first = got.data["metrics"][0]
        assert first["metric"] == "first_response"
        assert first["state"] == "running"
        assert first["elapsed_business_minutes"] == 30
        # Due Monday 11:00 Paris; warning 20 % before = at 48 min = 10:48 Paris.
        assert first["due_at"] == "2026-05-04T09:00:00+00:00"
        assert first["warn_at"] == "2026-05-04T08:48:00+00:00"
        assert [e["kind"] for e in got.data["events"]][-1] == "opened"
        again = api.post("/api/sla/recompute", {"case_ids": [case.pk]})
        assert again.data == {"recomputed": 1, "queued": False}
        assert api.post("/api/sla/recompute", {}).status_code == 202
    # Cases are visible to administrators only until the cases app's visibility merges.
    assert api_as(personas.outsider).get(f"/api/sla/cases/{case.pk}").status_code == 404
    assert api.get("/api/sla/cases/999999").status_code == 404

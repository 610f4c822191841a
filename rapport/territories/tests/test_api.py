"""The territory, assignment and scoring API: admin-only writes, placement preview and run,
the report counts only what the caller may see, and lead/opportunity outputs carry their
score, reasons and territory."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.accounts.services import account_create
from rapport.sales.services import opportunity_create

pytestmark = pytest.mark.django_db


def test_territory_crud_preview_realign_and_report(
    personas, api_as, django_capture_on_commit_callbacks
):
    admin = api_as(personas.admin)
    assert api_as(personas.manager).post("/api/territories", {"name": "X"}).status_code == 403
    r = admin.post(
        "/api/territories",
        {
            "name": "France",
            "rules": [{"field": "country", "values": ["FR"]}],
            "rep_ids": [personas.owner.pk],
            "manager_ids": [personas.outsider.pk],
        },
    )
    assert r.status_code == 201, r.data
    tid = r.data["id"]
    assert r.data["rep_ids"] == [personas.owner.pk]
    bad = admin.post("/api/territories", {"name": "Bad", "rules": [{"field": "postal_code"}]})
    assert bad.status_code == 422 and bad.data["field"] == "rules[0].low"
    acc = account_create(actor=personas.owner, fields={"name": "Paris SA", "country": "FR"})
    opportunity_create(
        actor=personas.owner, fields={"name": "Big", "account": acc, "amount": "500"}
    )
    assert admin.get(f"/api/territories/{tid}").data["accounts"] == 1
    # A new rule takes Belgium too: preview says one more, the run moves it.
    account_create(actor=personas.owner, fields={"name": "Bruxelles", "country": "BE"})
    r = admin.patch(
        f"/api/territories/{tid}", {"rules": [{"field": "country", "values": ["FR", "BE"]}]}
    )
    assert r.status_code == 200, r.data
    preview = admin.post("/api/territories/realignment/preview")
    assert preview.status_code == 200, preview.data
    assert preview.data["total"] == 1
    assert preview.data["sample"][0]["name"] == "Bruxelles"
    with django_capture_on_commit_callbacks(execute=True):
        run = admin.post("/api/territories/realignments")
    assert run.status_code == 202
    assert admin.get(f"/api/territories/realignments/{run.data['id']}").data["moved"] == 1
    # The report: the owner's pipeline; the territory manager sees it, the reader nothing.
    report = api_as(personas.outsider).get(f"/api/territories/{tid}/report")
    assert report.status_code == 200
    assert report.data["rows"][0]["user_id"] == personas.owner.pk
    assert report.data["rows"][0]["pipeline"] == "500.00"
    assert api_as(personas.reader).get(f"/api/territories/{tid}/report").data["rows"] == []


def test_assignment_rules_api_and_lead_outputs(personas, api_as):
    admin = api_as(personas.admin)
    r = admin.post(
        "/api/territories/assignment-rules",
        {
            "name": "All web leads to Olga",
            "conditions": {"source": ["web"]},
            "user_id": personas.owner.pk,
        },
    )
    assert r.status_code == 201, r.data
    missing = admin.post(
        "/api/territories/assignment-rules", {"name": "RR", "strategy": "round_robin"}
    )
    assert missing.status_code == 422 and missing.data["field"] == "team_id"
    r = admin.put(f"/api/territories/availability/{personas.owner.pk}", {"capacity": 5})
    assert r.status_code == 200 and r.data["capacity"] == 5
    assert (
        api_as(personas.outsider)
        .put(f"/api/territories/availability/{personas.owner.pk}", {"capacity": 1})
        .status_code
        == 403
    )
    lead = admin.post("/api/leads", {"last_name": "Webby", "source": "web"})
    assert lead.status_code == 201, lead.data
    assert lead.data["owner_id"] == personas.owner.pk
    assert lead.data["score_source"] == "rule" and lead.data["score"] == 0
    listed = api_as(personas.owner).get("/api/leads", sort="-score")
    assert listed.status_code == 200 and listed.data["items"][0]["id"] == lead.data["id"]
    with CaptureQueriesContext(connection) as q1:
        api_as(personas.owner).get("/api/leads", limit=5)
    for i in range(6):
        admin.post("/api/leads", {"last_name": f"More{i}", "source": "web"})
    with CaptureQueriesContext(connection) as q2:
        page = api_as(personas.owner).get("/api/leads", limit=5)
    assert len(page.data["items"]) == 5
    assert len(q2) <= len(q1) + 1  # scores and territories do not cost a query per row


def test_scoring_api(personas, api_as, django_capture_on_commit_callbacks):
    admin = api_as(personas.admin)
    assert (
        api_as(personas.owner)
        .post("/api/scoring/rules", {"field": "source", "value": "web"})
        .status_code
        == 403
    )
    r = admin.post("/api/scoring/rules", {"field": "source", "value": "web", "points": 25})
    assert r.status_code == 201, r.data
    bad = admin.post("/api/scoring/rules", {"field": "favourite_colour", "value": "x"})
    assert bad.status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        trained = admin.post("/api/scoring/train")
    assert trained.status_code == 202
    models = admin.get("/api/scoring/models").data
    assert models["lead"]["usable"] is False
    assert "Too little history" in models["lead"]["message"]
    lead = admin.post("/api/leads", {"last_name": "Scored", "source": "web"})
    assert lead.data["score"] == 25 and lead.data["score_reasons"][0]["effect"] == 25
    opp = admin.post("/api/opportunities", {"name": "Deal", "amount": "10.00"})
    assert opp.status_code == 201, opp.data
    assert opp.data["win_probability_source"] == "stage"
    assert opp.data["win_probability"] == opp.data["probability"]


def test_a_null_in_a_territory_patch_clears_a_text_or_names_the_field(personas, api_as):
    """Was a 500 (NOT NULL constraint failed: description), found by the null-per-PATCH-field
    fuzz. A null list empties it."""
    admin = api_as(personas.admin)
    body = {
        "name": "Benelux",
        "description": "BE, NL, LU",
        "rules": [{"field": "country", "values": ["BE"]}],
        "rep_ids": [personas.owner.pk],
    }
    url = f"/api/territories/{admin.post('/api/territories', body).data['id']}"
    cleared = admin.patch(url, {"description": None, "rules": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["description"] == "" and cleared.data["rules"] == []
    assert cleared.data["rep_ids"] == [personas.owner.pk]
    for field in ("name", "priority", "is_active"):
        refused = admin.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = admin.get(url).data
    assert kept["name"] == "Benelux" and kept["priority"] == 100 and kept["is_active"] is True

"""/api/consent: purposes (admins write), recording (edit rights, 422 naming the field),
ledger and status (not visible → 404), suppression list."""

import pytest

from rapport.consent import services
from rapport.consent.models import ConsentRecord, Suppression
from rapport.consent.tests.conftest import make_contact
from rapport.records.exceptions import PermissionDenied

pytestmark = pytest.mark.django_db


def test_purposes_admin_writes_everyone_reads(personas, api_as):
    body = {"slug": "newsletter", "name": "Newsletter", "policy_text": "Monthly."}
    assert api_as(personas.owner).post("/api/consent/purposes", body).status_code == 403
    created = api_as(personas.admin).post("/api/consent/purposes", body)
    assert created.status_code == 201, created.data
    assert created.data["requires_double_opt_in"] is True
    assert api_as(personas.admin).post("/api/consent/purposes", body).status_code == 422
    changed = api_as(personas.admin).patch(
        f"/api/consent/purposes/{created.data['id']}", {"policy_text": "Weekly."}
    )
    assert changed.status_code == 422 and changed.data["field"] == "policy_version"
    listed = api_as(personas.reader).get("/api/consent/purposes")
    # Beside it, the website-tracking purpose the consent migrations create.
    assert sorted(p["slug"] for p in listed.data) == ["newsletter", "web-tracking"]


def test_a_null_in_a_purpose_patch_clears_a_text_or_names_the_field(personas, api_as):
    """Was a 500 (NOT NULL constraint failed: description), found by the schemathesis run."""
    body = {"slug": "offers-x", "name": "Offers", "policy_text": "Now and then."}
    created = api_as(personas.admin).post("/api/consent/purposes", body)
    url = f"/api/consent/purposes/{created.data['id']}"
    api = api_as(personas.admin)
    api.patch(url, {"description": "About offers"})
    cleared = api.patch(url, {"description": None})
    assert cleared.status_code == 200 and cleared.data["description"] == ""
    for field in ("name", "policy_text", "requires_double_opt_in", "active"):
        # (A changed policy text needs a new version, or the version is what is refused.)
        refused = api.patch(url, {field: None, "policy_version": "2"})
        assert refused.status_code == 422 and refused.data["field"] == field, refused.data
    assert api.get("/api/consent/purposes").status_code == 200
    kept = api.patch(url, {"name": "Offers and news"})
    assert kept.status_code == 200 and kept.data["policy_text"] == "Now and then."


def test_record_ledger_and_status_through_the_api(personas, api_as, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    api = api_as(personas.owner)
    body = {
        "contact_id": contact.pk,
        "purpose_id": offers.pk,
        "channel": "email",
        "action": "opt_in",
        "source": "form",
        "ip_address": "203.0.113.5",
        "user_agent": "Mozilla/5.0 (site form)",
    }
    created = api.post("/api/consent/records", body)
    assert created.status_code == 201, created.data
    assert created.data["source"] == "form" and created.data["ip_address"] == "203.0.113.5"
    assert (
        created.data["purpose_slug"] == "offers" and created.data["actor_id"] == personas.owner.pk
    )
    status = api.get(f"/api/consent/contacts/{contact.pk}/status")
    cells = {(s["purpose_slug"], s["channel"]): s["status"] for s in status.data}
    assert cells[("offers", "email")] == "opted_in" and cells[("offers", "sms")] == ""
    ledger = api.get(f"/api/consent/contacts/{contact.pk}/ledger")
    assert ledger.status_code == 200 and ledger.data["count"] == 1
    assert ledger.data["items"][0]["policy_version"] == "1"


def test_bad_input_names_the_field_and_writes_nothing(personas, api_as, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    api = api_as(personas.owner)
    base = {
        "contact_id": contact.pk,
        "purpose_id": offers.pk,
        "channel": "email",
        "action": "opt_in",
    }
    for change, field in (
        ({"channel": "fax"}, "channel"),
        ({"purpose_id": 9999}, "purpose_id"),
        ({"source": "email_link"}, "source"),
        ({"lead_id": 5}, "contact_id"),
        ({"source": "agent"}, "note"),
    ):
        answer = api.post("/api/consent/records", {**base, **change})
        assert answer.status_code == 422, (change, answer.data)
        assert field in (answer.data["field"] or ""), (change, answer.data)
    assert ConsentRecord.objects.count() == 0


def test_outsiders_get_404_and_read_only_users_cannot_record(personas, api_as, offers):
    contact = make_contact(personas.owner, "bo@example.com")
    body = {"contact_id": contact.pk, "purpose_id": offers.pk, "channel": "sms", "action": "opt_in"}
    outsider = api_as(personas.outsider)
    assert outsider.post("/api/consent/records", body).status_code == 404
    assert outsider.get(f"/api/consent/contacts/{contact.pk}/ledger").status_code == 404
    assert api_as(personas.reader).post("/api/consent/records", body).status_code == 404
    with pytest.raises(PermissionDenied):  # read-only users record nothing, on any path
        services.consent_record(
            person=contact,
            channel="sms",
            purpose=offers,
            action="opt_in",
            source="api",
            actor=personas.reader,
        )
    assert api_as(None).get("/api/consent/purposes").status_code == 401


def test_suppression_list_api(personas, api_as):
    api = api_as(personas.owner)
    added = api.post(
        "/api/consent/suppressions", {"address": "X@Example.com", "reason": "complaint"}
    )
    assert added.status_code == 201 and added.data["address"] == "x@example.com"
    assert api.post("/api/consent/suppressions", {"address": "nope"}).data["field"] == "address"
    listed = api.get("/api/consent/suppressions")
    assert [s["address"] for s in listed.data["items"]] == ["x@example.com"]
    remove = f"/api/consent/suppressions/{added.data['id']}/remove"
    assert api.post(remove, {"note": "asked"}).status_code == 403  # reps do not remove
    removed = api_as(personas.manager).post(remove, {"note": "asked by phone"})
    assert removed.status_code == 200 and removed.data["removed_at"]
    assert not Suppression.objects.filter(removed_at=None).exists()

"""The campaigns API: create with the send set-up, start, pause/resume/cancel, recipients
(visibility-filtered, by status), report, preview, errors and permissions."""

import pytest

from rapport.campaigns.tests.conftest import bulk_audience
from rapport.mail.sender import send_due


@pytest.mark.django_db
def test_campaign_api_round_trip(api_as, personas, offers, template, mailbox, smtp_server):
    admin = api_as(personas.admin)
    segment, contacts = bulk_audience(personas.owner, offers, 3)
    response = admin.post(
        "/api/campaigns",
        {
            "name": "Spring",
            "utm_campaign": "spring",
            "send": {
                "include_segments": [segment.pk],
                "template_id": template.pk,
                "consent_purpose_id": offers.pk,
                "mailbox_id": mailbox.pk,
                "rate_per_minute": 100000,
            },
        },
    )
    assert response.status_code == 201, response.data
    pk = response.data["id"]
    assert response.data["status"] == "draft"
    assert response.data["send"]["include_segments"] == [segment.pk]
    assert response["ETag"]

    bad = admin.post("/api/campaigns", {"name": "X", "send": {"include_segments": [999999]}})
    assert bad.status_code == 422 and bad.data["field"] == "include_segments"

    preview = admin.get(f"/api/campaigns/{pk}/preview", contact_id=contacts[0].pk)
    assert preview.status_code == 200 and preview.data["subject"] == "Spring offer for F0"

    started = admin.post(f"/api/campaigns/{pk}/start")
    assert started.status_code == 200 and started.data["status"] == "running"
    assert admin.post(f"/api/campaigns/{pk}/start").status_code == 409
    paused = admin.post(f"/api/campaigns/{pk}/pause")
    assert paused.data["status"] == "paused"
    resumed = admin.post(f"/api/campaigns/{pk}/resume")
    assert resumed.data["status"] == "running"

    from rapport.campaigns.services import dispatch_due

    dispatch_due()
    send_due()
    assert len(smtp_server.sink.messages) == 3
    sent = admin.get(f"/api/campaigns/{pk}/recipients", status="sent")
    assert sent.status_code == 200 and len(sent.data["items"]) == 3
    assert admin.get(f"/api/campaigns/{pk}/recipients", status="excluded").data["items"] == []
    report = admin.get(f"/api/campaigns/{pk}/report")
    assert report.data["sent"] == 3 and report.data["delivered"] == 3

    # An outsider sees the campaign but none of the recipients (contacts of team A).
    outsider = api_as(personas.outsider)
    assert outsider.get(f"/api/campaigns/{pk}").status_code == 200
    assert outsider.get(f"/api/campaigns/{pk}/recipients").data["items"] == []
    assert outsider.post(f"/api/campaigns/{pk}/pause").status_code == 403
    assert api_as(personas.reader).post("/api/campaigns", {"name": "R"}).status_code == 403
    assert admin.get("/api/campaigns/999999").status_code == 404
    listing = admin.get("/api/campaigns")
    assert [c["id"] for c in listing.data["items"]] == [pk]


@pytest.mark.django_db
def test_a_null_in_a_campaign_patch_clears_a_text_or_names_the_field(api_as, personas):
    """Was a 500 (NOT NULL constraint failed: description), found by the null-per-PATCH-field
    fuzz; a null cost or currency was silently ignored."""
    admin = api_as(personas.admin)
    body = {"name": "Spring", "description": "Tulips", "utm_campaign": "spring", "cost": "10"}
    body |= {"currency": "EUR", "starts_on": "2025-03-01"}
    url = f"/api/campaigns/{admin.post('/api/campaigns', body).data['id']}"
    cleared = admin.patch(url, {"description": None, "utm_campaign": None, "starts_on": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["description"] == "" and cleared.data["utm_campaign"] is None
    assert cleared.data["starts_on"] is None
    for field in ("name", "cost", "currency"):
        refused = admin.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = admin.get(url).data
    assert kept["name"] == "Spring" and kept["cost"] == "10.00" and kept["currency"] == "EUR"
    assert admin.patch(url, {"send": None}).status_code == 200

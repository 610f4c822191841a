import pytest

from rapport.webforms import services
from rapport.webforms.tests.conftest import answers, later

pytestmark = pytest.mark.django_db


def test_forms_api_create_update_and_submissions(api_as, personas, newsletter, settings):
    api = api_as(personas.manager)
    created = api.post(
        "/api/forms",
        {
            "name": "Webinar",
            "fields": [{"key": "last_name", "required": True}, {"key": "company"}],
            "consent_purpose_ids": [newsletter.pk],
            "assign_user_id": personas.owner.pk,
        },
    )
    assert created.status_code == 201, created.data
    body = created.data
    assert body["slug"] == "webinar" and body["public_url"].endswith("/f/webinar/")
    assert [f["key"] for f in body["fields"]] == ["email", "last_name", "company"]
    assert body["consent_purpose_ids"] == [newsletter.pk]
    stale = api.patch(f"/api/forms/{body['id']}", {"title": "x"}, headers={"If-Match": '"9"'})
    assert stale.status_code in (409, 412)
    ok = api.patch(
        f"/api/forms/{body['id']}", {"title": "Join the webinar"}, headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.data["version"] == 2
    bad = api.post("/api/forms", {"name": "Z", "redirect_url": "https://evil.test/"})
    assert bad.status_code == 422 and bad.data["field"] == "redirect_url"

    from rapport.webforms.models import WebForm

    form = WebForm.objects.get(pk=body["id"])
    services.form_submit(form=form, data=answers(form), ip="198.51.100.1", now=later())
    subs = api_as(personas.owner).get(f"/api/forms/{form.pk}/submissions")
    assert subs.status_code == 200 and subs.data["count"] == 1
    assert subs.data["items"][0]["outcome"] == "lead_created"
    assert api_as(personas.outsider).get(f"/api/forms/{form.pk}/submissions").data["count"] == 0
    assert api_as(personas.owner).post("/api/forms", {"name": "no"}).status_code == 403


def test_a_null_in_a_form_patch_clears_a_text_or_names_the_field(api_as, personas, newsletter):
    """A null was dropped (a 200 that changed nothing), and an empty assign_mode or button
    label was stored: now null clears a text or a list, or answers 422 naming the field."""
    api = api_as(personas.manager)
    body = {"name": "Webinar", "intro": "Join us", "consent_purpose_ids": [newsletter.pk]}
    url = f"/api/forms/{api.post('/api/forms', body).data['id']}"
    cleared = api.patch(url, {"intro": None, "consent_purpose_ids": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["intro"] == "" and cleared.data["consent_purpose_ids"] == []
    for field in ("name", "target", "assign_mode", "submit_label", "min_fill_seconds"):
        refused = api.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    assert api.patch(url, {"assign_mode": ""}).data["field"] == "assign_mode"
    kept = api.get(url).data
    assert kept["name"] == "Webinar" and kept["assign_mode"] == "user"
    assert kept["submit_label"] == "Send" and kept["is_active"] is True

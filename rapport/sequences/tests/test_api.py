"""/api/sequences: create, read with statistics, enrol (visibility), pause / resume / stop,
bad input as 4xx naming the field."""

import pytest

from rapport.conftest import ApiClient
from rapport.sequences.models import Enrolment

pytestmark = pytest.mark.django_db


def _steps(template):
    return [
        {"kind": "email", "template_id": template.pk},
        {"kind": "wait", "wait_days": 3},
        {"kind": "call", "subject": "Call them"},
    ]


def test_create_enrol_pause_resume_stop_through_the_api(personas, template, ann, worker):
    api = ApiClient(personas.owner)
    response = api.post("/api/sequences", {"name": "Outbound", "steps": _steps(template)})
    assert response.status_code == 201, response.json()
    sequence = response.json()
    assert [s["kind"] for s in sequence["steps"]] == ["email", "wait", "call"]

    response = api.post(
        f"/api/sequences/{sequence['id']}/enrolments", {"object_type": "contact", "ids": [ann.pk]}
    )
    assert response.json() == {"enrolled": [ann.pk], "skipped": {}}
    worker()
    detail = api.get(f"/api/sequences/{sequence['id']}").json()
    assert detail["stats"][0]["sent"] == 1
    assert detail["totals"]["active"] == 1

    (item,) = api.get("/api/sequences/enrolments", contact_id=ann.pk).json()["items"]
    assert item["state"] == "active" and item["steps_done"] == 1 and item["next_step_at"]
    base = f"/api/sequences/enrolments/{item['id']}"
    assert api.post(f"{base}/pause").json()["state"] == "paused"
    assert api.post(f"{base}/pause").status_code == 409
    assert api.post(f"{base}/resume").json()["state"] == "active"
    stopped = api.post(f"{base}/stop").json()
    assert (stopped["state"], stopped["stop_reason"]) == ("stopped", "manual")

    # Steps are fixed once someone was enrolled.
    response = api.patch(f"/api/sequences/{sequence['id']}", {"steps": _steps(template)[:1]})
    assert response.status_code == 409


def test_an_outsider_cannot_enrol_or_see_the_enrolment(personas, template, ann):
    owner, outsider = ApiClient(personas.owner), ApiClient(personas.outsider)
    sequence = owner.post("/api/sequences", {"name": "S", "steps": _steps(template)}).json()
    response = outsider.post(
        f"/api/sequences/{sequence['id']}/enrolments", {"object_type": "contact", "ids": [ann.pk]}
    )
    assert response.json() == {"enrolled": [], "skipped": {str(ann.pk): "not found"}}
    owner.post(
        f"/api/sequences/{sequence['id']}/enrolments", {"object_type": "contact", "ids": [ann.pk]}
    )
    enrolment = Enrolment.objects.get()
    assert outsider.get(f"/api/sequences/enrolments/{enrolment.pk}").status_code == 404
    assert outsider.post(f"/api/sequences/enrolments/{enrolment.pk}/stop").status_code == 404
    assert outsider.get("/api/sequences/enrolments").json()["items"] == []
    assert Enrolment.objects.get().state == "active"


def test_bad_input_is_a_4xx_naming_the_field(personas, template):
    api = ApiClient(personas.owner)
    response = api.post("/api/sequences", {"name": "S", "steps": [{"kind": "email"}]})
    assert response.status_code in (400, 422)
    assert "template_id" in str(response.json())
    response = api.post("/api/sequences", {"name": "S", "steps": [{"kind": "fax"}]})
    assert response.status_code in (400, 422)
    response = api.post(
        "/api/sequences",
        {
            "name": "S",
            "steps": [{"kind": "task", "subject": "x"}, {"kind": "wait", "wait_days": 2}],
        },
    )
    assert response.status_code in (400, 422) and response.json()["field"] == "steps"
    reader = ApiClient(personas.reader)
    assert (
        reader.post("/api/sequences", {"name": "S", "steps": _steps(template)}).status_code == 403
    )


@pytest.mark.parametrize(
    "who, sees",
    [
        ("owner", True),
        ("manager", True),
        ("admin", True),
        ("teammate", False),
        ("outsider", False),
        ("reader", False),
        ("anonymous", None),
    ],
)
def test_enrolments_follow_their_persons_visibility(personas, template, ann, who, sees):
    """The authorization matrix of enrolments under the private default: 404 and absent from
    the list for whoever cannot see the contact; 401 without credentials."""
    owner = ApiClient(personas.owner)
    sequence = owner.post("/api/sequences", {"name": "S", "steps": _steps(template)}).json()
    owner.post(
        f"/api/sequences/{sequence['id']}/enrolments", {"object_type": "contact", "ids": [ann.pk]}
    )
    pk = Enrolment.objects.get().pk
    client = ApiClient(None if who == "anonymous" else getattr(personas, who))
    listed = client.get("/api/sequences/enrolments")
    detail = client.get(f"/api/sequences/enrolments/{pk}")
    if sees is None:
        assert (listed.status_code, detail.status_code) == (401, 401)
        return
    ids = [row["id"] for row in listed.json()["items"]]
    assert (pk in ids, detail.status_code) == ((True, 200) if sees else (False, 404))
    by_contact = client.get("/api/sequences/enrolments", contact_id=ann.pk).json()["items"]
    assert bool(by_contact) is sees


def test_a_null_in_a_sequence_patch_clears_a_text_or_names_the_field(personas, template):
    """A null `is_active` was stored as False (the sequence silently stopped), found by the
    null-per-PATCH-field fuzz; a null name or steps was ignored."""
    api = ApiClient(personas.owner)
    body = {"name": "Outbound", "description": "Q3", "steps": _steps(template)}
    url = f"/api/sequences/{api.post('/api/sequences', body).json()['id']}"
    cleared = api.patch(url, {"description": None, "calendar_id": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["description"] == "" and cleared.data["calendar_id"] is None
    for field in ("name", "is_active", "steps"):
        refused = api.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = api.get(url).data
    assert kept["name"] == "Outbound" and kept["is_active"] is True and len(kept["steps"]) == 3

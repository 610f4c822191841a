"""The segments API: CRUD, live count, visible members, static members, export, the
contact list's segment filter, lifecycle rules; bad input answers 4xx naming the field."""

import pytest

from rapport.accounts.services import contact_create
from rapport.segments.models import Segment, SegmentMember
from rapport.segments.tests.conftest import cond

pytestmark = pytest.mark.django_db

PARIS = cond("city", "equals", "Paris")


def test_crud_count_and_members(world, api_as):
    api = api_as(world.actor)
    r = api.post(
        "/api/segments/count",
        {
            "filter": {
                "op": "or",
                "items": PARIS["items"]
                + [{"field": "city", "operator": "equals", "value": "Lyon"}],
            }
        },
    )
    assert r.status_code == 200 and r.json() == {"count": 2, "capped": False}
    r = api.post("/api/segments", {"name": "Paris", "filter": PARIS})
    assert r.status_code == 201, r.content
    seg = r.json()
    assert seg["member_count"] == 1 and r.headers["ETag"] == '"1"'
    r = api.get(f"/api/segments/{seg['id']}/members")
    assert [c["id"] for c in r.json()["items"]] == [world.ann.pk]
    assert r.json()["items"][0]["lifecycle_stage"] == "prospect"
    r = api.patch(
        f"/api/segments/{seg['id']}",
        {"filter": cond("city", "is_not_empty")},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["member_count"] == 2
    r = api.patch(f"/api/segments/{seg['id']}", {"name": "x"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert api.get("/api/segments").json()["count"] == 1
    assert api.delete(f"/api/segments/{seg['id']}").status_code == 204
    assert not Segment.objects.exists()


def test_bad_filters_answer_422_naming_the_field(world, api_as):
    api = api_as(world.actor)
    r = api.post("/api/segments", {"name": "Bad", "filter": cond("city", "gt", "x")})
    assert r.status_code in (400, 422)
    assert "filter.items[0].operator" in r.content.decode()
    assert not Segment.objects.exists()
    r = api.post("/api/segments/count", {"filter": cond("nope", "equals", "x")})
    assert r.status_code in (400, 422) and "filter.items[0].field" in r.content.decode()
    r = api.post("/api/segments", {"name": "  ", "filter": {}})
    assert r.status_code in (400, 422) and "name" in r.content.decode()


def test_members_and_counts_respect_visibility(world, personas, api_as):
    contact_create(actor=personas.outsider, fields={"last_name": "Hidden", "city": "Paris"})
    r = api_as(world.actor).post("/api/segments", {"name": "Paris", "filter": PARIS})
    seg_id = r.json()["id"]
    assert SegmentMember.objects.filter(segment_id=seg_id).count() == 2  # kept for everyone
    members = api_as(world.actor).get(f"/api/segments/{seg_id}/members").json()
    assert [c["last_name"] for c in members["items"]] == ["Archer"]
    outsider = api_as(personas.outsider).get(f"/api/segments/{seg_id}/members").json()
    assert [c["last_name"] for c in outsider["items"]] == ["Hidden"]
    assert (
        api_as(personas.outsider).post("/api/segments/count", {"filter": PARIS}).json()["count"]
        == 1
    )
    # someone else's segment cannot be changed by the outsider
    assert api_as(personas.outsider).delete(f"/api/segments/{seg_id}").status_code == 403


def test_contact_list_filter_by_segment(world, personas, api_as):
    hidden = contact_create(
        actor=personas.outsider, fields={"last_name": "Hidden", "city": "Paris"}
    )
    seg_id = api_as(world.actor).post("/api/segments", {"name": "P", "filter": PARIS}).json()["id"]
    for query in (f"segment_id={seg_id}", f"segment={seg_id}"):
        items = api_as(world.actor).get(f"/api/contacts?{query}").json()["items"]
        assert [c["id"] for c in items] == [world.ann.pk]
    items = api_as(personas.outsider).get(f"/api/contacts?segment_id={seg_id}").json()["items"]
    assert [c["id"] for c in items] == [hidden.pk]


def test_static_members_through_the_api(world, api_as):
    api = api_as(world.actor)
    seg = api.post("/api/segments", {"name": "List", "kind": "static"}).json()
    r = api.post(
        f"/api/segments/{seg['id']}/members", {"contact_ids": [world.ann.pk, world.bob.pk]}
    )
    assert r.json() == {"changed": 2, "member_count": 2}
    r = api.post(f"/api/segments/{seg['id']}/members/remove", {"contact_ids": [world.bob.pk]})
    assert r.json() == {"changed": 1, "member_count": 1}
    dyn = api.post("/api/segments", {"name": "Dyn", "filter": PARIS}).json()
    r = api.post(f"/api/segments/{dyn['id']}/members", {"contact_ids": [world.bob.pk]})
    assert r.status_code in (400, 422) and "segment_id" in r.content.decode()


def test_export_csv_and_labels(world, api_as):
    from rapport.accounts.services import contact_update

    contact_update(
        contact=world.ann,
        actor=world.actor,
        fields={"street": "1 Rue de Rivoli", "postal_code": "75001", "country": "FR"},
    )
    api = api_as(world.actor)
    seg = api.post("/api/segments", {"name": "All", "filter": {}}).json()
    r = api.client.get(f"/api/segments/{seg['id']}/export?format=csv", headers=api.headers)
    assert r.status_code == 200 and r.streaming
    body = b"".join(r.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("contact_id,name,company,street")
    assert any("1 Rue de Rivoli" in line and "75001" in line and "Acme" in line for line in lines)
    assert len(lines) == 4
    r = api.get(f"/api/segments/{seg['id']}/export", format="labels")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert api.get(f"/api/segments/{seg['id']}/export", format="xml").status_code in (400, 422)


def test_lifecycle_rules_api(world, personas, api_as):
    r = api_as(personas.admin).get("/api/lifecycle/rules")
    assert r.status_code == 200 and r.json()["lost_days"] == 365
    r = api_as(personas.admin).patch(
        "/api/lifecycle/rules", {"lost_days": 400}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["lost_days"] == 400
    assert api_as(world.actor).patch("/api/lifecycle/rules", {"lost_days": 500}).status_code == 403
    r = api_as(personas.admin).patch("/api/lifecycle/rules", {"lost_days": 10})
    assert r.status_code in (400, 422) and "lost_days" in r.content.decode()
    r = api_as(world.actor).get(f"/api/lifecycle/contacts/{world.ann.pk}")
    assert r.status_code == 200 and r.json() == []
    assert (
        api_as(personas.outsider).get(f"/api/lifecycle/contacts/{world.ann.pk}").status_code == 404
    )

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.leads.models import Lead
from rapport.records.services import record_share
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def test_owner_creates_gets_updates_and_lists_lead(personas, api_as):
    api = api_as(personas.owner)
    r = api.post(
        "/api/leads",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "Jane@Example.COM",
            "phone": "+1 (650) 253-0000",
            "company": "Acme",
            "website": "https://acme.example",
            "source": "web",
            "tags": ["hot"],
        },
    )
    assert r.status_code == 201, r.data
    assert r["ETag"] == '"1"'
    assert r.data["email"] == "Jane@example.com"
    assert r.data["phone"] == "+16502530000"
    assert r.data["full_name"] == "Jane Doe"
    assert r.data["status"] == "new"
    assert r.data["tags"] == ["hot"]
    assert r.data["owner_id"] == personas.owner.pk
    assert r.data["converted_account_id"] is None
    pk = r.data["id"]

    r = api.get(f"/api/leads/{pk}")
    assert r.status_code == 200
    assert r["ETag"] == '"1"'

    r = api.patch(f"/api/leads/{pk}", {"status": "working"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.data
    assert (r.data["status"], r.data["version"]) == ("working", 2)
    assert r["ETag"] == '"2"'

    r = api.get("/api/leads")
    assert r.status_code == 200
    assert [lead["id"] for lead in r.data["items"]] == [pk]
    assert r.data["count"] == 1


def test_status_change_shows_on_the_lead_timeline(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    api.patch(f"/api/leads/{pk}", {"status": "qualified"})
    r = api.get(f"/api/leads/{pk}/timeline")
    assert r.status_code == 200
    kinds = [e["kind"] for e in r.data["items"]]
    assert kinds == ["updated", "created"]
    assert r.data["items"][0]["payload"]["changes"]["status"] == {
        "old": "new",
        "new": "qualified",
    }


def test_stale_if_match_gives_412_and_changes_nothing(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    assert api.patch(f"/api/leads/{pk}", {"title": "CTO"}).status_code == 200
    r = api.patch(f"/api/leads/{pk}", {"title": "CEO"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.data["code"] == "stale_version"
    assert r["ETag"] == '"2"'
    assert api.get(f"/api/leads/{pk}").data["title"] == "CTO"
    r = api.delete(f"/api/leads/{pk}", headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert api.get(f"/api/leads/{pk}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_name": ""}, "last_name"),
        ({"first_name": "no last name"}, "last_name"),
        ({"last_name": "X", "email": "not-an-email"}, "email"),
        ({"last_name": "X", "phone": "abc"}, "phone"),
        ({"last_name": "X", "website": "no url"}, "website"),
        ({"last_name": "X", "status": "converted"}, "status"),
        ({"last_name": "X", "status": "disqualified"}, "disqualified_reason"),
        ({"last_name": "X", "country": "DEU"}, "country"),
        ({"last_name": "X", "source": "s" * 61}, "source"),
        ({"last_name": "X", "owner_id": 99999}, "owner_id"),
        ({"last_name": "X", "custom": {"unknown": 1}}, "custom.unknown"),
    ],
)
def test_bad_input_gives_422_with_field(personas, api_as, body, field):
    r = api_as(personas.owner).post("/api/leads", body)
    assert r.status_code == 422, r.data
    assert r.data["field"] == field
    assert set(r.data) >= {"detail", "code", "field"}
    assert not Lead.all_objects.exists()


def test_patch_to_converted_or_disqualified_without_reason_gives_422(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    r = api.patch(f"/api/leads/{pk}", {"status": "converted"})
    assert (r.status_code, r.data["field"]) == (422, "status")
    r = api.patch(f"/api/leads/{pk}", {"status": "disqualified"})
    assert (r.status_code, r.data["field"]) == (422, "disqualified_reason")
    r = api.patch(f"/api/leads/{pk}", {"status": "disqualified", "disqualified_reason": "Spam"})
    assert r.status_code == 200
    assert (r.data["status"], r.data["disqualified_reason"]) == ("disqualified", "Spam")
    assert api.get(f"/api/leads/{pk}").data["version"] == 2


def test_converted_lead_cannot_be_edited_409(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe", "company": "Acme"}).data["id"]
    assert api.post(f"/api/leads/{pk}/convert", {}).status_code == 200
    r = api.patch(f"/api/leads/{pk}", {"title": "CEO"})
    assert r.status_code == 409
    assert r.data["code"] == "lead_converted"


def test_visibility_on_every_endpoint(personas, api_as):
    pk = api_as(personas.owner).post("/api/leads", {"last_name": "Doe"}).data["id"]
    for who in ("outsider", "teammate"):
        api = api_as(getattr(personas, who))
        assert api.get(f"/api/leads/{pk}").status_code == 404
        assert api.patch(f"/api/leads/{pk}", {"title": "x"}).status_code == 404
        assert api.delete(f"/api/leads/{pk}").status_code == 404
        assert api.post(f"/api/leads/{pk}/convert", {}).status_code == 404
        assert api.get(f"/api/leads/{pk}/timeline").status_code == 404
        assert (
            api.post(f"/api/leads/{pk}/transfer", {"owner_id": personas.outsider.pk}).status_code
            == 404
        )
        assert api.get("/api/leads").data["items"] == []
    manager = api_as(personas.manager)
    assert manager.get(f"/api/leads/{pk}").status_code == 200
    assert manager.patch(f"/api/leads/{pk}", {"title": "Boss"}).status_code == 200
    for who in (None, personas.deactivated):
        assert api_as(who).get(f"/api/leads/{pk}").status_code == 401
        assert api_as(who).get("/api/leads").status_code == 401


def test_reader_with_a_share_can_read_but_not_edit(personas, api_as):
    pk = api_as(personas.owner).post("/api/leads", {"last_name": "Doe"}).data["id"]
    lead = Lead.objects.get(pk=pk)
    record_share(record=lead, actor=personas.owner, user=personas.reader, access="edit")
    reader = api_as(personas.reader)
    assert reader.get(f"/api/leads/{pk}").status_code == 200
    assert [i["id"] for i in reader.get("/api/leads").data["items"]] == [pk]
    r = reader.patch(f"/api/leads/{pk}", {"title": "x"})
    assert r.status_code == 403
    assert reader.delete(f"/api/leads/{pk}").status_code == 403
    assert reader.post(f"/api/leads/{pk}/convert", {}).status_code == 403
    assert reader.post("/api/leads", {"last_name": "New"}).status_code == 403
    assert Lead.objects.get(pk=pk).version == 1


def test_delete_then_trash_then_restore(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    assert api.delete(f"/api/leads/{pk}").status_code == 204
    assert api.get(f"/api/leads/{pk}").status_code == 404
    assert api.get("/api/leads").data["items"] == []
    assert [i["id"] for i in api.get("/api/leads", deleted="true").data["items"]] == [pk]
    r = api.post(f"/api/leads/{pk}/restore")
    assert r.status_code == 200, r.data
    assert r.data["deleted_at"] is None
    assert api.get(f"/api/leads/{pk}").status_code == 200


def test_transfer_and_shares(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    r = api.post(f"/api/leads/{pk}/shares", {"user_id": personas.outsider.pk})
    assert r.status_code == 201, r.data
    assert api_as(personas.outsider).get(f"/api/leads/{pk}").status_code == 200
    assert [s["user_id"] for s in api.get(f"/api/leads/{pk}/shares").data] == [personas.outsider.pk]
    r = api.post(f"/api/leads/{pk}/transfer", {"owner_id": personas.teammate.pk})
    assert r.status_code == 200, r.data
    assert r.data["owner_id"] == personas.teammate.pk
    assert api.get(f"/api/leads/{pk}").status_code == 404
    assert api_as(personas.teammate).get(f"/api/leads/{pk}").status_code == 200


def test_custom_fields_via_api(personas, api_as):
    from rapport.records.custom_fields import custom_field_define

    custom_field_define(
        object_type="lead", key="tier", label="Tier", field_type="choice", choices=["A", "B"]
    )
    api = api_as(personas.owner)
    r = api.post("/api/leads", {"last_name": "Doe", "custom": {"tier": "A"}})
    assert r.status_code == 201, r.data
    assert r.data["custom"] == {"tier": "A"}
    r = api.patch(f"/api/leads/{r.data['id']}", {"custom": {"tier": "Z"}})
    assert (r.status_code, r.data["field"]) == (422, "custom.tier")
    assert [i["custom"] for i in api.get("/api/leads", cf="tier=A").data["items"]] == [
        {"tier": "A"}
    ]


def test_list_filters_search_and_sort(personas, api_as):
    api = api_as(personas.owner)
    for last, status, source, campaign in [
        ("Brown", "new", "web", "spring"),
        ("Adams", "working", "event", "spring"),
        ("Clark", "qualified", "web", "fall"),
    ]:
        api.post(
            "/api/leads",
            {
                "last_name": last,
                "status": status,
                "source": source,
                "campaign": campaign,
                "company": f"{last} Inc",
            },
        )

    def names(**params):
        r = api.get("/api/leads", **params)
        assert r.status_code == 200, r.data
        return [i["last_name"] for i in r.data["items"]]

    assert names(sort="last_name") == ["Adams", "Brown", "Clark"]
    assert names(sort="-last_name") == ["Clark", "Brown", "Adams"]
    assert names(status=["new", "qualified"], sort="last_name") == ["Brown", "Clark"]
    assert names(source="web", sort="last_name") == ["Brown", "Clark"]
    assert names(campaign="spring", sort="last_name") == ["Adams", "Brown"]
    assert names(q="adams inc") == ["Adams"]
    assert names(sort="last_name", limit=2) == ["Adams", "Brown"]
    r = api.get("/api/leads", sort="last_name", limit=2)
    assert r.data["count"] == 3
    r = api.get("/api/leads", sort="last_name", limit=2, cursor=r.data["next_cursor"])
    assert [i["last_name"] for i in r.data["items"]] == ["Clark"]
    assert r.data["next_cursor"] is None
    assert api.get("/api/leads", sort="email").status_code == 400
    r = api.get("/api/leads", status="bogus")
    assert (r.status_code, r.data["field"]) == (422, "status[0]")
    assert api.get("/api/leads", limit=500).status_code == 422


def test_list_query_count_does_not_grow_with_rows(personas, api_as):
    api = api_as(personas.manager)

    def make(n):
        owner_api = api_as(personas.owner)
        for i in range(n):
            owner_api.post("/api/leads", {"last_name": f"L{i}", "tags": ["a", f"t{i}"]})

    make(3)
    with CaptureQueriesContext(connection) as small:
        assert len(api.get("/api/leads").data["items"]) == 3
    make(12)
    with CaptureQueriesContext(connection) as large:
        assert len(api.get("/api/leads").data["items"]) == 15
    assert len(large) == len(small)


def test_list_query_count_is_bounded(personas, api_as, django_assert_max_num_queries):
    owner_api = api_as(personas.owner)
    for i in range(20):
        owner_api.post("/api/leads", {"last_name": f"L{i}", "tags": ["x"]})
    api = api_as(personas.manager)
    api.get("/api/leads")  # warm the token's last-used stamp
    with django_assert_max_num_queries(7):
        r = api.get("/api/leads", status=["new"], q="L", tag="x", sort="last_name")
    assert len(r.data["items"]) == 20


def test_timeline_hidden_from_outsider_and_events_written_once(personas, api_as):
    api = api_as(personas.owner)
    pk = api.post("/api/leads", {"last_name": "Doe"}).data["id"]
    assert TimelineEvent.objects.filter(lead_id=pk, kind="created").count() == 1
    assert api_as(personas.outsider).get(f"/api/leads/{pk}/timeline").status_code == 404

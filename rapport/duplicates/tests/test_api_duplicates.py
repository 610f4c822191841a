"""The duplicates API: who sees which pairs, side by side, dismiss, merge, undo, the
create-time check and detection runs."""

import datetime

import pytest

from rapport.accounts.models import Contact
from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, MergeLog
from rapport.duplicates.selectors import PossibleDuplicate, duplicate_warning
from rapport.duplicates.services import duplicates_find
from rapport.records.models import OrgDefault

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


def candidate(a, b, score=90, object_type="contact", **extra) -> DuplicateCandidate:
    low, high = sorted((a.pk, b.pk))
    return DuplicateCandidate.objects.create(
        object_type=object_type,
        record_a_id=low,
        record_b_id=high,
        score=score,
        reasons=["same email"],
        found_at=NOW,
        scored_at=NOW,
        **extra,
    )


@pytest.fixture
def twins(make_contact):
    """The owner's two Jane Does (private: the owner, their manager and admins see them)."""
    a = make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io", title="CTO")
    b = make_contact(first_name="Janet", last_name="Doe", email="JANE@acme.io", city="Paris")
    return a, b, candidate(a, b)


@pytest.fixture
def public_read():
    OrgDefault.objects.create(object_type="contact", access="public_read")


def test_queue_lists_open_pairs_with_both_records(personas, api_as, twins):
    a, b, pair = twins
    r = api_as(personas.owner).get("/api/duplicates")
    assert r.status_code == 200, r.data
    assert r.data["count"] == 1
    item = r.data["items"][0]
    assert item["id"] == pair.pk and item["score"] == 90 and item["reasons"] == ["same email"]
    assert {item["record_a"]["id"], item["record_b"]["id"]} == {a.pk, b.pk}
    assert item["record_a"]["label"] in ("Jane Doe", "Janet Doe")


@pytest.mark.parametrize(
    ("who", "count"),
    [("owner", 1), ("manager", 1), ("admin", 1), ("teammate", 0), ("outsider", 0)],
)
def test_queue_shows_only_pairs_whose_both_records_are_visible(personas, api_as, twins, who, count):
    assert api_as(getattr(personas, who)).get("/api/duplicates").data["count"] == count


def test_a_pair_with_one_invisible_record_is_hidden(personas, api_as, make_contact):
    mine = make_contact(last_name="Doe")
    theirs = make_contact(last_name="Doe", owner=personas.outsider)
    pair = candidate(mine, theirs)
    assert api_as(personas.owner).get("/api/duplicates").data["items"] == []
    assert api_as(personas.owner).get(f"/api/duplicates/{pair.pk}").status_code == 404
    assert api_as(personas.admin).get("/api/duplicates").data["count"] == 1


def test_queue_filters_by_type_status_score_and_record(personas, api_as, twins, make_account):
    a, b, pair = twins
    x, y = make_account(name="Acme"), make_account(name="ACME")
    candidate(x, y, score=70, object_type="account")
    api = api_as(personas.owner)
    assert api.get("/api/duplicates").data["count"] == 2
    assert [
        i["object_type"] for i in api.get("/api/duplicates", object_type="account").data["items"]
    ] == ["account"]
    assert api.get("/api/duplicates", min_score=80).data["count"] == 1
    assert api.get("/api/duplicates", record_id=a.pk).data["items"][0]["id"] == pair.pk
    assert api.get("/api/duplicates", status="dismissed").data["count"] == 0
    assert [i["score"] for i in api.get("/api/duplicates").data["items"]] == [90, 70]
    assert api.get("/api/duplicates", object_type="opportunity").status_code == 422
    assert api.get("/api/duplicates", sort="-owner").status_code == 400


def test_queue_pages_with_a_cursor(personas, api_as, make_contact):
    people = [make_contact(last_name="Doe") for _ in range(6)]
    for i in range(5):
        candidate(people[i], people[i + 1], score=90 - i)
    api = api_as(personas.owner)
    first = api.get("/api/duplicates", limit=2).data
    second = api.get("/api/duplicates", limit=2, cursor=first["next_cursor"]).data
    assert [i["score"] for i in first["items"] + second["items"]] == [90, 89, 88, 87]


def test_queue_list_costs_a_fixed_number_of_queries(
    personas, api_as, make_contact, make_account, django_assert_max_num_queries
):
    api = api_as(personas.manager)
    api.get("/api/me")

    def fill(n):
        for _ in range(n):
            candidate(make_contact(last_name="Doe"), make_contact(last_name="Doe"))
            candidate(make_account(name="Acme"), make_account(name="Acme"), object_type="account")

    fill(2)
    with django_assert_max_num_queries(12) as small:
        assert len(api.get("/api/duplicates").data["items"]) == 4
    fill(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get("/api/duplicates").data["items"]) == 24


def test_detail_shows_both_records_side_by_side(personas, api_as, twins):
    a, b, pair = twins
    r = api_as(personas.owner).get(f"/api/duplicates/{pair.pk}")
    assert r.status_code == 200, r.data
    comparison = r.data["comparison"]
    assert comparison["record_a"]["id"] == min(a.pk, b.pk)
    differing = set(comparison["differing"])
    assert {"first_name", "title", "city"} <= differing
    assert "last_name" not in differing
    rows = {f["name"]: f for f in comparison["fields"]}
    assert rows["last_name"] == {"name": "last_name", "a": "Doe", "b": "Doe", "differs": False}
    assert comparison["related"]["a"]["timeline.TimelineEvent.contact"] >= 1
    assert api_as(personas.outsider).get(f"/api/duplicates/{pair.pk}").status_code == 404
    assert api_as(personas.owner).get("/api/duplicates/999999").status_code == 404


def test_compare_any_two_visible_records(personas, api_as, twins):
    a, b, _ = twins
    r = api_as(personas.owner).get("/api/duplicates/compare", object_type="contact", a=a.pk, b=b.pk)
    assert r.status_code == 200
    assert "first_name" in r.data["differing"]
    assert (
        api_as(personas.outsider)
        .get("/api/duplicates/compare", object_type="contact", a=a.pk, b=b.pk)
        .status_code
        == 404
    )


def test_dismiss_takes_the_pair_out_of_the_queue(personas, api_as, twins):
    _, _, pair = twins
    api = api_as(personas.owner)
    r = api.post(f"/api/duplicates/{pair.pk}/dismiss")
    assert r.status_code == 200 and r.data["status"] == "dismissed"
    assert r.data["resolved_by_id"] == personas.owner.pk
    assert api.get("/api/duplicates").data["count"] == 0
    assert api.get("/api/duplicates", status="dismissed").data["count"] == 1
    assert api.post(f"/api/duplicates/{pair.pk}/dismiss").status_code == 200  # idempotent
    assert api.post(f"/api/duplicates/{pair.pk}/reopen").data["status"] == "open"


def test_dismiss_permissions(personas, api_as, twins, public_read):
    _, _, pair = twins
    assert api_as(personas.outsider).post(f"/api/duplicates/{pair.pk}/dismiss").status_code == 403
    assert api_as(personas.reader).post(f"/api/duplicates/{pair.pk}/dismiss").status_code == 403
    assert api_as(None).post(f"/api/duplicates/{pair.pk}/dismiss").status_code == 401
    assert api_as(personas.deactivated).get("/api/duplicates").status_code == 401
    pair.refresh_from_db()
    assert pair.status == CandidateStatus.OPEN


def test_merge_a_pair(personas, api_as, twins):
    a, b, pair = twins
    api = api_as(personas.owner)
    r = api.post(
        f"/api/duplicates/{pair.pk}/merge",
        {"survivor_id": a.pk, "fields": {"first_name": "merged"}},
        headers={"If-Match": f'"{a.version}"'},
    )
    assert r.status_code == 201, r.data
    assert r.data["survivor_id"] == a.pk and r.data["merged_id"] == b.pk
    assert r.data["candidate_id"] == pair.pk
    assert r.data["moved_counts"]["timeline.TimelineEvent.contact"] >= 1
    survivor = api.get(f"/api/contacts/{a.pk}")
    assert survivor.data["first_name"] == "Janet" and survivor.data["city"] == "Paris"
    assert r["ETag"] == f'"{survivor.data["version"]}"'
    assert api.get(f"/api/contacts/{b.pk}").status_code == 404
    assert api.get("/api/duplicates").data["count"] == 0
    assert api.get("/api/duplicates", status="merged").data["count"] == 1
    detail = api.get(f"/api/duplicates/{pair.pk}")
    assert detail.status_code == 200 and detail.data["status"] == "merged"
    assert detail.data["comparison"]["record_b"]["deleted_at"] is not None
    again = api.post(f"/api/duplicates/{pair.pk}/dismiss")
    assert again.status_code == 409 and again.data["code"] == "candidate_merged"
    assert api.post(f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk}).status_code == 404


def test_merge_with_a_stale_if_match_is_412_and_changes_nothing(personas, api_as, twins):
    a, b, pair = twins
    r = api_as(personas.owner).post(
        f"/api/duplicates/{pair.pk}/merge",
        {"survivor_id": a.pk},
        headers={"If-Match": f'"{a.version + 1}"'},
    )
    assert r.status_code == 412 and r.data["code"] == "stale_version"
    assert Contact.objects.filter(pk=b.pk).exists()
    assert not MergeLog.objects.exists()


def test_merge_validates_its_input(personas, api_as, twins, make_contact):
    a, b, pair = twins
    api = api_as(personas.owner)
    stranger = make_contact(last_name="Else")
    r = api.post(f"/api/duplicates/{pair.pk}/merge", {"survivor_id": stranger.pk})
    assert r.status_code == 422 and r.data["field"] == "survivor_id"
    r = api.post(
        f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk, "fields": {"nope": "merged"}}
    )
    assert r.status_code == 422 and r.data["field"] == "fields.nope"
    r = api.post(
        f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk, "fields": {"city": "both"}}
    )
    assert r.status_code == 422 and r.data["field"].startswith("fields")
    r = api.post(
        "/api/duplicates/merge", {"object_type": "contact", "survivor_id": a.pk, "merged_id": a.pk}
    )
    assert r.status_code == 422 and r.data["field"] == "merged_id"
    r = api.post(
        "/api/duplicates/merge", {"object_type": "contact", "survivor_id": a.pk, "merged_id": 2**70}
    )
    assert r.status_code == 422
    r = api.post(
        f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk, "merged_version": b.version + 5}
    )
    assert r.status_code == 412


def test_direct_merge_permissions(personas, api_as, twins, public_read):
    a, b, _ = twins
    body = {"object_type": "contact", "survivor_id": a.pk, "merged_id": b.pk}
    assert api_as(personas.reader).post("/api/duplicates/merge", body).status_code == 403
    OrgDefault.objects.filter(object_type="contact").update(access="private")
    assert api_as(personas.outsider).post("/api/duplicates/merge", body).status_code == 404
    r = api_as(personas.manager).post("/api/duplicates/merge", body)
    assert r.status_code == 201, r.data
    assert DuplicateCandidate.objects.get().status == CandidateStatus.MERGED


def test_undo_a_merge_through_the_api(personas, api_as, twins):
    a, b, pair = twins
    api = api_as(personas.owner)
    log_id = api.post(f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk}).data["id"]
    assert (
        api_as(personas.outsider).post(f"/api/duplicates/merges/{log_id}/undo").status_code == 404
    )
    assert (
        api.post(f"/api/duplicates/merges/{log_id}/undo", headers={"If-Match": '"1"'}).status_code
        == 412
    )
    r = api.post(f"/api/duplicates/merges/{log_id}/undo")
    assert r.status_code == 200, r.data
    assert r.data["undone_at"] and r.data["undo_report"] == {
        "kept_fields": [],
        "not_moved_back": {},
    }
    assert api.get(f"/api/contacts/{b.pk}").status_code == 200
    assert api.get(f"/api/contacts/{a.pk}").data["city"] == ""
    assert api.get("/api/duplicates").data["count"] == 1
    again = api.post(f"/api/duplicates/merges/{log_id}/undo")
    assert again.status_code == 409 and again.data["code"] == "already_undone"


def test_undo_by_a_reader_is_403(personas, api_as, twins, public_read):
    a, _, pair = twins
    log_id = (
        api_as(personas.owner)
        .post(f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk})
        .data["id"]
    )
    assert api_as(personas.reader).post(f"/api/duplicates/merges/{log_id}/undo").status_code == 403


def test_merge_log_list_and_detail(personas, api_as, twins, django_assert_max_num_queries):
    a, b, pair = twins
    api = api_as(personas.owner)
    log_id = api.post(f"/api/duplicates/{pair.pk}/merge", {"survivor_id": a.pk}).data["id"]
    with django_assert_max_num_queries(10):
        r = api.get("/api/duplicates/merges")
    assert [i["id"] for i in r.data["items"]] == [log_id]
    assert api.get("/api/duplicates/merges", record_id=b.pk).data["count"] == 1
    assert (
        api.get(f"/api/duplicates/merges/{log_id}").data["merged_snapshot"]["first_name"] == "Janet"
    )
    assert api_as(personas.outsider).get("/api/duplicates/merges").data["items"] == []
    assert api_as(personas.outsider).get(f"/api/duplicates/merges/{log_id}").status_code == 404


def test_check_warns_about_a_record_about_to_be_created(personas, api_as, make_contact):
    jane = make_contact(first_name="Jane", last_name="Doe", email="jane.doe@gmail.com")
    make_contact(
        first_name="Jane", last_name="Doe", email="jane@private.example", owner=personas.outsider
    )
    api = api_as(personas.owner)
    body = {
        "object_type": "contact",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "JaneDoe+crm@gmail.com",
    }
    r = api.post("/api/duplicates/check", body)
    assert r.status_code == 200, r.data
    assert [m["id"] for m in r.data["matches"]] == [jane.pk]  # the outsider's stays hidden
    assert "same email" in r.data["matches"][0]["reasons"]
    duplicates_find(object_type="contact")  # with the key table filled, the same answer
    assert [m["id"] for m in api.post("/api/duplicates/check", body).data["matches"]] == [jane.pk]
    assert api.post("/api/duplicates/check", {**body, "exclude_id": jane.pk}).data["matches"] == []
    late = make_contact(first_name="Ada", last_name="Lovelace", city="London")  # not yet filed
    by_name = {
        "object_type": "contact",
        "first_name": "Ada",
        "last_name": "LOVELACE",
        "city": "london",
    }
    assert [m["id"] for m in api.post("/api/duplicates/check", by_name).data["matches"]] == [
        late.pk
    ]
    other = {"object_type": "contact", "first_name": "Zed", "last_name": "Zulu"}
    assert api.post("/api/duplicates/check", other).data["matches"] == []
    assert api.post("/api/duplicates/check", {"object_type": "thing"}).status_code == 422


def test_check_finds_accounts_by_domain_and_leads_by_phone(
    personas, api_as, make_account, make_lead
):
    acme = make_account(name="Acme Incorporated", website="https://acme.io")
    lead = make_lead(first_name="Kim", last_name="Park", phone="+16502530000")
    api = api_as(personas.owner)
    r = api.post(
        "/api/duplicates/check",
        {"object_type": "account", "name": "ACME", "website": "http://www.acme.io"},
    )
    assert [m["id"] for m in r.data["matches"]] == [acme.pk]
    r = api.post(
        "/api/duplicates/check",
        {
            "object_type": "lead",
            "first_name": "Kim",
            "last_name": "Park",
            "phone": "(650) 253-0000",
        },
    )
    assert [m["id"] for m in r.data["matches"]] == [lead.pk]


def test_duplicate_warning_raises_a_409_conflict(personas, make_contact):
    make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io")
    with pytest.raises(PossibleDuplicate) as exc:
        duplicate_warning(
            user=personas.owner,
            object_type="contact",
            fields={"last_name": "Doe", "first_name": "Jane", "email": "jane@acme.io"},
        )
    assert exc.value.code == "possible_duplicate" and exc.value.matches


def test_scan_is_for_administrators(
    personas, api_as, make_contact, django_capture_on_commit_callbacks
):
    make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io")
    make_contact(first_name="Jane", last_name="Doe", email="jane@acme.io")
    assert api_as(personas.manager).post("/api/duplicates/scan", {}).status_code == 403
    assert api_as(personas.manager).get("/api/duplicates/runs").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(personas.admin).post("/api/duplicates/scan", {"object_type": "contact"})
    assert r.status_code == 202 and r.data == {"enqueued": ["contact"]}
    runs = api_as(personas.admin).get("/api/duplicates/runs").data
    assert runs[0]["status"] == "done" and runs[0]["candidates_new"] == 1
    assert api_as(personas.owner).get("/api/duplicates").data["count"] == 1

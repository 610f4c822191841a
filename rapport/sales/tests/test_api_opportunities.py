"""The opportunity endpoints: CRUD, stage moves, stage history, visibility, versions."""

from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.sales.models import StageChange
from rapport.sales.services import pipeline_create

pytestmark = pytest.mark.django_db

FULL = [
    {"name": "Talk", "kind": "open"},
    {"name": "Signed", "kind": "won"},
    {"name": "Gone", "kind": "lost"},
]


def test_owner_creates_reads_updates_and_deletes(personas, api_as, account, contact, stages):
    api = api_as(personas.owner)
    r = api.post(
        "/api/opportunities",
        {
            "name": "Acme renewal",
            "account_id": account.pk,
            "primary_contact_id": contact.pk,
            "amount": "1200.00",
            "currency": "usd",
            "expected_close_date": "2030-03-31",
            "tags": ["q1"],
        },
    )
    assert r.status_code == 201, r.data
    assert r["ETag"] == '"1"'
    body = r.data
    pk = body["id"]
    assert (body["pipeline_name"], body["stage_name"], body["stage_kind"]) == (
        "Sales",
        "Prospecting",
        "open",
    )
    assert (body["account_name"], body["primary_contact_name"]) == ("Acme", "Jane Doe")
    assert (body["currency"], body["probability"], body["tags"]) == ("USD", 10, ["q1"])
    assert Decimal(body["amount"]) == Decimal("1200")
    assert Decimal(body["weighted_amount"]) == Decimal("120.00")
    r = api.get(f"/api/opportunities/{pk}")
    assert (r.status_code, r["ETag"]) == (200, '"1"')
    r = api.patch(
        f"/api/opportunities/{pk}", {"description": "Two years"}, headers={"If-Match": '"1"'}
    )
    assert (r.status_code, r.data["version"], r["ETag"]) == (200, 2, '"2"')
    assert api.delete(f"/api/opportunities/{pk}").status_code == 204
    assert api.get(f"/api/opportunities/{pk}").status_code == 404
    r = api.post(f"/api/opportunities/{pk}/restore")
    assert (r.status_code, r.data["deleted_at"]) == (200, None)


def test_create_defaults_and_explicit_stage(personas, api_as, stages):
    api = api_as(personas.owner)
    r = api.post(
        "/api/opportunities", {"name": "X", "stage_id": stages["Proposal"].pk, "probability": 65}
    )
    assert r.status_code == 201, r.data
    assert (r.data["stage_name"], r.data["probability"]) == ("Proposal", 65)
    assert r.data["amount"] in ("0.00", "0")


def test_create_refuses_bad_links(personas, api_as, account, stages):
    api = api_as(personas.owner)
    secret = account_create(actor=personas.outsider, fields={"name": "Hidden"})
    hidden_contact = contact_create(actor=personas.outsider, fields={"last_name": "Hidden"})
    other_contact = contact_create(actor=personas.owner, fields={"last_name": "Elsewhere"})
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    cases = [
        ({"account_id": secret.pk}, "account_id", "invalid_account"),
        ({"primary_contact_id": hidden_contact.pk}, "primary_contact_id", "invalid_contact"),
        (
            {"account_id": account.pk, "primary_contact_id": other_contact.pk},
            "primary_contact_id",
            "contact_account",
        ),
        ({"pipeline_id": 99999}, "pipeline_id", "invalid_pipeline"),
        ({"stage_id": 99999}, "stage_id", "invalid_stage"),
        (
            {"pipeline_id": other.pk, "stage_id": stages["Proposal"].pk},
            "stage_id",
            "stage_pipeline",
        ),
        ({"stage_id": stages["Closed Lost"].pk}, "lost_reason", "required"),
    ]
    for extra, field, code in cases:
        r = api.post("/api/opportunities", {"name": "X", **extra})
        assert (r.status_code, r.data["field"], r.data["code"]) == (422, field, code), extra


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": ""}, "name"),
        ({"name": "X", "amount": "-1"}, "amount"),
        ({"name": "X", "amount": "1.234"}, "amount"),
        ({"name": "X", "probability": 101}, "probability"),
        ({"name": "X", "currency": "EURO"}, "currency"),
        ({"name": "X", "stage_id": 2**70}, "stage_id"),
        ({"name": "X", "lost_reason": "x" * 201}, "lost_reason"),
    ],
)
def test_bad_input_gives_422_with_field(personas, api_as, pipeline, payload, field):
    r = api_as(personas.owner).post("/api/opportunities", payload)
    assert r.status_code == 422
    assert r.data["field"] == field


def test_visibility_outsider_reader_manager(personas, api_as, make_opportunity):
    opp = make_opportunity()
    url = f"/api/opportunities/{opp.pk}"
    outsider = api_as(personas.outsider)
    assert outsider.get(url).status_code == 404
    assert outsider.patch(url, {"name": "Mine"}).status_code == 404
    assert outsider.get("/api/opportunities").data["items"] == []
    manager = api_as(personas.manager)
    assert [o["id"] for o in manager.get("/api/opportunities").data["items"]] == [opp.pk]
    assert manager.patch(url, {"name": "Managed"}).status_code == 200
    assert api_as(personas.teammate).get(url).status_code == 404
    assert api_as(personas.admin).get(url).status_code == 200
    assert api_as(None).get(url).status_code == 401
    assert api_as(personas.deactivated).get(url).status_code == 401


def test_reader_gets_403_on_edit(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api_as(personas.owner).post(
        f"/api/opportunities/{opp.pk}/shares", {"user_id": personas.reader.pk, "access": "edit"}
    )
    reader = api_as(personas.reader)
    url = f"/api/opportunities/{opp.pk}"
    assert reader.get(url).status_code == 200
    assert reader.patch(url, {"name": "Nope"}).status_code == 403
    assert reader.delete(url).status_code == 403
    r = reader.post(f"{url}/move-stage", {"stage_id": stages["Proposal"].pk})
    assert r.status_code == 403
    assert reader.post("/api/opportunities", {"name": "X"}).status_code == 403


def test_stale_if_match_gives_412_on_patch_and_move(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}"
    r = api.patch(url, {"name": "New"}, headers={"If-Match": '"3"'})
    assert (r.status_code, r.data["code"], r["ETag"]) == (412, "stale_version", '"1"')
    r = api.post(
        f"{url}/move-stage", {"stage_id": stages["Proposal"].pk}, headers={"If-Match": '"3"'}
    )
    assert r.status_code == 412
    r = api.patch(url, {"stage_id": stages["Proposal"].pk}, headers={"If-Match": '"3"'})
    assert r.status_code == 412
    r = api.get(url)
    assert (r.data["name"], r.data["stage_name"], r.data["version"]) == (
        "Big deal",
        "Prospecting",
        1,
    )
    r = api.post(
        f"{url}/move-stage", {"stage_id": stages["Proposal"].pk}, headers={"If-Match": '"1"'}
    )
    assert (r.status_code, r["ETag"]) == (200, '"2"')
    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 412


def test_move_stage_endpoint(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}/move-stage"
    r = api.post(url, {"stage_id": stages["Closed Lost"].pk})
    assert (r.status_code, r.data["field"], r.data["code"]) == (422, "lost_reason", "required")
    r = api.post(url, {"stage_id": stages["Closed Lost"].pk, "lost_reason": "Too expensive"})
    assert r.status_code == 200, r.data
    assert (r.data["stage_kind"], r.data["probability"]) == ("lost", 0)
    assert r.data["closed_at"] is not None and r.data["lost_reason"] == "Too expensive"
    r = api.post(url, {"stage_id": stages["Qualification"].pk})
    assert (r.data["closed_at"], r.data["lost_reason"], r.data["probability"]) == (None, "", 20)
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    r = api.post(url, {"stage_id": other.stages.first().pk})
    assert (r.status_code, r.data["field"], r.data["code"]) == (422, "stage_id", "stage_pipeline")
    r = api.post(url, {"stage_id": 123456})
    assert (r.status_code, r.data["field"]) == (422, "stage_id")
    timeline = api.get(f"/api/opportunities/{opp.pk}/timeline").data["items"]
    assert [e["kind"] for e in timeline] == ["stage_changed", "stage_changed", "created"]
    assert timeline[0]["payload"]["from"]["name"] == "Closed Lost"
    assert timeline[0]["payload"]["to"]["name"] == "Qualification"


def test_stage_history_endpoint(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api = api_as(personas.owner)
    for name in ("Qualification", "Proposal", "Closed Won"):
        api.post(f"/api/opportunities/{opp.pk}/move-stage", {"stage_id": stages[name].pk})
    r = api.get(f"/api/opportunities/{opp.pk}/stage-history", limit=3)
    assert r.status_code == 200
    assert [c["to_stage_name"] for c in r.data["items"]] == [
        "Prospecting",
        "Qualification",
        "Proposal",
    ]
    assert r.data["items"][0]["from_stage_id"] is None
    assert r.data["items"][1]["changed_by_name"] == "Olga Owner"
    assert r.data["count"] == 4
    r = api.get(f"/api/opportunities/{opp.pk}/stage-history", cursor=r.data["next_cursor"], limit=3)
    assert [c["to_stage_kind"] for c in r.data["items"]] == ["won"]
    assert (
        api_as(personas.outsider).get(f"/api/opportunities/{opp.pk}/stage-history").status_code
        == 404
    )


def test_patch_stage_goes_through_the_move(personas, api_as, make_opportunity, stages):
    opp = make_opportunity()
    api = api_as(personas.owner)
    url = f"/api/opportunities/{opp.pk}"
    r = api.patch(url, {"stage_id": stages["Closed Lost"].pk})
    assert (r.status_code, r.data["field"]) == (422, "lost_reason")
    r = api.patch(url, {"stage_id": stages["Closed Lost"].pk, "lost_reason": "Timing"})
    assert r.status_code == 200, r.data
    assert (r.data["stage_name"], r.data["lost_reason"]) == ("Closed Lost", "Timing")
    assert StageChange.objects.filter(opportunity=opp).count() == 2
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    r = api.patch(url, {"pipeline_id": other.pk})
    assert (r.status_code, r.data["field"], r.data["code"]) == (422, "stage_id", "required")
    talk = other.stages.get(name="Talk")
    r = api.patch(url, {"pipeline_id": other.pk, "stage_id": talk.pk})
    assert (r.status_code, r.data["pipeline_name"], r.data["stage_name"]) == (200, "Other", "Talk")
    assert r.data["lost_reason"] == "" and r.data["closed_at"] is None
    assert StageChange.objects.filter(opportunity=opp).count() == 3


def test_list_filters_and_sorts(personas, api_as, account, make_opportunity, stages):
    make_opportunity(name="Small", amount=Decimal("10"), account=account)
    make_opportunity(name="Large", amount=Decimal("9000"), expected_close_date="2031-06-01")
    make_opportunity(name="Won", stage=stages["Closed Won"], amount=Decimal("500"))
    api = api_as(personas.owner)

    def names(**params):
        r = api.get("/api/opportunities", **params)
        assert r.status_code == 200, r.data
        return [o["name"] for o in r.data["items"]]

    assert names(sort="amount") == ["Small", "Won", "Large"]
    assert names(sort="-amount", limit=2) == ["Large", "Won"]
    assert names(sort="name") == ["Large", "Small", "Won"]
    assert names(stage_kind="won") == ["Won"]
    assert names(account_id=account.pk) == ["Small"]
    assert names(amount_min="100", amount_max="1000") == ["Won"]
    assert names(close_from="2031-01-01", close_to="2031-12-31") == ["Large"]
    assert names(stage_id=stages["Prospecting"].pk, sort="name") == ["Large", "Small"]
    assert api.get("/api/opportunities", sort="expected_close_date").status_code == 400
    assert api.get("/api/opportunities", stage_kind="maybe").status_code == 422
    first = api.get("/api/opportunities", sort="amount", limit=2).data
    rest = api.get("/api/opportunities", sort="amount", limit=2, cursor=first["next_cursor"])
    assert [o["name"] for o in rest.data["items"]] == ["Large"]


@pytest.mark.parametrize("rows", [3, 20])
def test_list_query_count_does_not_grow(
    personas, api_as, account, contact, make_opportunity, rows, django_assert_max_num_queries
):
    for i in range(rows):
        make_opportunity(
            name=f"Deal {i}", account=account, primary_contact=contact, tags=["a", f"t{i}"]
        )
    api = api_as(personas.manager)
    api.get("/api/me")  # a token's first use records last_used_at: keep it out of the count
    with django_assert_max_num_queries(6):
        r = api.get("/api/opportunities", limit=50)
    assert len(r.data["items"]) == rows


def test_record_actions_transfer_share_and_timeline(personas, api_as, make_opportunity):
    opp = make_opportunity()
    api = api_as(personas.owner)
    r = api.post(f"/api/opportunities/{opp.pk}/transfer", {"owner_id": personas.teammate.pk})
    assert (r.status_code, r.data["owner_id"]) == (200, personas.teammate.pk)
    assert api_as(personas.teammate).get(f"/api/opportunities/{opp.pk}").status_code == 200
    r = api_as(personas.teammate).post(
        f"/api/opportunities/{opp.pk}/shares", {"user_id": personas.outsider.pk}
    )
    assert r.status_code == 201
    assert api_as(personas.outsider).get(f"/api/opportunities/{opp.pk}").status_code == 200
    teammate = api_as(personas.teammate)
    timeline = teammate.get(f"/api/opportunities/{opp.pk}/timeline").data["items"]
    kinds = [e["kind"] for e in timeline]
    assert kinds == ["shared", "owner_changed", "created"]


def test_patch_amount_is_refused_once_there_are_line_items(
    personas, api_as, make_opportunity, make_product
):
    opp = make_opportunity()
    api = api_as(personas.owner)
    assert api.patch(f"/api/opportunities/{opp.pk}", {"amount": "5"}).status_code == 200
    product = make_product()
    api.post(f"/api/opportunities/{opp.pk}/line-items", {"product_id": product.pk})
    r = api.patch(f"/api/opportunities/{opp.pk}", {"amount": "5"})
    assert (r.status_code, r.data["field"], r.data["code"]) == (
        422,
        "amount",
        "amount_from_line_items",
    )

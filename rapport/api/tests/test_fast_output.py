"""The read endpoints that render their rows straight to JSON (`rapport.api.fast`, issue 17)
answer the very bytes ninja's own serialisation renders for the same records read by the
selectors with their prefetches (the path they had before): contacts, accounts and
opportunities, lists and single records, for an admin and a rep, on records with tags,
several emails and phones (the primary not first by id), custom fields, scores, a
lifecycle stage, linked records the rep may and may not see."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.accounts import selectors as account_selectors
from rapport.accounts.models import ContactEmail
from rapport.accounts.schemas import AccountOut, ContactOut
from rapport.analytics.models import CustomerScore
from rapport.api import fast
from rapport.api.router import api
from rapport.records.custom_fields import custom_field_define
from rapport.records.services import record_share
from rapport.sales import selectors as sales_selectors
from rapport.sales.schemas import OpportunityOut
from rapport.scoring.models import OpportunityScore
from rapport.segments.models import ContactLifecycle

pytestmark = pytest.mark.django_db


def ninja_bytes(schema, obj) -> bytes:
    """What ninja renders for `obj` under `schema` (its `_result_to_response`: validate
    through `DjangoGetter`, dump, render with the API's renderer)."""
    context = {"request": None, "response_status": 200}
    data = schema.model_validate(obj, context=context).model_dump(context=context)
    return api.renderer.render(None, data, response_status=200)


def page_bytes(schema, items, body: dict) -> bytes:
    rows = [
        schema.model_validate(o, context={"request": None}).model_dump(context={"request": None})
        for o in items
    ]
    data = {"items": rows, "next_cursor": body["next_cursor"], "count": body["count"]}
    return api.renderer.render(None, data, response_status=200)


@pytest.fixture
def dataset(personas, api_as):
    admin = api_as(personas.admin)
    for object_type in ("account", "contact", "opportunity"):
        assert (
            admin.post(
                "/api/custom-fields",
                {"object_type": object_type, "key": "tier", "label": "Tier", "field_type": "text"},
            ).status_code
            == 201
        )
        custom_field_define(
            object_type=object_type, key="budget", label="Budget", field_type="money"
        )
    owner = api_as(personas.owner)
    outsider = api_as(personas.outsider)
    hidden = outsider.post("/api/accounts", {"name": "Outsider's private"}).data
    parent = owner.post("/api/accounts", {"name": "Parent", "tags": ["zeta", "alpha"]}).data
    account = owner.post(
        "/api/accounts",
        {
            "name": "Acme",
            "parent_id": parent["id"],
            "annual_revenue": "1234.50",
            "tags": ["vip", "b2b", "Émile"],
            "custom": {"tier": "gold", "budget": "99.90"},
            "website": "https://acme.example",
        },
    ).data
    child_of_hidden = outsider.post(
        "/api/accounts", {"name": "Child of private", "parent_id": hidden["id"]}
    ).data
    contacts = []
    for i, account_id in enumerate([account["id"], hidden["id"], None]):
        client = owner if account_id != hidden["id"] else outsider
        contacts.append(
            client.post(
                "/api/contacts",
                {
                    "first_name": f"Ann{i}",
                    "last_name": "Smith",
                    "account_id": account_id,
                    "emails": [
                        {"email": f"a{i}@one.example", "kind": "home"},
                        {"email": f"a{i}@two.example", "is_primary": True},
                        {"email": f"a{i}@three.example", "kind": "other"},
                    ],
                    "phones": [
                        {"number": "+14155550100", "kind": "mobile"},
                        {"number": "+442071234567", "is_primary": True},
                    ],
                    "tags": ["x", "a", "m"] if i != 2 else [],
                    "custom": {"tier": "silver", "budget": "1.5"} if i == 0 else {},
                },
            ).data
        )
    # The outsider's contact of a private account, shared with the owner (shown without
    # the account's name), and the private child account shared too (no parent link).
    from rapport.accounts.models import Account, Contact

    record_share(
        record=Contact.objects.get(pk=contacts[1]["id"]),
        actor=personas.outsider,
        user=personas.owner,
    )
    record_share(
        record=Account.objects.get(pk=child_of_hidden["id"]),
        actor=personas.outsider,
        user=personas.owner,
    )
    now = timezone.now()
    CustomerScore.objects.create(
        account_id=account["id"],
        segment="champions",
        clv=Decimal("1500.25"),
        p_alive=0.875,
        churn_risk=0.125,
        churn_source="purchase_model",
        next_products=[3, 1],
        computed_at=now,
    )
    CustomerScore.objects.create(
        contact_id=contacts[2]["id"], segment="new", clv=Decimal("0.00"), computed_at=now
    )
    ContactLifecycle.objects.update_or_create(
        contact_id=contacts[0]["id"], defaults={"stage": "repeat_buyer", "since": now}
    )
    # A primary email added later than the others (the order is primary first, then id).
    ContactEmail.objects.filter(contact_id=contacts[0]["id"]).update(is_primary=False)
    ContactEmail.objects.filter(email="a0@three.example").update(is_primary=True)
    deals = []
    for i, (account_id, contact_id) in enumerate(
        [(account["id"], contacts[0]["id"]), (None, contacts[1]["id"]), (None, None)]
    ):
        deals.append(
            owner.post(
                "/api/opportunities",
                {
                    "name": f"Deal {i}",
                    "account_id": account_id,
                    "primary_contact_id": contact_id,
                    "amount": "2500.00",
                    "tags": ["q4", "big"] if i == 0 else [],
                    "custom": {"tier": "bronze"} if i == 0 else {},
                    "expected_close_date": str(datetime.date(2027, 1, 31)),
                },
            ).data
        )
    OpportunityScore.objects.create(
        opportunity_id=deals[0]["id"],
        probability=63,
        learned=0.63,
        source="model",
        reasons=[{"feature": "amount", "weight": 0.5}],
        scored_at=now,
    )
    return {"accounts": 4, "contacts": contacts, "deals": deals}


CASES = [
    (
        "/api/contacts",
        ContactOut,
        account_selectors.contact_list,
        account_selectors.contact_get_for_user,
    ),
    (
        "/api/accounts",
        AccountOut,
        account_selectors.account_list,
        account_selectors.account_get_for_user,
    ),
    (
        "/api/opportunities",
        OpportunityOut,
        sales_selectors.opportunity_list,
        sales_selectors.opportunity_get_for_user,
    ),
]


@pytest.mark.parametrize("persona", ["admin", "owner"])
@pytest.mark.parametrize(("path", "schema", "listed", "get"), CASES)
def test_lists_and_records_render_the_bytes_ninja_renders(
    dataset, personas, api_as, persona, path, schema, listed, get
):
    user = getattr(personas, persona)
    client = api_as(user)
    cursor, seen = None, 0
    while True:  # pages of two: the first page and later (cursor) pages
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, **params)
        assert response.status_code == 200, response.content
        body = response.data
        expected_rows = list(listed(user=user).order_by("-created_at", "-id")[seen : seen + 2])
        assert [r["id"] for r in body["items"]] == [r.pk for r in expected_rows]
        assert response.content == page_bytes(schema, expected_rows, body)
        for row in expected_rows:
            one = client.get(f"{path}/{row.pk}")
            assert one.status_code == 200
            assert one.content == ninja_bytes(schema, get(pk=row.pk, user=user))
            assert one.headers["ETag"] == f'"{row.version}"'
        seen += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == listed(user=user).count() >= 3


def test_the_dataset_covers_what_the_comparison_must_see(dataset, personas, api_as):
    """The comparison above would pass on empty fields: the dataset has what differs."""
    owner = api_as(personas.owner)
    contacts = {c["id"]: c for c in owner.get("/api/contacts").data["items"]}
    first = contacts[dataset["contacts"][0]["id"]]
    assert first["tags"] == ["a", "m", "x"]
    # The primary first although it is not the lowest id, then the others by id.
    emails = [e["email"] for e in first["emails"]]
    assert emails[0] == "a0@three.example" and len(emails) == 3
    assert [e["is_primary"] for e in first["emails"]] == [True, False, False]
    assert [p["is_primary"] for p in first["phones"]] == [True, False]
    assert first["custom"]["tier"] == "silver" and "budget" in first["custom"]
    assert first["lifecycle_stage"] == "repeat_buyer"
    assert first["account_name"] == "Acme"
    shared = contacts[dataset["contacts"][1]["id"]]
    assert shared["account_id"] is not None and shared["account_name"] is None
    assert contacts[dataset["contacts"][2]["id"]]["scores"]["segment"] == "new"
    accounts = owner.get("/api/accounts").data["items"]
    acme = next(a for a in accounts if a["name"] == "Acme")
    assert acme["scores"]["next_products"] == [3, 1]
    assert acme["annual_revenue"] == "1234.50"
    assert acme["tags"] == ["b2b", "vip", "Émile"]
    deal = owner.get(f"/api/opportunities/{dataset['deals'][0]['id']}").data
    assert deal["win_probability_source"] == "model"
    assert deal["win_probability_reasons"] == [{"feature": "amount", "weight": 0.5}]


def test_dump_differs_from_ninja_when_a_resolver_is_ignored(dataset, personas):
    """The comparison can fail: a row dumped without its tags' resolver (an empty
    override) renders other bytes than ninja's."""
    contact = account_selectors.contact_get_for_user(
        pk=dataset["contacts"][0]["id"], user=personas.admin
    )
    broken = fast.dump(ContactOut, contact, overrides={"tags": []})
    assert api.renderer.render(None, broken, response_status=200) != ninja_bytes(
        ContactOut, contact
    )
    right = fast.dump(ContactOut, contact)
    assert api.renderer.render(None, right, response_status=200) == ninja_bytes(ContactOut, contact)

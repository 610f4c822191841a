"""GET /api/search (typeahead) and the lists' `q` through the API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.accounts.services import contact_delete
from rapport.records.models import Access, OrgDefault
from rapport.records.services import record_share

pytestmark = pytest.mark.django_db


def hits(response, object_type):
    assert response.status_code == 200, response.data
    (group,) = [g for g in response.data["groups"] if g["type"] == object_type]
    return group["items"]


def titles(response, object_type):
    return [h["title"] for h in hits(response, object_type)]


def test_results_are_grouped_by_type_with_title_subtitle_and_url(
    personas, api_as, make_account, make_contact, make_lead, make_opportunity
):
    acme = make_account(name="Acme Widgets", website="https://acme.example", city="Lyon")
    ada = make_contact(
        first_name="Ada", last_name="Acmeson", email="ada@acme.example", account=acme
    )
    lead = make_lead(first_name="Lea", last_name="Dupont", company="Acme Rockets")
    deal = make_opportunity(name="Renewal", account=acme)
    r = api_as(personas.owner).get("/api/search", q="acme")
    assert r.status_code == 200
    assert r.data["q"] == "acme"
    assert [g["type"] for g in r.data["groups"]] == ["account", "contact", "lead", "opportunity"]
    assert hits(r, "account") == [
        {
            "type": "account",
            "id": acme.pk,
            "title": "Acme Widgets",
            "subtitle": "acme.example · Lyon",
            "url_path": f"/accounts/{acme.pk}/",
        }
    ]
    (contact,) = hits(r, "contact")
    assert (contact["id"], contact["title"]) == (ada.pk, "Ada Acmeson")
    assert contact["subtitle"] == "ada@acme.example · Acme Widgets"
    assert contact["url_path"].endswith(f"/{ada.pk}/")
    (lead_hit,) = hits(r, "lead")
    assert (lead_hit["id"], lead_hit["title"], lead_hit["subtitle"]) == (
        lead.pk,
        "Lea Dupont",
        "Acme Rockets",
    )
    (deal_hit,) = hits(r, "opportunity")
    assert deal_hit["id"] == deal.pk
    assert deal_hit["subtitle"].startswith("Acme Widgets · ")


def test_exact_and_prefix_matches_of_the_name_come_first(personas, api_as, make_account):
    for name in ["Megasmith", "Smithson", "Smith", "Blacksmith", "Smith & Co"]:
        make_account(name=name)
    r = api_as(personas.owner).get("/api/search", q="smith", types=["account"])
    assert titles(r, "account") == ["Smith", "Smith & Co", "Smithson", "Blacksmith", "Megasmith"]


def test_full_name_ranks_people_first(personas, api_as, make_contact):
    make_contact(first_name="Adam", last_name="Lovelace")
    ada = make_contact(first_name="Ada", last_name="Lovelace")
    make_contact(first_name="Zoe", last_name="Adalovelace-Smith")
    r = api_as(personas.owner).get("/api/search", q="ada lovelace", types=["contact"])
    assert [h["id"] for h in hits(r, "contact")][0] == ada.pk


def test_types_and_limit(personas, api_as, make_account, make_contact):
    for i in range(25):
        make_account(name=f"Globex {i:02}")
    make_contact(last_name="Globexson")
    api = api_as(personas.owner)
    r = api.get("/api/search", q="globex", types=["account"], limit=20)
    assert [g["type"] for g in r.data["groups"]] == ["account"]
    assert len(hits(r, "account")) == 20
    r = api.get("/api/search", q="globex")
    assert len(hits(r, "account")) == 5
    assert len(hits(r, "contact")) == 1


def test_bad_input_gives_422_with_the_field(personas, api_as):
    api = api_as(personas.owner)
    for params, field in [
        ({"q": "x", "limit": 21}, "limit"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "types": ["order"]}, "types"),
        ({"q": "x" * 201}, "q"),
        ({"q": ""}, "q"),
        ({}, "q"),
    ]:
        r = api.get("/api/search", **params)
        assert r.status_code == 422, params
        assert r.data["field"].startswith(field), (params, r.data)


def test_blank_or_odd_queries_return_nothing_rather_than_fail(personas, api_as, make_account):
    make_account(name="Acme")
    api = api_as(personas.owner)
    for q in ["   ", '"', "%", "NEAR(", "*", "\\", "'; drop table x; --"]:
        r = api.get("/api/search", q=q)
        assert r.status_code == 200, (q, r.data)
        assert all(g["items"] == [] for g in r.data["groups"]), q
    # A NUL character is refused like everywhere in the API (PostgreSQL cannot hold one).
    r = api.get("/api/search", q="a\x00b")
    assert (r.status_code, r.data["code"], r.data["field"]) == (422, "null_characters", "q")


def test_anonymous_and_deactivated_get_401(personas, api_as):
    assert api_as(None).get("/api/search", q="acme").status_code == 401
    assert api_as(personas.deactivated).get("/api/search", q="acme").status_code == 401


def test_outsider_never_sees_another_teams_private_records(
    personas, api_as, make_account, make_contact, make_lead, make_opportunity
):
    acme = make_account(name="Secret Acme")
    make_contact(last_name="Secretson", email="secret@acme.example", phone="+16502530000")
    make_lead(last_name="Secretlead", company="Secret Corp")
    make_opportunity(name="Secret deal", account=acme)
    outsider = api_as(personas.outsider)
    for q in ["secret", "acme.example", "650 253 0000", "se"]:
        r = outsider.get("/api/search", q=q)
        assert all(g["items"] == [] for g in r.data["groups"]), q
    # Private records: teammates do not see them either; the team's manager and admins do.
    for user in (personas.teammate, personas.reader):
        r = api_as(user).get("/api/search", q="secret")
        assert [len(g["items"]) for g in r.data["groups"]] == [0, 0, 0, 0], user.username
    for user in (personas.manager, personas.admin):
        r = api_as(user).get("/api/search", q="secret")
        assert [len(g["items"]) for g in r.data["groups"]] == [1, 1, 1, 1], user.username


def test_a_shared_record_becomes_findable_and_soft_deleted_ones_disappear(
    personas, api_as, make_contact
):
    ada = make_contact(last_name="Lovelace")
    outsider = api_as(personas.outsider)
    assert hits(outsider.get("/api/search", q="lovelace"), "contact") == []
    record_share(record=ada, actor=personas.owner, user=personas.outsider)
    assert [h["id"] for h in hits(outsider.get("/api/search", q="lovelace"), "contact")] == [ada.pk]
    contact_delete(contact=ada, actor=personas.owner)
    assert hits(api_as(personas.owner).get("/api/search", q="lovelace"), "contact") == []


def test_public_org_default_opens_search_to_everyone(personas, api_as, make_account):
    make_account(name="Open Acme")
    OrgDefault.objects.create(object_type="account", access=Access.PUBLIC_READ)
    r = api_as(personas.outsider).get("/api/search", q="acme", types=["account"])
    assert titles(r, "account") == ["Open Acme"]


def test_query_count_is_small_and_does_not_grow_with_rows(
    personas,
    api_as,
    make_account,
    make_contact,
    make_lead,
    make_opportunity,
    django_assert_max_num_queries,
):
    api = api_as(personas.manager)

    def make(n, offset):
        for i in range(offset, offset + n):
            acme = make_account(name=f"Acme {i}")
            make_contact(last_name=f"Acmeson {i}", account=acme, emails=[{"email": f"a{i}@x.io"}])
            make_lead(last_name=f"Acmelead {i}")
            make_opportunity(name=f"Acme deal {i}", account=acme)

    make(2, 0)
    api.get("/api/search", q="acme")  # warm the token's last-used stamp
    with CaptureQueriesContext(connection) as small:
        api.get("/api/search", q="acme", limit=20)
    make(10, 2)
    # auth, org defaults, teams, shares; per type: the text candidates' ids, then the
    # visible ones among them ranked (one for an admin)
    with django_assert_max_num_queries(12):
        r = api.get("/api/search", q="acme", limit=20)
    assert [len(g["items"]) for g in r.data["groups"]] == [12, 12, 12, 12]
    with CaptureQueriesContext(connection) as large:
        api.get("/api/search", q="acme", limit=20)
    assert len(large) == len(small)


# ----- the lists' q goes through the search service ---------------------------------------


def test_list_endpoints_q_finds_by_email_phone_and_company(
    personas, api_as, make_account, make_contact, make_lead, make_opportunity
):
    api = api_as(personas.owner)
    acme = make_account(name="Acme", website="https://acme-tools.example")
    ada = make_contact(
        last_name="Lovelace",
        emails=[{"email": "ada@calc.io"}, {"email": "countess@home.example"}],
        phones=[{"number": "+44 20 7946 0958"}],
    )
    lead = make_lead(last_name="Dupont", company="Initech", phone="+1 650 253 0000")
    deal = make_opportunity(name="Renewal", account=acme)

    def ids(path, q):
        r = api.get(path, q=q)
        assert r.status_code == 200, r.data
        return [i["id"] for i in r.data["items"]]

    assert ids("/api/accounts", "acme-tools") == [acme.pk]
    assert ids("/api/contacts", "countess") == [ada.pk]
    assert ids("/api/contacts", "020 7946 0958") == [ada.pk]
    assert ids("/api/leads", "initech") == [lead.pk]
    assert ids("/api/leads", "650.253.0000") == [lead.pk]
    assert ids("/api/opportunities", "acme renew") == [deal.pk]
    assert ids("/api/contacts", "lo") == [ada.pk]


def test_list_endpoint_with_q_keeps_its_query_count(
    personas, api_as, make_contact, django_assert_max_num_queries
):
    for i in range(20):
        make_contact(last_name=f"Lovelace {i}", emails=[{"email": f"ada{i}@calc.io"}])
    api = api_as(personas.manager)
    api.get("/api/contacts")  # warm the token's last-used stamp
    with django_assert_max_num_queries(9):
        r = api.get("/api/contacts", q="lovelace calc")
    assert r.data["count"] == 20


def test_exact_name_comes_first_even_among_many_more_substring_matches(personas, api_as):
    from rapport.accounts.models import Account
    from rapport.search.selectors import CANDIDATES

    owner = personas.owner
    Account.objects.bulk_create(
        [Account(owner=owner, team=owner.team, name=f"Aa Blacksmith {i:03}") for i in range(150)]
    )
    assert CANDIDATES < 150
    exact = Account.objects.create(owner=owner, team=owner.team, name="Smith")
    Account.objects.bulk_create(
        [Account(owner=owner, team=owner.team, name=f"Ab Goldsmith {i:03}") for i in range(150)]
    )
    r = api_as(owner).get("/api/search", q="smith", types=["account"], limit=20)
    found = hits(r, "account")
    assert found[0]["id"] == exact.pk
    assert len(found) == 20


def test_typeahead_finds_secondary_emails_and_account_plus_deal_words(
    personas, api_as, make_account, make_contact, make_opportunity
):
    ada = make_contact(
        last_name="Lovelace",
        emails=[{"email": "ada@calc.io"}, {"email": "countess@home.example", "kind": "home"}],
    )
    acme = make_account(name="Acme Widgets")
    deal = make_opportunity(name="Renewal", account=acme)
    api = api_as(personas.owner)
    assert [h["id"] for h in hits(api.get("/api/search", q="countess"), "contact")] == [ada.pk]
    r = api.get("/api/search", q="acme renewal", types=["opportunity"])
    assert [h["id"] for h in hits(r, "opportunity")] == [deal.pk]
    r = api.get("/api/search", q="widgets", types=["opportunity"])
    assert [h["id"] for h in hits(r, "opportunity")] == [deal.pk]


def test_many_invisible_matches_do_not_hide_the_visible_one(personas, api_as):
    from rapport.accounts.models import Contact

    outsider = personas.outsider
    Contact.objects.bulk_create(
        [Contact(owner=outsider, team=outsider.team, last_name=f"Lovelace {i}") for i in range(150)]
    )
    mine = Contact.objects.create(
        owner=personas.owner, team=personas.owner.team, last_name="Lovelace", email="a@b.io"
    )
    r = api_as(personas.owner).get("/api/search", q="lovelace", types=["contact"])
    assert [h["id"] for h in hits(r, "contact")] == [mine.pk]
    r = api_as(personas.owner).get("/api/search", q="lo", types=["contact"])
    assert [h["id"] for h in hits(r, "contact")] == [mine.pk]
    r = api_as(outsider).get("/api/search", q="lovelace", types=["contact"], limit=20)
    assert len(hits(r, "contact")) == 20
    assert mine.pk not in {h["id"] for h in hits(r, "contact")}

"""The header's global search: the typeahead under the box and the full results page, both
through the search service (the same call as GET /api/search), only visible records."""

import re
from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.leads.services import lead_create
from rapport.records.services import record_share
from rapport.sales.services import opportunity_create
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


def suggest(user, q: str):
    return ui_client(user).get("/search/suggest", {"q": q}, headers=HTMX)


def option_titles(response) -> list[str]:
    return re.findall(r'<span class="suggest-title">([^<]*)</span>', text_of(response))


@pytest.fixture
def records(personas):
    owner = personas.owner
    acme = account_create(actor=owner, fields={"name": "Acme Widgets", "city": "Lyon"})
    ada = contact_create(
        actor=owner,
        fields={"first_name": "Ada", "last_name": "Lovelace", "account": acme},
        emails=[{"email": "ada@acme.example", "is_primary": True}],
        phones=[{"number": "+44 20 7946 0958", "is_primary": True}],
    )
    lead = lead_create(
        actor=owner, fields={"first_name": "Lea", "last_name": "Dupont", "company": "Acme Rockets"}
    )
    deal = opportunity_create(
        actor=owner, fields={"name": "Acme renewal", "account": acme, "amount": Decimal("10")}
    )
    secret = account_create(actor=personas.outsider, fields={"name": "Acme Secret"})
    return {"acme": acme, "ada": ada, "lead": lead, "deal": deal, "secret": secret}


def test_topbar_search_box_asks_for_suggestions_as_one_types(personas):
    page = text_of(ui_client(personas.owner).get("/accounts/"))
    assert 'hx-get="/search/suggest"' in page
    assert 'hx-trigger="keyup changed delay:200ms, search"' in page
    assert 'hx-target="#search-suggestions"' in page
    assert 'role="combobox"' in page and 'aria-controls="search-suggestions"' in page
    assert 'id="search-suggestions"' in page and 'role="listbox"' in page
    assert 'action="/search"' in page  # Enter: the full results page, also without JS


def test_suggestions_are_grouped_by_type_and_link_to_the_records(personas, records):
    response = suggest(personas.owner, "acme")
    assert response.status_code == 200
    body = text_of(response)
    labels = re.findall(r'<p class="suggest-heading"[^>]*>([^<]*)</p>', body)
    assert labels == ["Accounts", "Contacts", "Leads", "Opportunities"]
    assert f'href="/accounts/{records["acme"].pk}/"' in body
    assert f'href="/contacts/{records["ada"].pk}/"' in body
    assert "Lea Dupont" in body and "Acme Rockets" in body  # a lead found by its company
    assert "Acme renewal" in body
    assert body.count('role="option"') == 5  # four hits and "see all results"
    assert 'href="/search?q=acme"' in body and "See all results for “acme”" in body


@pytest.mark.parametrize(
    ("q", "title"),
    [
        ("lovelace", "Ada Lovelace"),
        ("ada@acme.example", "Ada Lovelace"),
        ("020 7946 0958", "Ada Lovelace"),
        ("rockets", "Lea Dupont"),
        ("renewal", "Acme renewal"),
    ],
)
def test_suggestions_match_name_email_phone_and_company(personas, records, q, title):
    assert title in option_titles(suggest(personas.owner, q))


def test_suggestions_and_results_show_only_what_the_user_may_see(personas, records):
    assert "Acme Secret" not in text_of(suggest(personas.owner, "acme"))
    assert "Acme Secret" not in text_of(ui_client(personas.owner).get("/search", {"q": "acme"}))
    outsider = text_of(suggest(personas.outsider, "acme"))
    assert option_titles(suggest(personas.outsider, "acme")) == ["Acme Secret"]
    assert "Acme Widgets" not in outsider and "Lovelace" not in outsider
    record_share(record=records["secret"], actor=personas.outsider, user=personas.owner)
    assert "Acme Secret" in option_titles(suggest(personas.owner, "acme"))
    # The manager sees the team's records.
    assert "Acme Widgets" in option_titles(suggest(personas.manager, "acme"))


def test_no_match_says_so_and_an_empty_query_closes_the_list(personas, records):
    body = text_of(suggest(personas.owner, "zzzz"))
    assert "Nothing matches “zzzz”" in body
    assert text_of(suggest(personas.owner, "   ")).strip() == ""


def test_suggestions_escape_record_names(personas):
    account_create(actor=personas.owner, fields={"name": f"Evil {XSS}"})
    body = text_of(suggest(personas.owner, "evil"))
    assert XSS not in body and "&lt;script&gt;" in body


@pytest.mark.parametrize("q", ["%", "_", "\x00abc", "a" * 500, "'; drop table x; --", "(((", '"'])
def test_odd_input_never_breaks_the_search(personas, records, q):
    assert suggest(personas.owner, q).status_code == 200
    assert ui_client(personas.owner).get("/search", {"q": q}).status_code == 200


def test_search_needs_sign_in(personas):
    for url in ("/search?q=acme", "/search/suggest?q=acme"):
        response = ui_client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_results_page_groups_hits_and_links_each_group_to_its_list(personas, records):
    response = ui_client(personas.owner).get("/search", {"q": "acme"})
    page = text_of(response)
    assert "Results for “acme”" in page
    for label in ("Accounts", "Contacts", "Leads", "Opportunities"):
        assert f">{label} <span" in page
    assert 'href="/accounts/?q=acme"' in page and 'href="/contacts/?q=acme"' in page
    assert 'value="acme"' in page  # the box keeps the query


def test_results_page_shows_the_best_twenty_and_says_there_may_be_more(personas):
    for n in range(22):
        account_create(actor=personas.owner, fields={"name": f"Bulk {n:02d}"})
    page = text_of(ui_client(personas.owner).get("/search", {"q": "bulk"}))
    assert page.count("Bulk ") == 20
    assert '<span class="count">20+</span>' in page
    assert "See every match in the accounts list" in page


def _make_many(personas, n: int, tag: str):
    owner = personas.owner
    for i in range(n):
        account = account_create(actor=owner, fields={"name": f"Zed{tag} {i}"})
        contact_create(actor=owner, fields={"last_name": f"Zed{tag}son {i}", "account": account})
        lead_create(actor=owner, fields={"last_name": f"Zed{tag}lead {i}", "company": "Zed"})
        opportunity_create(actor=owner, fields={"name": f"Zed{tag} deal {i}", "account": account})


def test_typeahead_and_results_page_run_a_fixed_number_of_queries(personas):
    client = ui_client(personas.owner)
    _make_many(personas, 3, "")
    client.get("/search/suggest", {"q": "zed"})
    few = count_queries(lambda: client.get("/search/suggest", {"q": "zed"}))
    few_page = count_queries(lambda: client.get("/search", {"q": "zed"}))
    _make_many(personas, 20, "x")
    many = count_queries(lambda: client.get("/search/suggest", {"q": "zed"}))
    many_page = count_queries(lambda: client.get("/search", {"q": "zed"}))
    assert few == many and few_page == many_page
    # per type one query (the per-grant candidates ranked), one counting what the user sees
    # of each type (search.selectors._visible_sizes), one for knowledge articles
    assert many <= 11

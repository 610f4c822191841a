"""The search service: what matches, on either backend, and that the index follows writes."""

import pytest
from django.db import connection

from rapport.accounts.models import Account, Contact
from rapport.accounts.selectors import account_list, contact_list
from rapport.accounts.services import account_update, contact_delete, contact_update
from rapport.leads.models import Lead
from rapport.leads.selectors import lead_list
from rapport.leads.services import lead_update
from rapport.sales.models import Opportunity, Product
from rapport.sales.selectors import opportunity_list, product_list
from rapport.sales.services import opportunity_update, product_create
from rapport.search.matching import parse_query, search_filter

pytestmark = pytest.mark.django_db


def found(model, q) -> set[int]:
    return set(search_filter(model.objects.all(), q).values_list("pk", flat=True))


# ----- parsing ---------------------------------------------------------------------------


def test_query_words_are_lowercased_deduplicated_and_capped():
    assert [t.text for t in parse_query("  Ada  LOVE ada ")] == ["ada", "love"]
    assert len(parse_query("a b c d e f g")) == 5
    assert parse_query("   ") == []
    assert parse_query(None) == []


def test_phone_like_query_is_one_term_of_digits_with_variants():
    (term,) = parse_query("+1 (650) 253-0000")
    assert term.text == "16502530000"
    (term,) = parse_query("020 7946 0958")
    assert term.variants == ("02079460958", "2079460958")
    (term,) = parse_query("2024-05")
    assert term.variants == ("202405", "2024-05")
    assert [t.text for t in parse_query("12 ab")] == ["12", "ab"]


# ----- what matches ----------------------------------------------------------------------


def test_account_matches_name_substring_domain_website_and_city(make_account):
    acme = make_account(name="Acme Widgets", website="https://www.acme-tools.example", city="Lyon")
    other = make_account(name="Globex", city="Springfield")
    assert found(Account, "widg") == {acme.pk}
    assert found(Account, "ACME") == {acme.pk}
    assert found(Account, "acme-tools") == {acme.pk}
    assert found(Account, "lyon") == {acme.pk}
    assert found(Account, "spring") == {other.pk}
    assert found(Account, "nothing-like-it") == set()


def test_contact_matches_names_title_email_and_phone(make_contact):
    ada = make_contact(
        first_name="Ada",
        last_name="Lovelace",
        title="Analyst",
        email="ada@calc.io",
        phone="+44 20 7946 0958",
    )
    make_contact(first_name="Alan", last_name="Turing", email="alan@bletchley.example")
    assert found(Contact, "lovel") == {ada.pk}
    assert found(Contact, "analy") == {ada.pk}
    assert found(Contact, "calc.io") == {ada.pk}
    assert found(Contact, "ada@calc") == {ada.pk}


@pytest.mark.parametrize(
    "typed",
    [
        "+44 20 7946 0958",
        "+442079460958",
        "020 7946 0958",
        "0044 20 7946 0958",
        "(020) 7946-0958",
        "+44 (0)20 7946 0958",
        "7946 0958",
        "79460958",
        "946",
    ],
)
def test_phone_typed_in_any_format_finds_the_contact(make_contact, typed):
    ada = make_contact(last_name="Lovelace", phone="+44 20 7946 0958")
    make_contact(last_name="Other", phone="+1 650 253 0000")
    assert found(Contact, typed) == {ada.pk}


def test_every_email_and_phone_of_a_contact_is_searchable(make_contact):
    ada = make_contact(
        last_name="Lovelace",
        emails=[{"email": "ada@calc.io"}, {"email": "countess@home.example", "kind": "home"}],
        phones=[{"number": "+1 650 253 0000"}, {"number": "+1 415 555 0199", "kind": "mobile"}],
    )
    assert found(Contact, "countess") == {ada.pk}
    assert found(Contact, "415-555-0199") == {ada.pk}
    # Words found in different tables: the name in the contact, the email in its emails.
    assert found(Contact, "lovelace countess") == {ada.pk}
    assert found(Contact, "turing countess") == set()


def test_lead_matches_names_email_phone_and_company(make_lead):
    ada = make_lead(
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
        email="ada@calc.io",
        phone="+1 650 253 0000",
    )
    make_lead(first_name="Alan", last_name="Turing", company="Bletchley")
    assert found(Lead, "engines") == {ada.pk}
    assert found(Lead, "calc.io") == {ada.pk}
    assert found(Lead, "(650) 253-0000") == {ada.pk}
    assert found(Lead, "ada engines") == {ada.pk}
    assert found(Lead, "alan engines") == set()


def test_opportunity_matches_its_name_or_its_accounts(make_account, make_opportunity):
    acme = make_account(name="Acme Widgets")
    renewal = make_opportunity(name="Renewal 2025", account=acme)
    other = make_opportunity(name="Initech expansion")
    assert found(Opportunity, "renew") == {renewal.pk}
    assert found(Opportunity, "widgets") == {renewal.pk}
    assert found(Opportunity, "acme renewal") == {renewal.pk}
    assert found(Opportunity, "acme expansion") == set()
    assert found(Opportunity, "initech") == {other.pk}


def test_every_word_must_match(make_contact):
    ada = make_contact(first_name="Ada", last_name="Lovelace")
    make_contact(first_name="Ada", last_name="Byron")
    make_contact(first_name="Augusta", last_name="Lovelace")
    assert found(Contact, "ada lovelace") == {ada.pk}
    assert found(Contact, "lovelace ada") == {ada.pk}
    assert len(found(Contact, "ada")) == 2


def test_short_words_match_the_start_of_a_name(make_contact, make_account):
    ada = make_contact(first_name="Ada", last_name="Lovelace")
    ed = make_contact(first_name="Ed", last_name="Sheeran")
    make_contact(first_name="Bob", last_name="Hadley")  # "ad" inside, not at the start
    assert found(Contact, "ad") == {ada.pk}
    assert found(Contact, "E") == {ed.pk}
    assert found(Contact, "a lovelace") == {ada.pk}
    assert found(Contact, "lo ad") == {ada.pk}
    ab = make_account(name="AB Foods")
    assert found(Account, "ab") == {ab.pk}


def test_like_wildcards_and_fts_syntax_in_the_query_are_plain_text(make_account):
    pct = make_account(name='100% "Pure" Juice_Co')
    make_account(name="Plain")
    for q in ["100%", '"pure"', "juice_co", "%", "_", '"', "pure*", "OR", "NEAR(", "a:b"]:
        result = found(Account, q)  # never an error
        assert result <= {pct.pk}
    assert found(Account, '"pure"') == {pct.pk}
    assert found(Account, "e_c") == {pct.pk}
    assert found(Account, "e%c") == set()


def test_accents_and_non_latin_text_match(make_account):
    zurich = make_account(name="Zürich Versicherung")
    tokyo = make_account(name="東京海上")
    assert found(Account, "zürich") == {zurich.pk}
    assert found(Account, "東京海") == {tokyo.pk}


# ----- the index follows every write -----------------------------------------------------


def test_updates_are_reflected(personas, make_contact, make_account):
    ada = make_contact(first_name="Ada", last_name="Lovelace", email="ada@calc.io")
    contact_update(contact=ada, actor=personas.owner, fields={"last_name": "King"})
    assert found(Contact, "lovelace") == set()
    assert found(Contact, "king") == {ada.pk}
    contact_update(
        contact=ada, actor=personas.owner, fields={}, emails=[{"email": "countess@home.example"}]
    )
    assert found(Contact, "calc.io") == set()
    assert found(Contact, "countess") == {ada.pk}
    acme = make_account(name="Acme")
    account_update(account=acme, actor=personas.owner, fields={"name": "Globex"})
    assert found(Account, "acme") == set()
    assert found(Account, "globex") == {acme.pk}


def test_updates_of_leads_and_opportunities_are_reflected(personas, make_lead, make_opportunity):
    lead = make_lead(last_name="Lovelace", company="Engines")
    lead_update(lead=lead, actor=personas.owner, fields={"company": "Looms"})
    assert found(Lead, "engines") == set()
    assert found(Lead, "looms") == {lead.pk}
    deal = make_opportunity(name="Renewal")
    opportunity_update(opportunity=deal, actor=personas.owner, fields={"name": "Upsell"})
    assert found(Opportunity, "renewal") == set()
    assert found(Opportunity, "upsell") == {deal.pk}


def test_writes_outside_the_services_are_indexed_too(make_contact):
    """Triggers (SQLite) and expression indexes (PostgreSQL) see raw updates and bulk inserts."""
    ada = make_contact(first_name="Ada", last_name="Lovelace")
    Contact.objects.filter(pk=ada.pk).update(last_name="Byron")
    assert found(Contact, "byron") == {ada.pk}
    assert found(Contact, "lovelace") == set()
    bulk = Contact.objects.bulk_create(
        [Contact(owner=ada.owner, team=ada.team, last_name=f"Bulkname{i}") for i in range(3)]
    )
    assert found(Contact, "bulkname") == {c.pk for c in bulk}


def test_hard_deletes_are_reflected(make_contact, make_account):
    ada = make_contact(
        last_name="Lovelace", emails=[{"email": "ada@calc.io"}], phones=[{"number": "+16502530000"}]
    )
    keep = make_contact(last_name="Lovelock")
    Contact.all_objects.filter(pk=ada.pk).delete()
    assert found(Contact, "love") == {keep.pk}
    assert found(Contact, "calc.io") == set()
    acme = make_account(name="Acme")
    Account.all_objects.filter(pk=acme.pk).delete()
    assert found(Account, "acme") == set()


def test_soft_deleted_records_are_hidden_from_lists_but_found_in_the_trash(personas, make_contact):
    ada = make_contact(last_name="Lovelace")
    contact_delete(contact=ada, actor=personas.owner)
    assert list(contact_list(user=personas.owner, q="lovelace")) == []
    assert [c.pk for c in contact_list(user=personas.owner, q="lovelace", deleted=True)] == [ada.pk]


# ----- through the list selectors (text_filter) ------------------------------------------


def test_list_q_filters_use_the_index_and_stay_narrowed_by_visibility(
    personas, make_account, make_contact, make_lead, make_opportunity
):
    mine = make_account(name="Acme Widgets")
    theirs = make_account(owner=personas.outsider, name="Acme Rockets")
    assert [a.pk for a in account_list(user=personas.owner, q="acme")] == [mine.pk]
    assert [a.pk for a in account_list(user=personas.outsider, q="acme")] == [theirs.pk]
    assert {a.pk for a in account_list(user=personas.admin, q="acme")} == {mine.pk, theirs.pk}
    c = make_contact(owner=personas.outsider, last_name="Secretson", phone="+16502530000")
    assert list(contact_list(user=personas.owner, q="secret")) == []
    assert list(contact_list(user=personas.owner, q="650 253 0000")) == []
    assert [x.pk for x in contact_list(user=personas.outsider, q="650 253 0000")] == [c.pk]
    lead = make_lead(owner=personas.outsider, last_name="Hidden", company="Initech")
    assert list(lead_list(user=personas.owner, q="initech")) == []
    assert [x.pk for x in lead_list(user=personas.manager, q="initech")] == []
    assert [x.pk for x in lead_list(user=personas.outsider, q="initech")] == [lead.pk]
    deal = make_opportunity(name="Moonshot", account=theirs, owner=personas.outsider)
    assert list(opportunity_list(user=personas.owner, q="rockets")) == []
    assert [x.pk for x in opportunity_list(user=personas.outsider, q="rockets")] == [deal.pk]


def test_models_without_an_index_match_substrings_of_the_given_fields(personas):
    widget = product_create(actor=personas.manager, fields={"sku": "W-100-200", "name": "Widget"})
    product_create(actor=personas.manager, fields={"sku": "G-1", "name": "Gadget"})
    assert [p.pk for p in product_list(q="idg")] == [widget.pk]
    assert [p.pk for p in product_list(q="100-200")] == [widget.pk]
    assert [p.pk for p in product_list(q="w-1 widget")] == [widget.pk]
    assert Product.objects.count() == 2


def test_search_filter_is_lazy_and_one_query(make_contact, django_assert_num_queries):
    make_contact(first_name="Ada", last_name="Lovelace", emails=[{"email": "ada@calc.io"}])
    with django_assert_num_queries(0):
        qs = search_filter(Contact.objects.all(), "ada lo calc")
    with django_assert_num_queries(1):
        assert len(list(qs)) == 1
    assert connection.vendor in ("sqlite", "postgresql")

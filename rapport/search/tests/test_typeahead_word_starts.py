"""The short words of a two-word typeahead asked of the trigram index (issue 17, branch
words18): "pa wombat" — a name starting with "pa" and "wombat" anywhere — reads the record's
own document for "wombat" AND a word starting with "pa" (`document ~ '(^| )pa'`, the padded
trigrams of word starts), in the same index scan, instead of reading every row holding
"wombat" to test its names. The condition is implied by the name prefixes (every name field
is a column of the document), so the results stay the plain visibility selector's: first
and last names starting with the word are found, titles and emails that merely hold a word
starting with it are not, and nothing leaks."""

import re

import pytest
from django.db import connection

from rapport.accounts.models import Contact
from rapport.search import selectors
from rapport.search.indexes import INDEXES, SearchIndex
from rapport.search.matching import (
    DocumentWordStarts,
    candidate_batch,
    name_prefix,
    parse_query,
    sources,
    word_start_terms,
)
from rapport.search.tests.test_typeahead_statements import _expected, _found

CONTACT = INDEXES["contact"]
PERSONAS = ("owner", "teammate", "manager", "outsider", "admin")
QUERIES = ("pa wombat", "wombat pa", "pat wombat", "pa wom", "pa ch wombat", "pa9 wombat")


@pytest.fixture
def quolls(personas, make_contact):
    """ "wombat" in every contact's own row (the last name or the title), the short word at
    the start of a first name, of a last name, only inside a name ("Mapa"), only in a title
    word ("Parts buyer") or an email's word ("pablo.x@…"): of the outsider's first (their
    rows come first in the index), then the owner's and the teammate's."""
    rows = [
        ("Zed", "Wombat", "CEO", "zed@one.example"),
        ("Mapa", "Wombat", "CEO", "mapa@one.example"),
        ("Zed", "Wombatson", "Parts buyer", "zed2@one.example"),
        ("Zed", "Wombatley", "CEO", "pablo.x@one.example"),
        ("Pat", "Wombat", "CEO", "pat@one.example"),
        ("Zoe", "Pawombat", "CEO", "zoe@one.example"),
        ("Pa9", "Wombat", "CEO", "p9@one.example"),
        ("Chris", "Pascal", "Wombat keeper", "cp@one.example"),
    ]
    made = []
    for owner in (personas.outsider, personas.owner, personas.teammate):
        for n, (first, last, title, email) in enumerate(rows):
            local, domain = email.split("@")
            made.append(
                make_contact(
                    owner=owner,
                    first_name=first,
                    last_name=last,
                    title=title,
                    emails=[{"email": f"{local}.{owner.username}{n}@{domain}"}],
                )
            )
    return made


def test_the_terms_it_takes():
    terms = parse_query("pa é o' 9x wombat")
    assert [t.text for t in word_start_terms(CONTACT, terms)] == ["pa", "9x", "wombat"]
    assert word_start_terms(CONTACT, parse_query("020 7946")) == []  # a phone number
    # A record type whose name is not a text column of its document: none.
    odd = SearchIndex("x", "accounts.Contact", CONTACT.tables, name_fields=("phone",))
    assert word_start_terms(odd, terms) == []


def _document_starts(term) -> set[int]:
    """The contacts whose own document has a word starting with `term`: asked of PostgreSQL
    (DocumentWordStarts); on SQLite, which does not use it, the same regular expression
    over the same document built in Python (first, last, title, email, phone digits)."""
    if connection.vendor == "postgresql":
        qs = Contact.objects.filter(DocumentWordStarts(sources(CONTACT)[0], [term]))
        return set(qs.values_list("pk", flat=True))
    found = set()
    for c in Contact.objects.all():
        digits = re.sub(r"[^0-9]+", "", c.phone)
        document = f"{c.first_name} {c.last_name} {c.title} {c.email} {digits}".lower()
        if re.search("(^| )" + term.text, document):
            found.add(c.pk)
    return found


def test_every_name_start_makes_the_document_match(quolls):
    """Implied by the name prefixes; a word start, not a substring."""
    for word in ("pa", "pat", "ch", "ze", "wo", "pa9", "m", "z"):
        (term,) = parse_query(word)
        named = set(Contact.objects.filter(name_prefix(CONTACT, word)).values_list("pk", flat=True))
        assert named and named <= _document_starts(term), word
    (pa,) = parse_query("pa")
    inside = {c.pk for c in quolls if c.first_name == "Mapa"}
    assert inside and not _document_starts(pa) & inside
    titles = {c.pk for c in quolls if c.title == "Parts buyer"}
    assert titles <= _document_starts(pa)  # a superset: the caller applies the names


@pytest.mark.parametrize("persona", PERSONAS)
def test_results_are_the_selectors(personas, quolls, monkeypatch, persona):
    """Index first for everyone but the admin (FEW_VISIBLE 1), batches of 3 and 100: every
    query finds exactly the visibility selector's matches (no leak, nothing lost), however
    many rows of the way are title or email words only."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    user = getattr(personas, persona)
    for candidates in (3, 100):
        monkeypatch.setattr(selectors, "CANDIDATES", candidates)
        for q in QUERIES:
            expected = _expected(user, q)
            found, _ = _found(user, q)
            assert set(found) <= expected, (persona, q)
            if persona != "admin" or candidates >= len(quolls):  # the admin's capped ways
                assert set(found) == expected, (persona, q, candidates)


def test_the_expected_sets_are_what_the_fixture_says(personas, quolls):
    pats = {c.pk for c in quolls if c.owner == personas.owner and "pa" in c.first_name[:2]}
    pats |= {
        c.pk
        for c in quolls
        if c.owner == personas.owner
        and (c.last_name.lower().startswith("pa") or c.first_name.lower().startswith("pa"))
        and "wombat" in f"{c.first_name} {c.last_name} {c.title} {c.email}".lower()
    }
    assert _expected(personas.owner, "pa wombat") == pats
    names = {(c.first_name, c.last_name) for c in quolls if c.pk in pats}
    assert names == {("Pat", "Wombat"), ("Zoe", "Pawombat"), ("Pa9", "Wombat"), ("Chris", "Pascal")}


def test_the_own_way_asks_the_index_for_the_word_starts(personas, quolls):
    """PostgreSQL: the contact's own way carries `~ '(^| )pa'` beside the name prefixes
    (without them, where every document has such a word, every row holding the long word
    was read); SQLite is unchanged. Either way the way holds exactly the names starting
    with "pa" and proves it holds them all."""
    batch = candidate_batch(Contact.objects.all(), "pa wombat", per_source=100)
    own = batch.sql.split(" UNION ALL ")[0]
    with connection.cursor() as cursor:
        cursor.execute(batch.sql, batch.params)
        rows = cursor.fetchall()
    assert batch.complete(rows)
    named = {
        c.pk
        for c in quolls
        if c.first_name.lower().startswith("pa") or c.last_name.lower().startswith("pa")
    }
    assert {pk for pk, way in rows if way == 0} == named
    if connection.vendor == "postgresql":
        assert " ~ " in own and "(^| )pa" in batch.params, own
    else:
        assert " ~ " not in batch.sql

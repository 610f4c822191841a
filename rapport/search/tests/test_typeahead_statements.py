"""How the typeahead asks the database (issue 17, branch search17d): the index-first plan
sends ONE statement per batch of candidates (not a batch, then the visible ones among
its ids), and a phone query asks its digits' n-grams and the document apart (the n-gram
function never rechecked on the document's trigram candidates); the results stay the
plain visibility selector's."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.search import schema, selectors
from rapport.search.matching import (
    _useful_variants,
    candidate_batch,
    parse_query,
    search_candidates,
    search_filter,
)
from rapport.search.selectors import KINDS, search_typeahead


def _found(user, q: str, limit: int = 20) -> tuple[list[int], list[str]]:
    user = type(user).objects.get(pk=user.pk)  # a new request: no per-request caches
    with CaptureQueriesContext(connection) as ctx:
        groups = search_typeahead(user=user, q=q, types=["contact"], limit=limit)
    return [item["id"] for item in groups[0]["items"]], [c["sql"] for c in ctx.captured_queries]


def _expected(user, q: str) -> set[int]:
    return set(search_filter(KINDS["contact"].visible(user), q).values_list("pk", flat=True))


@pytest.fixture
def numbats(personas, make_contact):
    """12 numbats, one in four the owner's, each with a second email and phone."""
    made = []
    for n in range(12):
        owner = personas.owner if n % 4 == 3 else personas.outsider
        made.append(
            make_contact(
                owner=owner,
                first_name="Numbat",
                last_name=f"Nu{n}",
                emails=[
                    {"email": f"nu{n}@plain.example", "is_primary": True},
                    {"email": f"nu{n}@numbat.example"},
                ],
                phones=[
                    {"number": f"+4420600{n:04d}", "is_primary": True},
                    {"number": f"+4420700842{n:02d}"},
                ],
            )
        )
    return made


@pytest.mark.parametrize("q", ["numbat", "nu numbat", "numbat.example", "0700-842", "0084"])
def test_index_first_asks_one_statement_per_batch(personas, numbats, monkeypatch, q):
    """Batches of 2 (growing ×2): each batch is one statement that carries its candidates
    as a CTE; the candidate ids are never sent back as parameters. Main sent two per
    batch (the batch, then `pk IN (<ids>)` with visibility)."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    monkeypatch.setattr(selectors, "CANDIDATES", 2)
    monkeypatch.setattr(selectors, "BATCH_GROWTH", 2)
    monkeypatch.setattr(selectors, "MAX_BATCH", 64)
    for user in (personas.owner, personas.manager, personas.outsider):
        expected = _expected(user, q)
        found, statements = _found(user, q)
        assert set(found) == expected, (user.username, q)
        batches = [s for s in statements if selectors.BATCH_CTE in s]
        assert batches, statements
        # Every statement that reads candidates is a whole batch: none selects the batch's
        # rows on their own and ranks them in a second round trip.
        assert not [s for s in statements if " AS way FROM " in s and selectors.BATCH_CTE not in s]


def test_one_statement_per_batch_ranks_as_before(personas, numbats, monkeypatch):
    """The rows come back ranked (equal rank: by name), every limit: the outer statement
    orders the joined rows again. A limit under the number of matches stops at the first
    batch holding that many visible rows, as before."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    monkeypatch.setattr(selectors, "CANDIDATES", 2)
    monkeypatch.setattr(selectors, "BATCH_GROWTH", 2)
    user = personas.manager
    names = {c.pk: c.last_name.lower() for c in numbats}
    for limit in (2, 3, 20):
        found, _ = _found(user, "numbat", limit=limit)
        assert found == sorted(found, key=lambda pk: names[pk]), limit
        assert set(found) <= _expected(user, "numbat")
        assert len(found) == min(limit, len(_expected(user, "numbat")))


def test_a_digit_variant_containing_another_is_not_asked():
    (term,) = parse_query("008-429")
    assert term.variants == ("008429", "8429", "008-429")
    assert _useful_variants(term, ["phone"], digits_only=False) == ("8429", "008-429")
    # A document of digits only can not contain separators.
    assert _useful_variants(term, ["number"], digits_only=True) == ("8429",)
    (term,) = parse_query("020 7946 0958")
    assert _useful_variants(term, ["phone"], digits_only=False) == ("2079460958",)


@pytest.mark.parametrize("q", ["0700-842", "0700 842", "700842", "200-0084"])
def test_phone_digits_and_document_are_asked_apart(personas, numbats, q):
    """On PostgreSQL no statement ORs the n-gram condition with the document's trigram
    LIKE: ORed, every row the trigrams could not prove was rechecked with the n-gram
    function (~80 µs a row). Same matches as the plain selector on both backends."""
    from rapport.accounts.models import Contact

    candidates = search_candidates(Contact.objects.all(), q, per_source=100)
    batch = candidate_batch(Contact.objects.all(), q, per_source=100)
    if connection.vendor == "postgresql":
        for sql in (candidates.sql, batch.sql):
            for part in sql.split(" UNION "):
                if schema.GRAMS_FUNCTION in part:
                    assert "LIKE" not in part, part
    found = set(Contact.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    assert found == _expected(personas.admin, q)
    if q != "200-0084":
        assert found == {c.pk for c in numbats}


def test_a_word_with_other_characters_is_not_asked_of_phone_digits():
    """A document of phone digits only (the phones table) can not contain "19@" or "ann":
    the word is not asked of it (pg_trgm reads only "19" of "19@" and found a candidate
    in every number, each rechecked on the heap); a word of digits still is."""
    (term,) = parse_query("19@")
    assert not term.phone
    assert _useful_variants(term, ["number"], digits_only=True) == ()
    assert _useful_variants(term, ["phone"], digits_only=False) == ("19@",)
    _, digits_word = parse_query("ann 0084")
    assert _useful_variants(digits_word, ["number"], digits_only=True) == ("0084",)


@pytest.mark.parametrize("q", ["19@", "u3@num", "numbat 2060", "nu 0700842", "0084"])
def test_words_not_asked_of_phone_digits_find_the_same_records(personas, numbats, q):
    """Words that can not be in a phone number ask nothing of the phones table on
    PostgreSQL (its way selects nothing, `WHERE false`), and every persona still finds
    exactly the plain selector's records, through emails, names and phones alike."""
    from rapport.accounts.models import Contact
    from rapport.search.services import search_rebuild

    # "19@" in a secondary email only (search_rebuild: the row was changed behind the
    # services, whose triggers keep SQLite's index).
    numbats[3].emails.filter(is_primary=False).update(email="nu3x19@numbat.example")
    search_rebuild()
    batch = candidate_batch(Contact.objects.all(), q, per_source=100)
    if connection.vendor == "postgresql":
        phones = [p for p in batch.sql.split(" UNION ALL ") if "accounts_contactphone" in p]
        assert phones
        if not any(w.isdigit() for w in q.split()):
            assert all("WHERE false" in p for p in phones), phones
    for user in (personas.admin, personas.owner, personas.manager, personas.outsider):
        expected = _expected(user, q)
        found, _ = _found(user, q)
        assert set(found) == expected, (user.username, q)
    assert numbats[3].pk in _expected(personas.owner, "19@")

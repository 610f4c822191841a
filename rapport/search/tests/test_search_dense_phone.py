"""A phone fragment most numbers contain (issue 17): on PostgreSQL the typeahead reads it by
scanning under the LIMIT instead of building the n-gram index's bitmap of every match
(matching.dense_digits, from the index statistics); the results stay exactly the plain
selector's for every persona and plan, on both backends."""

import pytest
from django.db import connection

from rapport.accounts.services import contact_create
from rapport.search import matching, selectors
from rapport.search.indexes import CONTACT
from rapport.search.matching import dense_digits, parse_query, search_filter
from rapport.search.selectors import KINDS, search_typeahead

PER_OWNER = 8
# "7946" and "2079": in every number; "0007": in one (4%: dense too at this size).
QUERIES = ("7946", "020 7946", "2079-46", "79460007", "0007")


@pytest.fixture
def numbers(personas):
    made = []
    for owner in (personas.owner, personas.teammate, personas.outsider):
        for _ in range(PER_OWNER):
            n = len(made)
            made.append(
                contact_create(
                    actor=owner,
                    fields={"first_name": "Dee", "last_name": f"Dial{n}"},
                    phones=[
                        {"number": f"+44207946{n:04d}", "is_primary": True},
                        {"number": f"+44207946{n + 100:04d}"},
                    ],
                )
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE accounts_contact")
            cursor.execute("ANALYZE accounts_contactphone")
    matching._gram_stats.clear()
    yield made
    matching._gram_stats.clear()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_common_fragment_is_dense_a_rare_one_is_not(numbers):
    for table in CONTACT.tables[0], CONTACT.tables[2]:  # the contact, its phones
        assert dense_digits(table, parse_query("7946"), 100)
        assert not dense_digits(table, parse_query("5555"), 100)  # in no number
        # a cap too big for SCAN_ROWS rows at this share: the index
        assert not dense_digits(table, parse_query("7946"), matching.SCAN_ROWS + 1)
    assert not dense_digits(CONTACT.tables[1], parse_query("7946"), 100)  # emails: no digits


@pytest.mark.parametrize("plan", ["few", "index-first", "index-first, batches of 2"])
@pytest.mark.parametrize("persona", ["admin", "manager", "owner", "outsider", "reader"])
def test_dense_fragments_find_exactly_the_visible_matches(
    personas, numbers, monkeypatch, plan, persona
):
    if plan != "few":
        monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    if plan.endswith("2"):
        monkeypatch.setattr(selectors, "CANDIDATES", 2)
        monkeypatch.setattr(selectors, "BATCH_GROWTH", 2)
    user = getattr(personas, persona)
    for q in QUERIES:
        expected = set(
            search_filter(KINDS["contact"].visible(user), q).values_list("pk", flat=True)
        )
        for limit in (3, 20):
            fresh = type(user).objects.get(pk=user.pk)
            items = search_typeahead(user=fresh, q=q, types=["contact"], limit=limit)[0]["items"]
            found = [item["id"] for item in items]
            assert set(found) <= expected, (q, limit)
            if not (persona == "admin" and plan.endswith("2")):  # the admin's cap: by design
                assert len(found) == min(limit, len(expected)), (q, limit, found, expected)

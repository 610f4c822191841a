"""Typeahead for a user who sees few records (issue 17, the per-grant plan): nothing lost to
others' records. Every contact has an extra email and phone (accounts_contactemail /
_contactphone, searched as their own sources); when the first matches of those tables all
belong to someone else, the outsider's own match must still be found: as many results as
the plain visibility selector gives, up to the typeahead's limit, on both backends.

The default plan thresholds are kept (the outsider sees far fewer than FEW_VISIBLE records);
only CANDIDATES is lowered to 2, so that three other owners' matches are "many"."""

import pytest
from django.db import connection

from rapport.accounts.services import contact_create
from rapport.search import selectors
from rapport.search.matching import search_filter
from rapport.search.selectors import KINDS, search_typeahead

# Matched only through the extra (non-primary) email or phone rows.
QUERIES = ("wombat", "wombat.example", "7788 991", "778899", "+44 20 7788 99", "wom")
OTHERS = 4


@pytest.fixture
def wombats(personas):
    """OTHERS contacts of the owner and teammate, then one of the outsider's, each with a
    matching second email and phone (created in that order: the others' rows come first in
    the tables and their indexes)."""
    made = []
    owners = [personas.owner, personas.teammate] * OTHERS
    for n, owner in enumerate([*owners[:OTHERS], personas.outsider]):
        made.append(
            contact_create(
                actor=owner,
                fields={"first_name": "Pat", "last_name": f"Person{n}"},
                emails=[
                    {"email": f"pat{n}@plain.example", "is_primary": True},
                    {"email": f"pat{n}@wombat.example"},
                ],
                phones=[
                    {"number": f"+4420600{n:04d}", "is_primary": True},
                    {"number": f"+44207788991{n}"},
                ],
            )
        )
    return made


def _expected(user, q: str) -> set[int]:
    qs = search_filter(KINDS["contact"].visible(user), q)
    return set(qs.values_list("pk", flat=True))


def _found(user, q: str, limit: int) -> list[int]:
    user = type(user).objects.get(pk=user.pk)  # a new request: no per-request caches
    groups = search_typeahead(user=user, q=q, types=["contact"], limit=limit)
    return [item["id"] for item in groups[0]["items"]]


@pytest.mark.parametrize("candidates", [2, 100])
@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("persona", ["outsider", "owner", "teammate", "manager", "admin"])
def test_few_visible_loses_nothing_to_others_matches(
    personas, wombats, monkeypatch, persona, q, candidates
):
    monkeypatch.setattr(selectors, "CANDIDATES", candidates)
    user = getattr(personas, persona)
    expected = _expected(user, q)
    if q != "wom":  # a name prefix of nobody: no match
        assert expected, (persona, q)
    for limit in (1, 3, 20):
        found = _found(user, q, limit)
        assert set(found) <= expected, (persona, q, limit)  # no leak
        # Nothing lost: as many as the selector, up to the limit. Capped by design when
        # the limit is over CANDIDATES (never, unpatched: CANDIDATES ≥ MAX_LIMIT): the
        # admin's single ranked query and SQLite's per-grant candidates, CANDIDATES per way;
        # PostgreSQL's few-records plan matches among the user's ids, exactly.
        exact = connection.vendor == "postgresql" and persona != "admin"
        if limit <= candidates or exact:
            assert len(found) == min(limit, len(expected)), (persona, q, limit, found, expected)


def test_the_outsider_finds_their_wombat(personas, wombats, monkeypatch):
    monkeypatch.setattr(selectors, "CANDIDATES", 2)
    mine = wombats[-1].pk
    for q in QUERIES[:-1]:
        assert _found(personas.outsider, q, 5) == [mine], q


def test_index_first_grows_the_batch_until_the_limit_or_every_match(
    personas, make_contact, monkeypatch
):
    """Text index first (a user who sees many records): when the first candidates hold
    fewer visible rows than the limit and some way was cut off, a bigger batch is asked,
    even when a tenth of the candidates were visible (once taken as "representative")."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    monkeypatch.setattr(selectors, "CANDIDATES", 4)
    monkeypatch.setattr(selectors, "BATCH_GROWTH", 2)
    for n in range(12):
        owner = personas.owner if n % 4 == 3 else personas.outsider
        make_contact(owner=owner, first_name="Numbat", last_name=f"Nu{n}")
    for user in (personas.owner, personas.manager):
        expected = _expected(user, "numbat")
        assert len(expected) == 3
        assert set(_found(user, "numbat", 20)) == expected
        assert len(_found(user, "numbat", 2)) == 2

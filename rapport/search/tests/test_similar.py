"""Typo tolerance: when nothing matches exactly, records with a close name are offered
(visible ones only); an exact match never falls back."""

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.search.selectors import search_typeahead
from rapport.search.similar import closeness
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(personas):
    return {
        "maple": account_create(actor=personas.owner, fields={"name": "Maple Leaf Traders"}),
        "oak": account_create(actor=personas.owner, fields={"name": "Oakwood Supplies"}),
        "secret": account_create(actor=personas.outsider, fields={"name": "Maple Secret"}),
        "john": contact_create(
            actor=personas.owner, fields={"first_name": "John", "last_name": "Smith"}
        ),
    }


def _titles(groups, object_type):
    return [i["title"] for g in groups if g["type"] == object_type for i in g["items"]]


def test_a_typo_finds_the_close_name(personas, records):
    groups = search_typeahead(user=personas.owner, q="mapel", similar=True)
    assert _titles(groups, "account") == ["Maple Leaf Traders"]
    assert all(g.get("similar") for g in groups)
    assert _titles(
        search_typeahead(user=personas.owner, q="jonh smith", similar=True), "contact"
    ) == ["John Smith"]


def test_without_the_fallback_a_typo_finds_nothing(personas, records):
    assert _titles(search_typeahead(user=personas.owner, q="mapel"), "account") == []


def test_similar_names_stay_within_what_the_user_may_see(personas, records):
    titles = _titles(
        search_typeahead(user=personas.owner, q="mapel secret", similar=True), "account"
    )
    assert titles == []
    outsider = search_typeahead(user=personas.outsider, q="mapel", similar=True)
    assert _titles(outsider, "account") == ["Maple Secret"]


def test_an_exact_match_does_not_fall_back(personas, records):
    groups = search_typeahead(user=personas.owner, q="maple", similar=True)
    assert _titles(groups, "account") == ["Maple Leaf Traders"]
    assert not any(g.get("similar") for g in groups)


def test_unrelated_words_find_nothing(personas, records):
    groups = search_typeahead(user=personas.owner, q="xylophone", similar=True)
    assert not any(g["items"] for g in groups)


def test_closeness_needs_every_word_close():
    assert closeness(["mapel"], "Maple Leaf Traders") is not None
    assert closeness(["mapel"], "Mapleton Inc") is not None
    assert closeness(["mapel", "zebra"], "Maple Leaf Traders") is None
    assert closeness(["oak"], "Maple Leaf Traders") is None


def test_search_page_shows_similar_names_with_a_note(personas, records):
    client = ui_client(personas.owner)
    page = text_of(client.get("/search", {"q": "mapel"}))
    assert "Maple Leaf Traders" in page
    assert "Nothing matches “mapel” exactly" in page
    assert "Maple Secret" not in page
    suggestions = text_of(client.get("/search/suggest", {"q": "mapel"}))
    assert "Maple Leaf Traders" in suggestions and "Similar names" in suggestions

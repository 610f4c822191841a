"""Typeahead applies visibility one grant at a time (records.visibility.visible_parts): its
results must be exactly the visible matches, for every persona (no leak, nothing lost)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import contact_delete
from rapport.leads.models import Lead
from rapport.records.models import Access, OrgDefault
from rapport.records.services import record_share
from rapport.records.visibility import visible, visible_parts
from rapport.sales.models import Opportunity
from rapport.search import selectors
from rapport.search.matching import search_filter
from rapport.search.selectors import KINDS, search_typeahead

PERSONAS = ("admin", "manager", "owner", "teammate", "outsider", "reader", "deactivated")
QUERIES = ("zebra", "ze", "zebra north", "650 253", "zebra.example", "(650) 253-1002")


@pytest.fixture
def world(personas, make_account, make_contact, make_lead, make_opportunity):
    """Zebra records of three owners in two teams, one shared with the outsider, one with
    the outsider's team, one deleted."""
    made = {"account": [], "contact": [], "lead": [], "opportunity": []}
    for n, owner in enumerate((personas.owner, personas.teammate, personas.outsider)):
        for side in ("North", "South"):
            account = make_account(owner=owner, name=f"Zebra {side} {n}", domain="zebra.example")
            made["account"].append(account)
            made["contact"].append(
                make_contact(
                    owner=owner,
                    first_name=side,
                    last_name=f"Zebra{n}",
                    email=f"{side.lower()}{n}@zebra.example",
                    phone=f"+1650253{n}{len(made['contact']):03d}",
                    account=account,
                )
            )
            made["lead"].append(
                make_lead(owner=owner, last_name=f"Zebralead {side}", company="Zebra Corp")
            )
            made["opportunity"].append(
                make_opportunity(owner=owner, name=f"Zebra deal {side}", account=account)
            )
    record_share(record=made["contact"][0], actor=personas.owner, user=personas.outsider)
    record_share(record=made["account"][2], actor=personas.teammate, team=personas.team_b)
    contact_delete(contact=made["contact"][1], actor=personas.owner)
    return made


def _expected(user, object_type: str, q: str) -> set[int]:
    return set(search_filter(KINDS[object_type].visible(user), q).values_list("pk", flat=True))


def _found(user, object_type: str, q: str) -> set[int]:
    groups = search_typeahead(user=user, q=q, types=[object_type], limit=20)
    return {item["id"] for item in groups[0]["items"]}


@pytest.mark.parametrize("persona", PERSONAS)
def test_typeahead_finds_exactly_the_visible_matches(personas, world, persona):
    user = getattr(personas, persona)
    for object_type in KINDS:
        for q in QUERIES:
            expected = _expected(user, object_type, q)
            assert _found(user, object_type, q) == expected, (persona, object_type, q)
    if persona in ("admin", "manager"):
        assert _expected(user, "contact", "zebra")  # the test would be empty otherwise


def test_typeahead_follows_a_public_org_default(personas, world):
    OrgDefault.objects.create(object_type="lead", access=Access.PUBLIC_READ)
    found = _found(personas.outsider, "lead", "zebralead")
    assert found == {lead.pk for lead in world["lead"]}
    assert _found(personas.outsider, "contact", "zebra") == _expected(
        personas.outsider, "contact", "zebra"
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_visible_parts_union_is_visible(personas, world, persona):
    user = getattr(personas, persona)
    for model in (Account, Contact, Lead, Opportunity):
        parts = visible_parts(model.objects.all(), user)
        union = set()
        for part in parts:
            union |= set(part.values_list("pk", flat=True))
        assert union == set(visible(model.objects.all(), user).values_list("pk", flat=True))


@pytest.mark.parametrize("persona", PERSONAS)
def test_typeahead_text_index_first_finds_exactly_the_visible_matches(
    personas, world, persona, monkeypatch
):
    """The path of users who see many records (text candidates first, then the visible
    ones among them): the same set as the plain selector."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    user = getattr(personas, persona)
    for object_type in KINDS:
        for q in QUERIES:
            expected = _expected(user, object_type, q)
            assert _found(user, object_type, q) == expected, (persona, object_type, q)


@pytest.mark.parametrize("few_visible", [1, 2000])
@pytest.mark.parametrize("persona", PERSONAS)
def test_typeahead_with_capped_candidates_never_leaks(
    personas, world, persona, few_visible, monkeypatch
):
    """With a cap smaller than the matches, the text candidates are cut off: the visible
    ones among them, or (too few visible) the per-grant candidates, are all the typeahead
    shows: still only visible records. (Not "something whenever something matches": on
    PostgreSQL a parent source, the accounts of opportunities, is cut off at the cap before
    the children's visibility is known, with either path, as on main.)"""
    monkeypatch.setattr(selectors, "CANDIDATES", 2)
    monkeypatch.setattr(selectors, "FEW_VISIBLE", few_visible)
    user = getattr(personas, persona)
    for object_type in KINDS:
        for q in QUERIES:
            expected = _expected(user, object_type, q)
            found = _found(user, object_type, q)
            assert found <= expected, (persona, object_type, q)


def test_typeahead_checks_visibility_after_the_text_index(personas, world, monkeypatch):
    """The typeahead of a rep who sees many records asks the text index without the
    grants, then the visible ones among those ids by primary key (in the same statement:
    the candidates as a materialised CTE): no query ORs the grants into the text match."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    with CaptureQueriesContext(connection) as ctx:
        found = _found(personas.owner, "contact", "zebra")
    assert found == _expected(personas.owner, "contact", "zebra")
    text_queries = [q["sql"] for q in ctx.captured_queries if "zebra" in q["sql"].lower()]
    assert text_queries
    owner = f'owner_id" = {personas.owner.pk}'
    # One statement per batch (branch search17d): the batch of text candidates is a
    # materialised CTE without the grants; visibility applies to its ids only.
    batch = text_queries[0].split(") SELECT c.*, r.* FROM", 1)[0]
    assert "rapport_batch" in text_queries[0]
    assert not any(owner in sql for sql in [batch]), batch

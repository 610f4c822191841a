"""Typeahead under visibility for every persona (issue 17), and after every write that
changes who sees what: the typeahead's results are exactly the plain visibility selector's
matches (`visible()` then `search_filter`), no leak and nothing lost, on each of its paths
(few visible records: per grant; many: text index first, then visibility by primary key,
in bounded batches). Visibility is never copied into the search documents, so there are no
keys to fall behind: these tests pin that each change shows at once.

Personas beyond the shared ones: a territory manager (`outsider` manages DACH), a sharee
(`reader` has one contact shared with them) and a user who sees nothing (`lonely`)."""

import pytest
from django.db import connection

from rapport.accounts.models import Contact
from rapport.accounts.services import account_create, account_update, contact_create
from rapport.duplicates.services.merge import record_merge
from rapport.identity.services import team_create, user_create, user_set_team
from rapport.imports.tests.conftest import csv_bytes, import_dir, run, upload  # noqa: F401 - fixtures
from rapport.records.models import Access, RecordShare
from rapport.records.services import (
    org_default_set,
    record_share,
    record_transfer_owner,
    record_unshare,
)
from rapport.records.visibility import sees_all
from rapport.sales.services import opportunity_create
from rapport.search import selectors
from rapport.search.matching import search_filter
from rapport.search.selectors import KINDS, search_typeahead
from rapport.territories import services as territories

QUERIES = ("quokka", "qu", "quokka berlin", "4930 555", "quokka.example")
TYPES = ("account", "contact", "opportunity")  # leads: test_search_visibility_parts
SMALL = 2
PATHS = ("few", "index-first", "index-first, small batches")


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Each typeahead path: per grant (the default for users who see few records), text
    index first with the default batches, and text index first with batches of 2 (the
    candidates cut off, so bigger batches run until none is)."""
    if request.param != "few":
        monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    if request.param.endswith("small batches"):
        monkeypatch.setattr(selectors, "CANDIDATES", SMALL)
        monkeypatch.setattr(selectors, "BATCH_GROWTH", SMALL)
    return request.param


@pytest.fixture
def lonely(db):
    return user_create(username="lonely", team=team_create(name="Lonely team"))


@pytest.fixture
def quokkas(personas):
    """Quokka records of three owners in two teams; accounts in Berlin (DE) are placed in
    the DACH territory, which the outsider manages."""
    admin = personas.admin
    dach = territories.territory_save(actor=admin, fields={"name": "DACH"})
    territories.territory_set_rules(
        actor=admin, territory=dach, rules=[{"field": "country", "values": ["DE"]}]
    )
    territories.territory_set_members(
        actor=admin, territory=dach, reps=[], managers=[personas.outsider]
    )
    made = {"account": [], "contact": [], "opportunity": []}
    for n, owner in enumerate((personas.owner, personas.teammate, personas.manager)):
        for city, country in (("Berlin", "DE"), ("Lyon", "FR")):
            account = account_create(
                actor=owner,
                fields={"name": f"Quokka {city} {n}", "city": city, "country": country},
            )
            made["account"].append(account)
            made["opportunity"].append(
                opportunity_create(
                    actor=owner, fields={"name": f"Deal {n}", "account": account, "amount": 1}
                )
            )
            made["contact"].append(
                contact_create(
                    actor=owner,
                    fields={
                        "first_name": city,
                        "last_name": f"Quokka{n}",
                        "email": f"{city.lower()}{n}@quokka.example",
                        "phone": f"+49305550{n}{len(made['contact']):03d}",
                        "account": account,
                    },
                )
            )
    record_share(record=made["contact"][2], actor=personas.teammate, user=personas.reader)
    return made


def _expected(user, object_type: str, q: str) -> set[int]:
    user = type(user).objects.get(pk=user.pk)  # no per-request caches (teams, org defaults)
    return set(search_filter(KINDS[object_type].visible(user), q).values_list("pk", flat=True))


def _found(user, object_type: str, q: str) -> set[int]:
    user = type(user).objects.get(pk=user.pk)  # a new request: no per-request caches
    groups = search_typeahead(user=user, q=q, types=[object_type], limit=20)
    return {item["id"] for item in groups[0]["items"]}


def _check(user, queries=("quokka", "quokka berlin")) -> dict[str, set[int]]:
    """Asserts the typeahead equals the selector for every type and query; returns what
    `user` finds by "quokka" per type. (Capped candidates, CANDIDATES = 2, cut the
    admin's single ranked query by design, and the per-grant last resort: there, only no
    leak.)"""
    found = {}
    fresh = type(user).objects.get(pk=user.pk)
    for object_type in TYPES:
        # An opportunity's parent way (its account) is never counted complete on PostgreSQL
        # (the accounts are cut off, not their deals): past the batches, the per-grant pass
        # with its own cap of 2 runs there too.
        capped = selectors.CANDIDATES == SMALL and (
            sees_all(object_type, fresh)
            or (object_type == "opportunity" and connection.vendor == "postgresql")
        )
        for q in queries:
            expected = _expected(user, object_type, q)
            got = _found(user, object_type, q)
            if q == "quokka":
                found[object_type] = got
            if capped:
                assert got <= expected, (user.username, object_type, q)
            else:
                assert got == expected, (user.username, object_type, q)
    return found


PERSONAS = ("admin", "manager", "owner", "teammate", "outsider", "reader", "deactivated")


@pytest.mark.parametrize("persona", [*PERSONAS, "lonely"])
def test_every_persona_finds_exactly_the_visible_matches(personas, quokkas, lonely, path, persona):
    user = lonely if persona == "lonely" else getattr(personas, persona)
    found = _check(user, QUERIES)
    if sees_all("contact", user) and selectors.CANDIDATES == SMALL:
        return
    sizes = {t: len(ids) for t, ids in found.items()}
    expected_contacts = {
        "admin": 6,
        "manager": 6,  # manages team A: every owner here is in it
        "owner": 2,
        "teammate": 2,
        "outsider": 3,  # territory manager: the three Berlin accounts' contacts
        "reader": 1,  # the contact shared with them
        "deactivated": 0,
        "lonely": 0,
    }[persona]
    assert sizes["contact"] == expected_contacts, sizes


def test_owner_change_moves_the_record_between_result_sets(personas, quokkas, path):
    contact = quokkas["contact"][0]  # the owner's
    before = _check(personas.outsider)["contact"]
    lyon = quokkas["contact"][1]  # the owner's Lyon contact: not in the outsider's territory
    assert lyon.pk not in before
    record_transfer_owner(record=lyon, new_owner=personas.outsider, actor=personas.admin)
    assert lyon.pk in _check(personas.outsider)["contact"]
    assert lyon.pk not in _check(personas.owner)["contact"]
    assert contact.pk in _check(personas.owner)["contact"]


def test_share_add_and_remove(personas, quokkas, path):
    contact = quokkas["contact"][1]
    assert contact.pk not in _check(personas.reader)["contact"]
    share = record_share(record=contact, actor=personas.owner, user=personas.reader)
    assert contact.pk in _check(personas.reader)["contact"]
    record_unshare(record=contact, share_id=share.pk, actor=personas.owner)
    assert contact.pk not in _check(personas.reader)["contact"]
    # A team share reaches every member of the team, and stops with the membership.
    record_share(record=contact, actor=personas.owner, team=personas.team_b)
    assert contact.pk in _check(personas.outsider)["contact"]
    user_set_team(user=personas.outsider, team=None, actor=personas.admin)
    assert contact.pk not in _check(personas.outsider)["contact"]


def test_team_membership_change(personas, quokkas, path):
    """A manager sees their team's records; the team follows the owner on transfer, and a
    new team manager sees the team's records at once."""
    owned = {c.pk for c in quokkas["contact"][:2]}
    assert not owned & _check(personas.outsider)["contact"] - {quokkas["contact"][0].pk}
    team = team_create(name="Quokka team", manager=personas.outsider)
    user_set_team(user=personas.owner, team=team, actor=personas.admin)
    # The records keep their team (team A) until transferred: still the manager's.
    assert owned <= _check(personas.manager)["contact"]
    record_transfer_owner(
        record=quokkas["contact"][1], new_owner=personas.owner, actor=personas.admin
    )
    contact = Contact.objects.get(pk=quokkas["contact"][1].pk)
    assert contact.team_id == team.pk
    assert contact.pk in _check(personas.outsider)["contact"]
    assert contact.pk not in _check(personas.manager)["contact"]


def test_org_default_change(personas, quokkas, lonely, path):
    assert _check(lonely)["account"] == set()
    org_default_set(object_type="account", access=Access.PUBLIC_READ, actor=personas.admin)
    everyone = {a.pk for a in quokkas["account"]}
    if selectors.CANDIDATES == SMALL:  # the public default's single query, 2 per way
        assert _check(lonely)["account"]  # and within `everyone` (_check: no leak)
    else:
        assert _check(lonely)["account"] == everyone
    org_default_set(object_type="account", access=Access.PRIVATE, actor=personas.admin)
    assert _check(lonely)["account"] == set()


def test_territory_realignment(personas, quokkas, path):
    lyon_account = quokkas["account"][1]
    lyon_contact = quokkas["contact"][1]
    assert lyon_contact.pk not in _check(personas.outsider)["contact"]
    account_update(account=lyon_account, actor=personas.owner, fields={"country": "DE"})
    found = _check(personas.outsider)
    assert lyon_account.pk in found["account"] and lyon_contact.pk in found["contact"]
    # A rule change applies through a realignment run.
    dach = territories.Territory.objects.get(name="DACH")
    territories.territory_set_rules(
        actor=personas.admin, territory=dach, rules=[{"field": "country", "values": ["AT"]}]
    )
    realignment = territories.realignment_start(actor=personas.admin)
    territories.realignment_run(realignment.pk)
    assert _check(personas.outsider)["contact"] == set()


def test_merge(personas, quokkas, path):
    """The merged record disappears for everyone; its shares move to the survivor."""
    survivor, merged = quokkas["contact"][0], quokkas["contact"][2]  # owner's, teammate's
    assert merged.pk in _check(personas.reader)["contact"]  # shared with the reader
    record_merge(
        object_type="contact",
        survivor=survivor,
        merged=merged,
        field_choices={},
        actor=personas.admin,
    )
    assert RecordShare.objects.filter(object_type="contact", object_id=survivor.pk).exists()
    assert _check(personas.reader)["contact"] == {survivor.pk}
    assert merged.pk not in _check(personas.admin)["contact"]


def test_imported_records_are_found_by_their_owner_only(
    personas,
    quokkas,
    upload,  # noqa: F811 - the imports' fixture
    run,  # noqa: F811
    path,
):
    header = ["First name", "Last name", "Email", "Phone", "Company", "City"]
    row = ["Imported", "Quokkaimport", "imp@quokka.example", "+49 30 5559 9999", "", ""]
    job = run(upload(personas.teammate, csv_bytes([header, row])))
    assert (job.status, job.created) == ("done", 1)
    imported = Contact.objects.get(last_name="Quokkaimport").pk
    assert imported in _check(personas.teammate)["contact"]
    assert imported in _check(personas.manager)["contact"]
    assert imported not in _check(personas.owner)["contact"]
    assert imported not in _check(personas.outsider)["contact"]

"""The index-first typeahead statement kept per query shape and user's grants (branch rep20,
rapport.search.statements): a statement filled with a query's words is exactly the one the
ORM builds for them, and the results stay the plain visibility selector's for every persona,
across the grants changing between two keystrokes."""

import pytest

from rapport.identity.services import team_update, user_set_team
from rapport.records.models import Access
from rapport.records.services import org_default_set, record_share
from rapport.records.visibility import visibility_key
from rapport.search import selectors
from rapport.search.matching import parse_query, search_filter
from rapport.search.selectors import KINDS, search_typeahead
from rapport.search.statements import Template, marker_query, query_shape

# Words of every shape: plain, digits, short, with the characters LIKE and FTS escape.
SAME_SHAPES = [
    ("wombat", "numbat"),
    ("wom", "kal"),
    ("wo", "ka"),
    ("w", "k"),
    ("wombat 2024", "numbat 1999"),
    ("2024 wo", "1999 ka"),
    ("w@mb.at", "n@mb.at"),
    ("50%_off", 'q"uo\\te'),
    ("é@", "ü%"),
    ("zoé bat", "léa cat"),
    ("pa wombat nu", "an numbat ka"),
    ("wo mb at xy zz", "ka nu mb at qq"),
]


def _fresh(user):
    return type(user).objects.get(pk=user.pk)  # a new request: no per-request caches


@pytest.fixture
def wombats(personas, make_contact, make_account):
    """Contacts of several owners whose names and emails hold every kind of word above,
    `%` and `_` among them (a word's LIKE wildcards must stay escaped in a kept statement)."""
    made = []
    names = [
        ("Pa", "Wombat"),
        ("An", "Numbat"),
        ("Zoé", "Batley"),
        ("Léa", "Cattle"),
        ("Wo", "Mbat"),
        ("Ka", "Numbat"),
        ("Fifty", "50%_off"),
        ("Fifty", "50xyoff"),
        ("Fifty", "50%zoff"),
    ]
    for n, (first, last) in enumerate(names):
        owner = (personas.owner, personas.teammate, personas.outsider)[n % 3]
        account = make_account(owner=owner, name=f"Wombat Works {n}")
        made.append(
            make_contact(
                owner=owner,
                first_name=first,
                last_name=last,
                email=f"w{n}@mb.at" if n % 2 else f"n{n}@mb.at",
                title=f"ü% 2024 {n}" if n % 2 else f"1999 é@{n}",
                account=account,
            )
        )
    return made


def _expected(user, q: str) -> set[int]:
    return set(search_filter(KINDS["contact"].visible(user), q).values_list("pk", flat=True))


def _found(user, q: str) -> set[int]:
    groups = search_typeahead(user=_fresh(user), q=q, types=["contact"], limit=20)
    return {item["id"] for item in groups[0]["items"]}


@pytest.mark.parametrize(("first", "second"), SAME_SHAPES)
def test_a_kept_statement_filled_with_words_is_the_orms_statement(
    personas, wombats, monkeypatch, first, second
):
    """Built for `first` (kept), filled with `second`'s words: the same SQL text and
    parameters as the ORM builds for `second` itself."""
    monkeypatch.setattr(selectors, "_STATEMENTS", type(selectors._STATEMENTS)())
    terms_1, terms_2 = parse_query(first), parse_query(second)
    assert query_shape(terms_1) == query_shape(terms_2) is not None
    user = _fresh(personas.owner)
    kind, using = KINDS["contact"], "default"
    for per_source in (2, 240):
        args = (kind, "contact", user, first, terms_1, 20, per_source, using)
        selectors._index_first(*args)
        assert len(selectors._STATEMENTS) == (1 if per_source == 2 else 2), "not kept"
        args = (kind, "contact", user, second, terms_2, 20, per_source, using)
        kept = selectors._index_first(*args)
        built = selectors._build_batch(*args)
        assert (kept.sql, kept.params, kept.counted) == (built.sql, built.params, built.counted)
        assert (
            kept.params
            != selectors._build_batch(
                kind, "contact", user, first, terms_1, 20, per_source, using
            ).params
        )


@pytest.mark.parametrize(("first", "second"), SAME_SHAPES)
def test_a_kept_ranked_statement_is_the_orms_statement(
    personas, wombats, monkeypatch, first, second
):
    """The same for the statement of a user who sees every record (the admin): ranked text
    candidates, no visibility conditions; and it finds what the plain selector finds."""
    monkeypatch.setattr(selectors, "_STATEMENTS", type(selectors._STATEMENTS)())
    terms_1, terms_2 = parse_query(first), parse_query(second)
    user = _fresh(personas.admin)
    kind = KINDS["contact"]
    selectors._ranked_statement(kind, "contact", user, first, terms_1, 20, "default")
    assert len(selectors._STATEMENTS) == 1, "not kept"
    kept = selectors._ranked_statement(kind, "contact", user, second, terms_2, 20, "default")
    monkeypatch.setattr(selectors, "_STATEMENTS", type(selectors._STATEMENTS)())
    built = selectors._ranked_statement(kind, "contact", user, second, terms_2, 20, "default")
    assert (kept.sql, kept.params) == (built.sql, built.params)
    assert len(selectors._STATEMENTS) == 1
    assert _found(personas.admin, second) == _expected(personas.admin, second)


def test_phone_queries_and_other_digits_are_never_kept():
    assert query_shape(parse_query("0700-842")) is None
    assert query_shape(parse_query("²²²")) is None
    assert query_shape(parse_query("wombat ²²²")) is None
    # A query of digit words is a phone number: no stand-in query of that shape.
    assert marker_query(((False, True, True),)) is None
    assert marker_query(((False, True, True), (True, False, True))) is not None


def test_a_template_refuses_a_statement_it_does_not_give():
    q, markers = marker_query(query_shape(parse_query("wombat")))
    template = Template.of("SELECT %s", [f"%{q}%"], markers)
    assert template.check("SELECT %s", ["%numbat%"], parse_query("numbat"))
    assert not template.check("SELECT %s", ["%numbat"], parse_query("numbat"))
    assert not template.check("SELECT %s ", ["%numbat%"], parse_query("numbat"))
    assert template.fill(parse_query("50%_off")) == ["%50\\%\\_off%"]


@pytest.mark.parametrize("persona", ["admin", "manager", "owner", "teammate", "outsider"])
def test_kept_statements_find_exactly_the_visible_matches(personas, wombats, persona, monkeypatch):
    """Index first for everyone (FEW_VISIBLE 1), each query twice in two orders: the second
    of a shape runs the kept statement with its own words."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    monkeypatch.setattr(selectors, "CANDIDATES", 2)
    user = getattr(personas, persona)
    for pair in SAME_SHAPES:
        for q in (*pair, *reversed(pair)):
            assert _found(user, q) == _expected(user, q), (persona, q)
    assert _expected(personas.admin, "50%_off") == {wombats[6].pk}


def _items(user, q: str) -> list[tuple]:
    groups = search_typeahead(user=_fresh(user), q=q, types=["contact"], limit=20)
    return [(item["id"], item["title"], item["subtitle"]) for item in groups[0]["items"]]


def test_a_grant_changing_between_keystrokes_changes_the_statement(personas, wombats, monkeypatch):
    """The user's grants are part of the key: managing a team, leaving it, moving to it, a
    public org default for accounts (a shared contact's account name shows), each changes
    what the next keystroke finds and shows, as the plain selector and a statement built
    afresh do."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    outsider, admin = personas.outsider, personas.admin
    record_share(record=wombats[1], actor=personas.teammate, user=outsider)
    keys, shown = set(), []
    for step in ("before", "manages team A", "moved to team A", "public", "private"):
        if step == "manages team A":
            team_update(
                team=personas.team_a, actor=admin, name="Team A", manager=outsider, parent=None
            )
        elif step == "moved to team A":
            team_update(
                team=personas.team_a,
                actor=admin,
                name="Team A",
                manager=personas.manager,
                parent=None,
            )
            user_set_team(user=outsider, team=personas.team_a, actor=admin)
        elif step in ("public", "private"):
            access = Access.PUBLIC_READ if step == "public" else Access.PRIVATE
            org_default_set(object_type="account", access=access, actor=admin)
        user = _fresh(outsider)
        keys.add(visibility_key(user))
        for q in ("numbat", "wombat", "nu", "an numbat"):
            kept = _items(user, q)
            assert {row[0] for row in kept} == _expected(_fresh(outsider), q), (step, q)
            monkeypatch.setattr(selectors, "_STATEMENTS", type(selectors._STATEMENTS)())
            assert kept == _items(user, q), (step, q)
        shown.append(_items(user, "an numbat"))
    assert len(keys) == 5
    # The shared contact's account: hidden, then named under the public default.
    assert shown[0] != shown[3] and shown[3] != shown[4]

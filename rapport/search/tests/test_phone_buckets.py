"""PostgreSQL: the phone n-gram index also keeps each code of up to BUCKETED digits in one
of BUCKETS keys picked by the row's id (schema.py, migration 0010). A typeahead way asks a
code's first bucket, then the whole code, under its LIMIT: a code held by many numbers is
answered from a thirty-second of its index entries, any other still gives every match when
it gives fewer rows than the cap. Lists ask the code itself: every match."""

import pytest
from django.db import connection

from rapport.accounts.models import Contact, ContactPhone
from rapport.search import schema
from rapport.search.indexes import CONTACT
from rapport.search.matching import _digits_capped, _table_ids, parse_query, search_filter
from rapport.search.selectors import KINDS, search_typeahead

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the n-gram index is PostgreSQL's"
)


def _keys(digits: str, row_id: int) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema.GRAMS_FUNCTION}(%s, %s)", [digits, row_id])
        return set(cursor.fetchone()[0])


def test_keys_are_the_codes_and_a_bucket_key_for_short_codes(db):
    keys = _keys("4420794", 33)
    codes = {int("1" + "4420794"[i : i + n]) for n in range(4, 8) for i in range(0, 8 - n)}
    short = {c for c in codes if c < 10**6}  # "1" + 4 or 5 digits
    assert keys == codes | {-1 - (c * schema.BUCKETS + 33 % schema.BUCKETS) for c in short}
    assert -1 - 14420 * schema.BUCKETS in _keys("4420794", 64)  # id 64: the first bucket
    assert schema.pg_first_bucket(14420) == -1 - 14420 * schema.BUCKETS
    # Every key fits an int: the longest code of the longest bucketed length.
    assert min(_keys("99999", schema.BUCKETS - 1)) > -(2**31)


@pytest.fixture
def sevens(personas, make_contact):
    """70 contacts whose one number holds "7770" (ids in a row: two or three of them in
    the first bucket), and one that does not."""
    made = [
        make_contact(
            owner=personas.owner, last_name=f"Seven{n}", phones=[{"number": f"+4420777{n:04d}"}]
        )
        for n in range(70)
    ]
    make_contact(owner=personas.owner, last_name="Other", phones=[{"number": "+442012345678"}])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_contactphone")
    return made


def _run(sql: str, params: list) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def test_a_capped_way_takes_the_first_bucket_first_and_then_every_match(sevens):
    table = CONTACT.tables[2]  # the phones table
    assert table.table == "accounts_contactphone"
    terms = parse_query("7770")
    matching = {c.pk for c in sevens}
    phone_ids = dict(
        ContactPhone.objects.filter(contact__in=sevens).values_list("id", "contact_id")
    )
    first = {phone_ids[i] for i in phone_ids if i % schema.BUCKETS == 0}
    assert 2 <= len(first) <= 3
    sql, params = _table_ids(table, terms, "postgresql", capped=True)
    assert sql.count(f"{schema.GRAMS_FUNCTION}(") == 2  # the first bucket, then the code
    # A cap the first bucket fills: only its rows.
    got = _run(f"{sql} LIMIT 2", params)
    assert len(got) == 2 and set(got) <= first
    # A bigger cap: the first bucket's rows, then the code's (those again among them).
    got = _run(f"{sql} LIMIT 50", params)
    assert len(got) == 50 and set(got) <= matching
    # More than every match: all of them (fewer rows than the cap proves it).
    got = _run(f"{sql} LIMIT 500", params)
    assert set(got) == matching and len(got) == len(matching) + len(first)
    # Uncapped (lists): the code's key alone, every match once.
    sql, params = _table_ids(table, terms, "postgresql")
    assert sorted(_run(sql, params)) == sorted(matching)


def test_a_long_fragment_has_no_first_bucket(sevens):
    """Codes of 6 and 7 digits are not bucketed: one step."""
    sql, _ = _digits_capped(CONTACT.tables[0], parse_query("420777"), 10)
    assert sql.count(f"{schema.GRAMS_FUNCTION}(") == 1


@pytest.mark.parametrize("q", ["7770", "777-0", "20777", "+44 20 7770", "4420777000"])
def test_typeahead_finds_the_plain_selectors_records_for_every_persona(personas, sevens, q):
    for user in (personas.admin, personas.owner, personas.manager, personas.outsider):
        user = type(user).objects.get(pk=user.pk)
        expected = set(
            search_filter(KINDS["contact"].visible(user), q).values_list("pk", flat=True)
        )
        groups = search_typeahead(user=user, q=q, types=["contact"], limit=20)
        found = {item["id"] for item in groups[0]["items"]}
        assert found <= expected, (user.username, q)
        assert len(found) == min(20, len(expected)), (user.username, q)
    # The list filter finds every one of them.
    admin_all = set(search_filter(Contact.objects.all(), "7770").values_list("pk", flat=True))
    assert admin_all == {c.pk for c in sevens}

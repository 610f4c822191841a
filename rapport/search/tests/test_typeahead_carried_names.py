"""The rows under a contact carry its names (issue 17, branch twowords19): on PostgreSQL every
email and phone row holds its contact's last and first name (`record_last_name`,
`record_first_name`), kept by triggers whatever writes (schema.pg_names_sql), so a two-word
typeahead's "an email holds 'quokka', a name starts with 'an'" is asked of the rows' own
index instead of looking up each row's contact. The names must never be stale (a rename, a
merge, a moved or replaced email: the rows follow in the same transaction), and the results
must stay the plain visibility selector's for every persona. SQLite has no such columns and
the same results."""

import pytest
from django.db import connection, transaction

from rapport.accounts.models import Contact, ContactEmail, ContactPhone
from rapport.accounts.services import contact_update
from rapport.duplicates.services.merge import record_merge
from rapport.search import selectors
from rapport.search.matching import candidate_batch
from rapport.search.tests.test_typeahead_statements import _expected, _found

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
PERSONAS = ("owner", "teammate", "manager", "outsider", "admin")
QUERIES = ("an quokka", "quokka an", "an quok", "a quokka", "an 4477", "zo quokka", "an zo quokka")


@pytest.fixture
def quokkas(personas, make_contact):
    """ "quokka" in no contact's own row, only in a second email; "4477" only in a second
    phone. The outsider's first (their rows come first in the indexes): eight not named
    "an…", two "Anna"; then the owner's and the teammate's, named "Anna …", "… Andersen",
    "Zoe …" (a name that does not start with "an")."""
    made = []
    people = [(personas.outsider, "Zed", "Zedson")] * 8 + [
        (personas.outsider, "Anna", "Out"),
        (personas.outsider, "Anna", "Out"),
        (personas.owner, "Anna", "Zimmer"),
        (personas.owner, "Bo", "Andersen"),
        (personas.owner, "Zoe", "Zimmer"),
        (personas.teammate, "Anna", "Zed"),
    ]
    for n, (owner, first, last) in enumerate(people):
        made.append(
            make_contact(
                owner=owner,
                first_name=first,
                last_name=last,
                emails=[
                    {"email": f"p{n}@plain.example", "is_primary": True},
                    {"email": f"x{n}@quokka.example"},
                ],
                phones=[
                    {"number": f"+4420600{n:04d}", "is_primary": True},
                    {"number": f"+4420744770{n:02d}"},
                ],
            )
        )
    return made


def _carried(contact: Contact) -> set[tuple[str, str]]:
    """The names every email and phone row of `contact` carries."""
    found = set()
    for table in (ContactEmail._meta.db_table, ContactPhone._meta.db_table):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT record_last_name, record_first_name FROM {table} "  # noqa: S608
                "WHERE contact_id = %s",
                [contact.pk],
            )
            found |= set(cursor.fetchall())
    return found


def _assert_selectors(personas, monkeypatch, queries=QUERIES):
    """Every persona finds the selector's matches, index first with batches of 3 and 100
    (the admin's ways are capped at CANDIDATES: all of them with 100)."""
    for candidates in (3, 100):
        monkeypatch.setattr(selectors, "CANDIDATES", candidates)
        for persona in PERSONAS:
            user = getattr(personas, persona)
            for q in queries:
                found, _ = _found(user, q)
                expected = _expected(user, q)
                if persona == "admin" and candidates == 3:
                    assert set(found) <= expected, (persona, q, candidates)
                else:
                    assert set(found) == expected, (persona, q, candidates)


@postgres_only
def test_rows_carry_their_contacts_names_through_every_write(personas, quokkas):
    anna, bo = quokkas[10], quokkas[11]
    assert _carried(anna) == {("Zimmer", "Anna")}
    contact_update(contact=anna, actor=personas.owner, fields={"last_name": "Anders"})
    assert _carried(anna) == {("Anders", "Anna")}
    Contact.objects.filter(pk=anna.pk).update(first_name="Annie")  # no service, no save()
    assert _carried(anna) == {("Anders", "Annie")}
    # Emails replaced through the service: the new rows take the names too.
    contact_update(
        contact=bo, actor=personas.owner, fields={}, emails=[{"email": "bo@new.example"}]
    )
    assert _carried(bo) == {("Andersen", "Bo")}
    # A row moved to another contact takes that contact's names.
    ContactEmail.objects.filter(contact=bo).update(contact=anna, is_primary=False)
    assert ("Anders", "Annie") in _carried(anna)
    assert {e.email for e in anna.emails.all()} >= {"bo@new.example"}


@postgres_only
def test_a_row_written_before_its_contact_gets_the_names_at_commit(personas, quokkas):
    """Foreign keys are deferred: an email may be written before its contact in one
    transaction. Its names are NULL until the deferred trigger fills them (at commit; here
    when the constraints are made immediate)."""
    template = quokkas[0]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) + 100 FROM accounts_contact")
            pk = cursor.fetchone()[0]
        ContactEmail.objects.create(contact_id=pk, email="early@quokka.example")
        row = ContactEmail.objects.get(email="early@quokka.example")
        assert _carried(Contact(pk=pk)) == {(None, None)}
        Contact.objects.create(
            pk=pk, owner=template.owner, team=template.team, first_name="Ann", last_name="Early"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        assert _carried(Contact(pk=pk)) == {("Early", "Ann")}
        assert row.pk


def test_results_are_the_selectors(personas, quokkas, monkeypatch):
    """Index first for everyone but the admin (FEW_VISIBLE 1), batches of 3 and 100: the
    two-word queries whose long word is only in an email or a phone find exactly the
    visibility selector's matches."""
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    _assert_selectors(personas, monkeypatch)
    annas = {c.pk for c in quokkas if c.owner == personas.owner and c.first_name != "Zoe"}
    assert _expected(personas.owner, "an quokka") == annas  # the fixture is what it says


def test_results_follow_a_rename_a_merge_and_an_email_change(personas, quokkas, monkeypatch):
    monkeypatch.setattr(selectors, "FEW_VISIBLE", 1)
    monkeypatch.setattr(selectors, "CANDIDATES", 3)
    zoe, anna = quokkas[12], quokkas[10]
    found, _ = _found(personas.owner, "an quokka")
    assert zoe.pk not in found
    contact_update(contact=zoe, actor=personas.owner, fields={"first_name": "Anouk"})
    found, _ = _found(personas.owner, "an quokka")
    assert zoe.pk in found
    _assert_selectors(personas, monkeypatch)
    # Her quokka email replaced by another one: found by that one only.
    contact_update(
        contact=zoe,
        actor=personas.owner,
        fields={},
        emails=[{"email": "anouk@plain.example"}, {"email": "anouk@wallaby.example"}],
    )
    assert zoe.pk not in _found(personas.owner, "an quokka")[0]
    assert zoe.pk in _found(personas.owner, "an wallaby")[0]
    _assert_selectors(personas, monkeypatch, (*QUERIES, "an wallaby"))
    # Merged into Anna: her emails move to Anna's rows, which carry Anna's names.
    record_merge(
        object_type="contact",
        survivor=anna,
        merged=Contact.objects.get(pk=zoe.pk),
        field_choices={},
        actor=personas.owner,
    )
    assert _found(personas.owner, "an wallaby")[0] == [anna.pk]
    assert _found(personas.owner, "zi wallaby")[0] == [anna.pk]  # Anna Zimmer now
    _assert_selectors(personas, monkeypatch, (*QUERIES, "an wallaby", "zi wallaby"))


@postgres_only
def test_the_emails_way_reads_the_names_on_the_rows(quokkas):
    """No lookup of the contact per email row: the way asks the rows' carried names, their
    word start included (the index's second column), and proves it is complete."""
    batch = candidate_batch(Contact.objects.all(), "an quokka", per_source=10)
    emails = batch.sql.split(" UNION ALL ")[1]
    assert "record_first_name" in emails and " ~ " in emails
    assert "accounts_contact AS m" not in batch.sql
    with connection.cursor() as cursor:
        cursor.execute(batch.sql, batch.params)
        rows = cursor.fetchall()
    named = {c.pk for c in quokkas if c.first_name == "Anna" or c.last_name == "Andersen"}
    assert len(named) == 5
    assert {pk for pk, way in rows if way == 1} == named  # of 14 rows holding "quokka"
    assert batch.complete(rows)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_bulk_loader_leaves_every_row_with_its_contacts_names(
    capsys, monkeypatch, demo_snapshot
):
    """demo_data's COPY path, indexes dropped and built again (a large load): the rows are
    written after their contacts, through the same triggers."""
    from django.core.management import call_command

    from rapport.demo.bulk import build as bulk

    demo_snapshot("demo-users")
    monkeypatch.setattr(bulk, "REBUILD_MIN_ROWS", 10)
    call_command("demo_data", "--contacts", "150", "--activities", "0", "--orders", "0")
    capsys.readouterr()
    for table in (ContactEmail._meta.db_table, ContactPhone._meta.db_table):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*), count(*) FILTER (WHERE r.record_last_name IS DISTINCT FROM "  # noqa: S608
                "c.last_name OR r.record_first_name IS DISTINCT FROM c.first_name) "
                f"FROM {table} AS r JOIN accounts_contact AS c ON c.id = r.contact_id"
            )
            rows, wrong = cursor.fetchone()
        assert rows >= 150 and wrong == 0, (table, rows, wrong)

"""Matching imported people to stored ones never merges two people: an email decides, a
shared phone (switchboard, family line) only with no email or agreeing names, and an
ambiguous match is reported on its row with nothing written for it."""

from rapport.accounts.models import Contact, ContactEmail
from rapport.accounts.services import contact_create
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.models import Lead
from rapport.leads.services import lead_create

SWITCHBOARD = "+49 30 901820"
HEADER = ["First name", "Last name", "Email", "Phone"]


def _person(personas, first, last, email, phone=SWITCHBOARD):
    return contact_create(
        actor=personas.owner,
        fields={"first_name": first, "last_name": last},
        emails=[{"email": email}] if email else [],
        phones=[{"number": phone}] if phone else [],
    )


def _snapshot():
    return sorted(
        (c.pk, c.first_name, c.last_name, c.email, c.phone, c.version)
        for c in Contact.objects.all()
    ) + sorted(ContactEmail.objects.values_list("contact_id", "email", "is_primary"))


def test_a_new_email_on_a_shared_switchboard_is_a_new_person(personas, upload, run):
    ann = _person(personas, "Ann", "Lee", "ann@acme.de")
    before = _snapshot()
    data = csv_bytes([HEADER, ["Bob", "Ray", "bob@acme.de", SWITCHBOARD]])
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated, job.failed) == (1, 0, 0)
    assert [s for s in _snapshot() if s[0] == ann.pk or s[:1] == (ann.pk,)] == [
        s for s in before if s[0] == ann.pk
    ]
    bob = Contact.objects.get(email="bob@acme.de")
    assert (bob.last_name, bob.phone) == ("Ray", "+4930901820")
    assert list(ann.emails.values_list("email", flat=True)) == ["ann@acme.de"]


def test_reimporting_people_with_new_emails_and_no_names_updates_nobody(personas, upload, run):
    people = [
        _person(personas, f"P{i}", f"Person{i}", f"p{i}@old.org", f"+1 415 555 01{i:02d}")
        for i in range(5)
    ]
    before = _snapshot()
    data = csv_bytes(
        [["Email", "Phone"]] + [[f"p{i}@new.org", f"+1 415 555 01{i:02d}"] for i in range(5)]
    )
    job = run(upload(personas.owner, data))
    assert job.updated == 0
    assert job.failed == 5  # no last name to create a new person with
    assert _snapshot() == before
    assert len(people) == 5


def test_a_new_email_with_agreeing_names_updates_that_person(personas, upload, run):
    ann = _person(personas, "Ann", "Lee", "ann@acme.de", "+1 415 555 0100")
    data = csv_bytes([HEADER, ["ann", " LEE ", "ann@home.org", "(415) 555-0100"]])
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated) == (0, 1)
    ann.refresh_from_db()
    assert ann.email == "ann@home.org"
    assert set(ann.emails.values_list("email", flat=True)) == {"ann@acme.de", "ann@home.org"}


def test_a_family_line_matches_the_one_whose_name_the_row_gives(personas, upload, run):
    mum = _person(personas, "Eva", "Berg", "", "+1 415 555 0177")
    son = _person(personas, "Tom", "Berg", "", "+1 415 555 0177")
    data = csv_bytes(
        [["First name", "Last name", "Phone", "City"], ["Tom", "Berg", "4155550177", "Oslo"]]
    )
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated, job.failed) == (0, 1, 0)
    son.refresh_from_db()
    mum.refresh_from_db()
    assert (son.city, mum.city, mum.version) == ("Oslo", "", 1)
    # Someone else on that line is a new person.
    data = csv_bytes(
        [["First name", "Last name", "Phone", "City"], ["Lis", "Berg", "4155550177", "Bergen"]]
    )
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated) == (1, 0)


def test_a_phone_shared_by_many_without_email_or_name_is_reported_ambiguous(personas, upload, run):
    for i in range(3):
        _person(personas, f"P{i}", "Staff", f"s{i}@acme.de")
    before = _snapshot()
    data = csv_bytes([["Phone", "City"], [SWITCHBOARD, "Berlin"]])
    job = run(upload(personas.owner, data, dry_run=True))
    assert (job.updated, job.failed) == (0, 1)
    error = job.row_errors.get()
    assert (error.code, error.field) == ("ambiguous_match", "phone")
    assert "3 contacts have the phone +4930901820" in error.message
    assert error.column == "Phone"
    job = run(upload(personas.owner, data))
    assert (job.updated, job.failed, job.row_errors.get().code) == (0, 1, "ambiguous_match")
    assert _snapshot() == before


def test_one_email_shared_by_two_people_is_told_apart_by_names_or_reported(personas, upload, run):
    info_a = _person(personas, "Ann", "Lee", "info@acme.de", "")
    _person(personas, "Bob", "Ray", "info@acme.de", "")
    data = csv_bytes(
        [["First name", "Last name", "Email", "City"], ["Ann", "Lee", "info@acme.de", "Rome"]]
    )
    job = run(upload(personas.owner, data))
    assert job.updated == 1
    info_a.refresh_from_db()
    assert info_a.city == "Rome"
    before = _snapshot()
    data = csv_bytes([["Email", "City"], ["INFO@acme.de", "Paris"]])
    job = run(upload(personas.owner, data))
    assert (job.updated, job.row_errors.get().code) == (0, "ambiguous_match")
    assert _snapshot() == before


def test_a_messy_file_of_colleagues_on_one_switchboard_makes_one_contact_each(
    personas, upload, run
):
    boss = _person(personas, "Ida", "Kant", "ida@acme.de")
    data = csv_bytes(
        [HEADER]
        + [[f"F{i}", f"Worker{i}", f"w{i}@acme.de", "+49 (30) 901820"] for i in range(6)]
        + [["Ida", "Kant", "ida.kant@acme.de", SWITCHBOARD]]
    )
    dry = run(upload(personas.owner, data, dry_run=True))
    job = run(upload(personas.owner, data))
    assert (job.created, job.updated, job.failed) == (6, 1, 0)
    assert (dry.created, dry.updated, dry.failed) == (6, 1, 0)
    assert Contact.objects.count() == 7
    for contact in Contact.objects.exclude(pk=boss.pk):
        assert list(contact.emails.values_list("email", flat=True)) == [
            f"w{contact.last_name[6:]}@acme.de"
        ]
    boss.refresh_from_db()
    assert boss.email == "ida.kant@acme.de"


def test_leads_on_a_shared_phone_are_not_merged(personas, upload, run):
    lead = lead_create(
        actor=personas.owner,
        fields={
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@acme.de",
            "phone": "+1 415 555 0100",
            "company": "Acme",
        },
    )
    data = csv_bytes(
        [HEADER + ["Company"], ["Bob", "Ray", "bob@acme.de", "+1 415 555 0100", "Acme"]]
    )
    job = run(upload(personas.owner, data, object_type="leads"))
    assert (job.created, job.updated) == (1, 0)
    lead.refresh_from_db()
    assert (lead.email, lead.last_name, lead.version) == ("ann@acme.de", "Lee", 1)
    assert Lead.objects.count() == 2

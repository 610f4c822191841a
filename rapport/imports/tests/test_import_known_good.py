"""A messy contacts file gives exactly the rows, errors and matches the import has always
given (recorded from the import before the write path was rebuilt for speed; since then one
change: an email that differs only in case from an earlier row's matches that row's record,
as it would in a later run): duplicates inside the file, bad cells, matches by email and by phone against stored contacts, an
ambiguous phone, a record the importer cannot change and a blank row; then the same file
again (every row matches) and a dry run of it. The new rows are found by search straight
after the import."""

from collections import Counter

import pytest

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import contact_create
from rapport.imports.models import ImportRowError
from rapport.imports.tests.conftest import csv_bytes
from rapport.search.matching import search_filter
from rapport.segments.models import ContactLifecycle
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

HEADER = ["First name", "Last name", "Email", "Phone", "Company", "Country"]
FILE = [
    HEADER,
    ["Dan", "Cole", "dan@new.org", "+49 30 1111111", "Acme GmbH", "DE"],  # 2 created
    ["Eva", "Moss", "EVA@new.org", "030 2222222", "Acme GmbH", "Germany"],  # 3 created
    ["Dan", "Cole", "dan@new.org", "+49 30 3333333", "", "DE"],  # 4 row 2 again, new phone
    ["Ann", "Lee", "ANN@acme.de", "", "Beta Ltd", ""],  # 5 stored Ann by email
    ["", "Lee", "", "+49 30 901820", "", ""],  # 6 Ann by phone and last name
    ["Cy", "Day", "", "+1 617 555 0199", "", "US"],  # 7 two stored Cy Days: ambiguous
    ["Fay", "Nox", "not-an-email", "", "", ""],  # 8 bad email
    ["Gus", "", "gus@new.org", "", "", ""],  # 9 no last name
    ["Hal", "Ives", "hal@new.org", "12", "", "DE"],  # 10 bad phone: created without it
    ["Ida", "Jay", "ida@new.org", "+1 617 555 0199", "", ""],  # 11 the Day line, a new person
    ["", "", "", "", "", ""],  # 12 blank: skipped silently
    ["Eva", "Moss", "eva@new.org", "", "Acme GmbH", ""],  # 13 row 3 in lower case: matches it
    ["Zoe", "Zed", "zoe@other.org", "", "", ""],  # 14 an outsider's contact
]


@pytest.fixture
def stored(personas):
    def person(actor, first, last, email, phone):
        return contact_create(
            actor=actor,
            fields={"first_name": first, "last_name": last},
            emails=[{"email": email}] if email else [],
            phones=[{"number": phone}] if phone else [],
        )

    return {
        "ann": person(personas.owner, "Ann", "Lee", "ann@acme.de", "+49 30 901820"),
        "cy1": person(personas.owner, "Cy", "Day", "", "+1 617 555 0199"),
        "cy2": person(personas.owner, "Cy", "Day", "", "+1 617 555 0199"),
        "zoe": person(personas.outsider, "Zoe", "Zed", "zoe@other.org", ""),
    }


def _errors(job):
    return sorted(
        ImportRowError.objects.filter(job=job).values_list("row_number", "level", "field", "code")
    )


def _contacts():
    out = []
    for c in Contact.objects.select_related("account").prefetch_related("emails", "phones"):
        out.append(
            (
                c.first_name,
                c.last_name,
                c.email,
                c.phone,
                c.account.name if c.account else "",
                sorted((e.email, e.is_primary) for e in c.emails.all()),
                sorted((p.number, p.is_primary) for p in c.phones.all()),
                c.version,
            )
        )
    return sorted(out)


EXPECTED_ERRORS = [
    (7, "error", "phone", "ambiguous_match"),
    (8, "error", "email", "invalid_email"),
    (9, "error", "last_name", "required"),
    (10, "warning", "phone", "invalid_phone"),
    (14, "error", "", "not_editable"),
]

EXPECTED_CONTACTS = [
    ("Ann", "Lee", "ann@acme.de", "+4930901820", "Beta Ltd", [("ann@acme.de", True)], [("+4930901820", True)], 2),
    ("Cy", "Day", "", "+16175550199", "", [], [("+16175550199", True)], 1),
    ("Cy", "Day", "", "+16175550199", "", [], [("+16175550199", True)], 1),
    ("Dan", "Cole", "dan@new.org", "+49303333333", "Acme GmbH", [("dan@new.org", True)], [("+49301111111", False), ("+49303333333", True)], 2),
    ("Eva", "Moss", "EVA@new.org", "+49302222222", "Acme GmbH", [("EVA@new.org", True)], [("+49302222222", True)], 1),
    ("Hal", "Ives", "hal@new.org", "", "", [("hal@new.org", True)], [], 1),
    ("Ida", "Jay", "ida@new.org", "+16175550199", "", [("ida@new.org", True)], [("+16175550199", True)], 1),
    ("Zoe", "Zed", "zoe@other.org", "", "", [("zoe@other.org", True)], [], 1),
]  # fmt: skip


def test_a_messy_file_gives_the_known_rows_errors_and_matches(personas, stored, upload, run):
    job = run(upload(personas.owner, csv_bytes(FILE)))
    assert job.status == "done", job.error
    assert (job.created, job.updated, job.unchanged, job.skipped, job.failed) == (4, 2, 2, 0, 4)
    assert job.extra == {"accounts_created": 2, "rows_with_warnings": 1}
    assert _errors(job) == EXPECTED_ERRORS
    assert ImportRowError.objects.get(job=job, row_number=7).message == (
        "Ambiguous: 2 contacts have the phone +16175550199 and nothing in the row tells which "
        "one it is (add an email or the names); the row was not imported"
    )
    assert ImportRowError.objects.get(job=job, row_number=10).message == (
        "A local number without its area code: add the area code — imported without the phone '12'"
    )
    assert _contacts() == EXPECTED_CONTACTS
    # One created event per new contact and account, one updated event per change.
    events = Counter(
        (e.kind, "contact" if e.contact_id else "account")
        for e in TimelineEvent.objects.filter(payload__import=job.pk)
    )
    assert events == {
        ("created", "contact"): 4,
        ("created", "account"): 2,
        ("updated", "contact"): 2,
    }
    assert sorted(Account.objects.values_list("name", flat=True)) == ["Acme GmbH", "Beta Ltd"]
    # Every contact has its lifecycle row, the new ones as any created contact.
    assert sorted(ContactLifecycle.objects.values_list("contact__last_name", "stage")) == [
        (name, "prospect") for name in ["Cole", "Day", "Day", "Ives", "Jay", "Lee", "Moss", "Zed"]
    ]
    # Searchable straight away: by name, by email, by phone digits.
    found = search_filter(Contact.objects.all(), "Moss")
    assert sorted(c.email for c in found) == ["EVA@new.org"]
    assert [c.last_name for c in search_filter(Contact.objects.all(), "ida@new")] == ["Jay"]
    assert [c.last_name for c in search_filter(Contact.objects.all(), "3333333")] == ["Cole"]

    # The same file again: every readable row matches what the first run wrote or found.
    again = run(upload(personas.owner, csv_bytes(FILE)))
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 8, 4)
    assert _errors(again) == EXPECTED_ERRORS
    assert _contacts() == EXPECTED_CONTACTS

    # A dry run predicts the rerun's counts and errors and writes nothing.
    dry = run(upload(personas.owner, csv_bytes(FILE)), dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged, dry.failed) == (0, 0, 8, 4)
    assert _errors(dry) == EXPECTED_ERRORS
    assert _contacts() == EXPECTED_CONTACTS

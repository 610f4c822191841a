"""The consent column of the contact import: ledger entries with source "import" (opt-ins
to double opt-in purposes stay pending and send the confirmation), bad values fail the row."""

import pytest

from rapport.accounts.models import Contact
from rapport.consent import selectors
from rapport.consent.models import ConsentPurpose, ConsentRecord
from rapport.imports.tests.conftest import csv_bytes

HEADER = ["First name", "Last name", "Email", "Consent"]


@pytest.fixture
def purposes(db):
    news = ConsentPurpose.objects.create(slug="newsletter", name="Newsletter", policy_text="N")
    offers = ConsentPurpose.objects.create(
        slug="offers", name="Offers", policy_text="O", requires_double_opt_in=False
    )
    return news, offers


def test_consent_column_writes_ledger_entries_and_fails_bad_rows(personas, upload, run, purposes):
    news, offers = purposes
    data = csv_bytes(
        [
            HEADER,
            ["Ann", "Lee", "ann@example.org", "newsletter:in; offers:yes"],
            ["Bob", "Ray", "bob@example.org", "Offers=out"],
            ["Cy", "Dee", "cy@example.org", "newsletter:maybe"],
            ["Di", "Fox", "di@example.org", "lottery:in"],
        ]
    )
    job = run(upload(personas.owner, data))
    assert job.mapping["Consent"] == "consent"
    assert (job.created, job.failed) == (2, 2)
    codes = {(e.row_number, e.column, e.code) for e in job.row_errors.all()}
    assert codes == {(4, "Consent", "invalid_consent"), (5, "Consent", "unknown_purpose")}
    ann = Contact.objects.get(email="ann@example.org")
    bob = Contact.objects.get(email="bob@example.org")
    assert selectors.current_status(ann, purpose=news, channel="email") == "pending"
    assert selectors.current_status(ann, purpose=offers, channel="email") == "opted_in"
    assert selectors.current_status(bob, purpose=offers, channel="email") == "opted_out"
    assert set(ConsentRecord.objects.values_list("source", flat=True)) == {"import"}
    assert ConsentRecord.objects.filter(contact=ann).count() == 2

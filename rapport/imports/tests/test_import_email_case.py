"""Match keys compare the same way within one file as against the database: an email that
differs only in case (email-validator keeps the local part's case) finds the record an
earlier row of the file wrote or matched, exactly as it would in a later run — one record,
never two, and a rerun of the file creates nothing and reports nothing ambiguous. The same
for leads, for the customers an order file creates, and for account domains written
differently (website or domain, "www.", case)."""

import pytest

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.orders.models import Order

pytestmark = pytest.mark.django_db

HEADER = ["First name", "Last name", "Email", "Phone"]
MIXED = [
    HEADER,
    ["Eva", "Moss", "EVA@new.org", "+49 30 2222222"],  # 2 created
    ["Eva", "Moss", "eva@new.org", "+49 30 4444444"],  # 3 matches row 2, adds a phone
    ["Eva", "Moss", "Eva@New.org", ""],  # 4 matches row 2 again: nothing new
]


def _counts(job):
    return (job.created, job.updated, job.unchanged, job.failed)


def _errors(job):
    return sorted(job.row_errors.values_list("row_number", "code"))


def _people():
    return sorted(
        (
            c.email,
            sorted(e.email for e in c.emails.all()),
            sorted(p.number for p in c.phones.all()),
        )
        for c in Contact.objects.prefetch_related("emails", "phones")
    )


def test_emails_differing_in_case_within_a_file_are_one_contact(personas, upload, run):
    # The dry run predicts it before anything is written: one create, then matches.
    dry = run(upload(personas.owner, csv_bytes(MIXED)), dry_run=True)
    assert (_counts(dry), _errors(dry)) == ((1, 1, 1, 0), [])
    assert not Contact.objects.exists()

    job = run(upload(personas.owner, csv_bytes(MIXED)))
    assert (_counts(job), _errors(job)) == ((1, 1, 1, 0), [])
    assert _people() == [("EVA@new.org", ["EVA@new.org"], ["+49302222222", "+49304444444"])]

    # The same file again: every row matches the one contact.
    again = run(upload(personas.owner, csv_bytes(MIXED)))
    assert (_counts(again), _errors(again)) == ((0, 0, 3, 0), [])
    again_dry = run(upload(personas.owner, csv_bytes(MIXED)), dry_run=True)
    assert (_counts(again_dry), _errors(again_dry)) == ((0, 0, 3, 0), [])
    assert Contact.objects.count() == 1


def test_the_second_row_matches_as_it_would_in_a_later_run(personas, upload, run):
    """Row 3 imported in the same file as row 2, or in a run after it: the same outcome."""
    together = run(upload(personas.owner, csv_bytes(MIXED[:3])))
    assert _counts(together) == (1, 1, 0, 0)
    in_one_file = _people()
    Contact.objects.all().delete()

    first = run(upload(personas.owner, csv_bytes(MIXED[:2])))
    later = run(upload(personas.owner, csv_bytes([HEADER, MIXED[2]])))
    assert (_counts(first), _counts(later)) == ((1, 0, 0, 0), (0, 1, 0, 0))
    assert _people() == in_one_file


def test_a_stored_address_in_another_case_is_matched_by_every_row(personas, upload, run):
    stored = contact_create(
        actor=personas.owner,
        fields={"first_name": "Bob", "last_name": "Ray"},
        emails=[{"email": "Bob.Ray@acme.io"}],
    )
    data = csv_bytes(
        [
            HEADER,
            ["Bob", "Ray", "BOB.RAY@acme.io", "+49 30 5555555"],
            ["Bob", "Ray", "bob.ray@ACME.io", ""],
        ]
    )
    job = run(upload(personas.owner, data))
    assert (_counts(job), _errors(job)) == ((0, 1, 1, 0), [])
    assert _people() == [("Bob.Ray@acme.io", ["Bob.Ray@acme.io"], ["+49305555555"])]
    stored.refresh_from_db()
    assert stored.version == 2
    again = run(upload(personas.owner, data))
    assert (_counts(again), _errors(again)) == ((0, 0, 2, 0), [])


def test_two_stored_contacts_with_one_address_in_two_cases_are_told_apart_by_name(
    personas, upload, run
):
    """Against the database, any case matches: two records with the address are ambiguous
    unless the names tell them apart."""
    for first, email in (("Ann", "ann@x.org"), ("Cy", "ANN@x.org")):
        contact_create(
            actor=personas.owner,
            fields={"first_name": first, "last_name": "Lee"},
            emails=[{"email": email}],
        )
    data = csv_bytes(
        [HEADER, ["Cy", "Lee", "Ann@x.org", "+49 30 6666666"], ["", "Lee", "ann@X.org", ""]]
    )
    job = run(upload(personas.owner, data))
    assert (_counts(job), _errors(job)) == ((0, 1, 0, 1), [(3, "ambiguous_match")])
    cy = Contact.objects.get(first_name="Cy")
    assert cy.phone == "+49306666666"


def test_leads_differing_in_email_case_within_a_file_are_one_lead(personas, upload, run):
    """A lead's email is one of its fields: a row naming it in another case matches the lead
    and writes its spelling, as a later run would."""
    lead_create(actor=personas.owner, fields={"last_name": "Old", "email": "Old.Lead@x.org"})
    data = csv_bytes(
        [
            ["Name", "Email", "Company"],
            ["Ann Lee", "ANN@new.org", "Acme"],
            ["Ann Lee", "ann@new.org", "Acme"],
            ["Ola Old", "old.lead@X.org", ""],
        ]
    )
    job = run(upload(personas.owner, data, object_type="leads"))
    assert (_counts(job), _errors(job)) == ((1, 2, 0, 0), [])
    assert sorted(Lead.objects.values_list("first_name", "email", "company")) == [
        ("Ann", "ann@new.org", "Acme"),
        ("Ola", "old.lead@x.org", ""),
    ]
    again = run(upload(personas.owner, data, object_type="leads"))
    assert (again.created, again.failed, _errors(again)) == (0, 0, [])
    assert Lead.objects.count() == 2


def test_an_order_file_creates_one_customer_per_address_in_any_case(personas, upload, run):
    contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "Ann@x.org"}]
    )
    header = ["Transaction id", "Date", "Customer email", "Customer name", "Company", "Amount"]
    rows = [["T-1", "2025-03-01", "ann@X.org", "", "", "5"]]
    # More orders than a batch of the services' path holds: later batches look the new
    # customer up in the database.
    rows += [[f"N-{i}", "2025-03-02", "NEW@y.org", "Ned New", "", "1"] for i in range(199)]
    rows += [[f"M-{i}", "2025-03-03", "new@y.org", "", "", "1"] for i in range(2)]
    data = csv_bytes([header, *rows])
    job = run(upload(personas.owner, data, object_type="orders", create_customers=True))
    assert (job.created, job.failed, job.extra.get("customers_created")) == (202, 0, 1)
    assert sorted(Contact.objects.values_list("email", flat=True)) == ["Ann@x.org", "NEW@y.org"]
    assert Order.objects.get(external_id="T-1").contact.email == "Ann@x.org"
    ned = Contact.objects.get(email="NEW@y.org")
    assert Order.objects.filter(contact=ned).count() == 201


def test_account_domains_written_differently_within_a_file_are_one_account(personas, upload, run):
    data = csv_bytes(
        [
            ["Name", "Website", "Domain", "Industry"],
            ["Acme", "https://www.Acme.com/about", "", "Retail"],
            ["Acme Corp", "", "ACME.com", "Media"],
            ["Acme Inc", "acme.com", "", ""],
        ]
    )
    job = run(upload(personas.owner, data, object_type="accounts"))
    assert (_counts(job), _errors(job)) == ((1, 2, 0, 0), [])
    assert list(Account.objects.values_list("name", "domain", "industry")) == [
        ("Acme Inc", "acme.com", "Media")
    ]
    again = run(upload(personas.owner, data, object_type="accounts"))
    assert (again.created, again.failed, Account.objects.count()) == (0, 0, 1)


def test_an_account_domain_matches_a_stored_account_whatever_the_spelling(personas, upload, run):
    acme = account_create(actor=personas.owner, fields={"name": "Acme", "domain": "acme.com"})
    data = csv_bytes([["Name", "Domain"], ["Acme GmbH", "WWW.ACME.COM"]])
    job = run(upload(personas.owner, data, object_type="accounts"))
    assert _counts(job) == (0, 1, 0, 0)
    acme.refresh_from_db()
    assert acme.name == "Acme GmbH"


def test_an_asset_file_finds_its_contact_by_email_in_any_case(personas, upload, run):
    from decimal import Decimal

    from rapport.assets.models import Asset
    from rapport.sales.models import Product

    Product.objects.create(sku="PRN-1", name="Printer", unit_price=Decimal("100"), is_tracked=True)
    ann = contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "Ann@x.org"}]
    )
    data = csv_bytes(
        [
            ["Serial number", "SKU", "Email"],
            ["SN-1", "PRN-1", "ANN@x.org"],
            ["SN-2", "PRN-1", "ann@X.ORG"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="assets"))
    assert (job.created, job.failed) == (2, 0)
    assert set(Asset.objects.values_list("contact_id", flat=True)) == {ann.pk}


@pytest.mark.parametrize("object_type", ["orders", "assets"])
def test_a_deleted_contact_never_takes_a_row_by_its_email(personas, upload, run, object_type):
    """The oldest contact holding an address wins, among those not deleted: an order or an
    asset is never attached to a contact in the trash."""
    from decimal import Decimal

    from rapport.accounts.services import contact_delete
    from rapport.assets.models import Asset
    from rapport.sales.models import Product

    Product.objects.create(sku="PRN-1", name="Printer", unit_price=Decimal("100"), is_tracked=True)
    gone = contact_create(
        actor=personas.owner, fields={"last_name": "Old"}, emails=[{"email": "ann@x.org"}]
    )
    contact_delete(contact=gone, actor=personas.owner)
    if object_type == "orders":
        data = csv_bytes(
            [
                ["Transaction id", "Date", "Customer email", "Amount"],
                ["T-1", "2025-03-01", "Ann@x.org", "5"],
            ]
        )
    else:
        data = csv_bytes([["Serial number", "SKU", "Email"], ["SN-1", "PRN-1", "Ann@x.org"]])
    job = run(upload(personas.owner, data, object_type=object_type))
    assert (job.created, job.failed) == (0, 1)
    assert _errors(job) == [(2, "invalid_contact")]
    assert not Order.objects.exists() and not Asset.objects.exists()
    # A live contact with the address, newer than the deleted one, takes the row.
    ann = contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "ANN@x.org"}]
    )
    job = run(upload(personas.owner, data, object_type=object_type))
    assert (job.created, job.failed) == (1, 0)
    model = Order if object_type == "orders" else Asset
    assert model.objects.get().contact_id == ann.pk

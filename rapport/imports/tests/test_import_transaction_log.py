"""Orders from a transaction log: an amount/total column is the line total, and with the
`create_customers` option the customers the log names are created in the same import."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.imports.models import ImportJob
from rapport.imports.services.mapping import guess_mapping
from rapport.imports.tests.conftest import csv_bytes
from rapport.orders.models import Order

LOG = ["Transaction id", "Date", "Customer email", "Customer name", "Company", "Amount"]


def _log(*rows):
    return csv_bytes([LOG, *rows])


def test_amount_and_total_columns_are_guessed_as_the_line_total(db):
    mapping = guess_mapping("orders", ["Order id", "Date", "Email", "Amount"])
    assert mapping["Amount"] == "line_total"
    assert guess_mapping("orders", ["Order", "Date", "Email", "Total"])["Total"] == "line_total"


def test_a_log_with_amounts_imports_one_line_per_row_at_that_amount(personas, upload, run):
    contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "ann@x.org"}]
    )
    data = _log(
        ["T-1", "2025-03-01", "ann@x.org", "", "", "19.90"],
        ["T-2", "2025-03-02", "ANN@x.org", "", "", "5"],
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.created, job.failed) == (2, 0)
    t1 = Order.objects.get(external_id="T-1")
    line = t1.lines.get()
    assert (line.quantity, line.unit_price, t1.total) == (1, Decimal("19.90"), Decimal("19.90"))
    assert Order.objects.get(external_id="T-2").contact == t1.contact


def test_a_total_with_a_quantity_gives_the_unit_price_or_one_unit_with_a_warning(
    personas, upload, run
):
    contact_create(
        actor=personas.owner, fields={"last_name": "Lee"}, emails=[{"email": "ann@x.org"}]
    )
    data = csv_bytes(
        [
            ["Order", "Date", "Email", "Qty", "Total"],
            ["A", "2025-03-01", "ann@x.org", "3", "30.00"],
            ["B", "2025-03-01", "ann@x.org", "3", "10.00"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.created, job.failed, job.extra) == (2, 0, {"rows_with_warnings": 1})
    a = Order.objects.get(external_id="A").lines.get()
    b = Order.objects.get(external_id="B").lines.get()
    assert (a.quantity, a.unit_price) == (3, Decimal("10.00"))
    assert (b.quantity, b.unit_price, b.description) == (1, Decimal("10.00"), "(× 3)")
    warning = job.row_errors.get()
    assert (warning.row_number, warning.level, warning.code) == (
        3,
        "warning",
        "quantity_not_divisible",
    )


def test_without_the_option_unknown_customers_are_refused_naming_it(personas, upload, run):
    job = run(
        upload(
            personas.owner,
            _log(["T-1", "2025-03-01", "new@x.org", "", "", "9"]),
            object_type="orders",
        )
    )
    error = job.row_errors.get()
    assert (job.failed, error.code) == (1, "invalid_contact")
    assert "create the customers" in error.message
    assert not Contact.objects.exists()


def test_the_option_creates_customers_and_their_accounts_once_dry_run_alike(personas, upload, run):
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    data = _log(
        ["T-1", "2025-03-01", "eva@acme.de", "Eva Berg", "Acme", "10"],
        ["T-2", "2025-03-02", "eva@acme.de", "Eva Berg", "Acme", "20"],
        ["T-3", "2025-03-02", "tom@beta.io", "Tom Moe", "Beta", "30"],
        ["T-4", "2025-03-03", "solo@mail.org", "", "", "40"],
        ["T-5", "2025-03-03", "tom@beta.io", "", "Beta", "50"],
    )
    dry = run(
        upload(personas.owner, data, object_type="orders", create_customers=True, dry_run=True)
    )
    assert not Contact.objects.exists() and Account.objects.count() == 1
    job = run(upload(personas.owner, data, object_type="orders", create_customers=True))
    report = (job.created, job.failed, job.extra)
    assert report == (5, 0, {"customers_created": 3, "accounts_created": 1})
    assert (dry.created, dry.failed, dry.extra) == report
    eva = Contact.objects.get(email="eva@acme.de")
    assert (eva.first_name, eva.last_name, eva.account, eva.owner) == (
        "Eva",
        "Berg",
        acme,
        personas.owner,
    )
    tom = Contact.objects.get(email="tom@beta.io")
    assert tom.account.name == "Beta"
    assert Contact.objects.get(email="solo@mail.org").last_name == "solo"
    assert Order.objects.filter(contact=tom).count() == 2
    again = run(upload(personas.owner, data, object_type="orders", create_customers=True))
    assert (again.created, again.unchanged, again.extra) == (0, 5, {})
    assert Contact.objects.count() == 3


def test_a_customer_the_importer_cannot_see_is_not_duplicated(personas, upload, run):
    contact_create(
        actor=personas.outsider, fields={"last_name": "Hid"}, emails=[{"email": "hid@x.org"}]
    )
    data = _log(["T-1", "2025-03-01", "hid@x.org", "", "", "9"])
    job = run(upload(personas.owner, data, object_type="orders", create_customers=True))
    assert (job.failed, job.row_errors.get().code) == (1, "invalid_contact")
    assert Contact.objects.count() == 1


def test_the_api_takes_the_option(personas, api_as, run):
    client = api_as(personas.owner)
    data = _log(["T-1", "2025-03-01", "new@x.org", "New Person", "", "9.50"])
    response = client.client.post(
        "/api/imports",
        {
            "object_type": "orders",
            "create_customers": "true",
            "file": SimpleUploadedFile("log.csv", data),
        },
        headers=client.headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["create_customers"] is True
    job = run(ImportJob.objects.get(pk=body["id"]))
    assert job.mapping["Amount"] == "line_total"
    assert (job.created, job.extra) == (1, {"customers_created": 1})
    assert Order.objects.get().contact.last_name == "Person"

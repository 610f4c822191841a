"""Importing the installed base: assets match on the serial number among the assets the
importer may see, are created for a product found by SKU and a visible customer, get the
warranty end from the product's warranty months, report per row, and a dry run reports
exactly what the real run does while storing nothing."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from rapport.accounts.services import account_create, contact_create
from rapport.assets.models import Asset
from rapport.assets.services import asset_create
from rapport.imports.services.mapping import guess_mapping
from rapport.imports.tests.conftest import csv_bytes
from rapport.sales.models import Product
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db
HEADER = ["Serial number", "SKU", "Company", "Email", "Installed", "Location", "Status"]


@pytest.fixture
def world(personas):
    printer = Product.objects.create(
        sku="PRN-1", name="Printer", unit_price=Decimal("100"), is_tracked=True, warranty_months=24
    )
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    jane = contact_create(
        actor=personas.owner,
        fields={"first_name": "Jane", "last_name": "Doe", "account": acme},
        emails=[{"email": "jane@acme.example", "is_primary": True}],
    )
    hidden = account_create(actor=personas.outsider, fields={"name": "Hidden"})
    known = asset_create(
        actor=personas.owner, product=printer, account=acme, serial_number="SN-KNOWN"
    )
    secret = asset_create(
        actor=personas.outsider, product=printer, account=hidden, serial_number="SN-SECRET"
    )
    return printer, acme, jane, hidden, known, secret


def _file():
    return csv_bytes(
        [
            HEADER,
            ["SN-1", "PRN-1", "Acme", "jane@acme.example", "2026-01-15", "Lyon, hall 2", ""],
            ["SN-2", "NOPE", "Acme", "", "", "", ""],
            ["SN-KNOWN", "PRN-1", "", "", "", "Basement", "in_repair"],
            ["SN-H", "PRN-1", "Hidden", "", "", "", ""],
            ["SN-3", "PRN-1", "", "", "", "", ""],
            ["SN-SECRET", "PRN-1", "Acme", "", "", "Stolen?", ""],
        ]
    )


def test_headers_map_to_asset_fields():
    assert guess_mapping("assets", HEADER) == {
        "Serial number": "serial_number",
        "SKU": "product_sku",
        "Company": "account",
        "Email": "contact_email",
        "Installed": "install_date",
        "Location": "location",
        "Status": "status",
    }


def test_import_assets_with_a_per_row_report(personas, upload, run, world):
    printer, acme, jane, hidden, known, secret = world
    job = run(upload(personas.owner, _file(), object_type="assets"))
    assert (job.status, job.created, job.updated, job.failed) == ("done", 2, 1, 3)
    errors = sorted(job.row_errors.values_list("row_number", "field", "code", "column"))
    assert errors == [
        (3, "product_sku", "invalid_product", "SKU"),
        (5, "account", "invalid_account", "Company"),
        (6, "account", "customer_required", "Company"),
    ]
    new = Asset.objects.get(serial_number="SN-1")
    assert (new.account_id, new.contact_id, new.location) == (acme.pk, jane.pk, "Lyon, hall 2")
    assert new.install_date == datetime.date(2026, 1, 15)
    assert new.warranty_end == datetime.date(2028, 1, 15)  # install date + 24 months
    known.refresh_from_db()
    assert (known.location, known.status, known.version) == ("Basement", "in_repair", 2)
    assert TimelineEvent.objects.filter(account=acme, kind=EventKind.ASSET_CHANGED).exists()
    # The other team's asset with that serial number is neither revealed nor changed: the
    # row creates a new asset of the importer's own customer.
    secret.refresh_from_db()
    assert secret.location == "" and secret.account_id == hidden.pk
    mine = Asset.objects.get(serial_number="SN-SECRET", account=acme)
    assert mine.location == "Stolen?"
    assert not Asset.objects.filter(serial_number__in=["SN-2", "SN-H", "SN-3"]).exists()


def test_dry_run_reports_what_the_run_does_and_stores_nothing(personas, upload, run, world):
    before = sorted(Asset.objects.values_list("pk", "version", "location"))
    dry = run(upload(personas.owner, _file(), object_type="assets", dry_run=True))
    assert sorted(Asset.objects.values_list("pk", "version", "location")) == before
    real = run(upload(personas.owner, _file(), object_type="assets"))
    report = lambda j: (  # noqa: E731
        j.created,
        j.updated,
        j.unchanged,
        j.failed,
        sorted(j.row_errors.values_list("row_number", "field", "code")),
    )
    assert report(dry) == report(real)


def test_skip_policy_and_read_only_users(personas, upload, run, world):
    job = run(upload(personas.owner, _file(), object_type="assets", policy="skip"))
    assert job.skipped == 1 and Asset.objects.get(serial_number="SN-KNOWN").location == ""


def test_the_asset_list_offers_the_import(personas, world):
    client = Client()
    client.force_login(personas.owner)
    assert "/imports/new?object_type=asset" in client.get("/assets/").content.decode()
    page = client.get("/imports/new", {"object_type": "asset"})
    assert page.status_code == 200 and b'value="assets" selected' in page.content

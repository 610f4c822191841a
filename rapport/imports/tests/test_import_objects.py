"""Importing accounts, leads, products, opportunities and orders."""

import datetime
from decimal import Decimal

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create, contact_create
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.models import Lead
from rapport.leads.services import lead_create
from rapport.orders.models import Order
from rapport.records.exceptions import PermissionDenied
from rapport.sales.models import Opportunity, Product, StageChange
from rapport.sales.services import opportunity_create, product_create
from rapport.timeline.models import EventKind, TimelineEvent

# ----- accounts -------------------------------------------------------------------------------


def test_accounts_match_on_domain_then_exact_name(personas, upload, run):
    acme = account_create(
        actor=personas.owner, fields={"name": "Acme", "website": "https://acme.com"}
    )
    beta = account_create(actor=personas.owner, fields={"name": "Beta"})
    data = csv_bytes(
        [
            ["Company", "Website", "Industry"],
            ["ACME Corporation", "https://www.acme.com/about", "Retail"],
            ["Beta", "", "Media"],
            ["Gamma", "gamma.io", "Software"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="accounts"))
    assert (job.updated, job.created) == (2, 1)
    acme.refresh_from_db()
    beta.refresh_from_db()
    assert (acme.name, acme.industry, acme.version) == ("ACME Corporation", "Retail", 2)
    assert beta.industry == "Media"
    gamma = Account.objects.get(name="Gamma")
    assert (gamma.domain, gamma.website) == ("gamma.io", "https://gamma.io")
    assert TimelineEvent.objects.filter(account=acme, kind=EventKind.UPDATED).exists()


def test_an_account_parent_is_a_visible_account_by_name(personas, upload, run):
    account_create(actor=personas.owner, fields={"name": "Holding"})
    account_create(actor=personas.outsider, fields={"name": "Hidden"})
    data = csv_bytes([["Name", "Parent account"], ["Sub", "Holding"], ["Other", "Hidden"]])
    job = run(upload(personas.owner, data, object_type="accounts"))
    assert Account.objects.get(name="Sub").parent.name == "Holding"
    error = job.row_errors.get()
    assert (error.row_number, error.code, error.column) == (3, "invalid_parent", "Parent account")


# ----- leads ----------------------------------------------------------------------------------


def test_leads_match_on_email_and_keep_the_status_rules(personas, upload, run):
    lead = lead_create(actor=personas.owner, fields={"last_name": "Lee", "email": "a@x.org"})
    data = csv_bytes(
        [
            ["Name", "Email", "Status", "Disqualified reason"],
            ["Ann Lee", "a@x.org", "qualified", ""],
            ["Bo Ray", "b@x.org", "disqualified", ""],
            ["Cy Kay", "c@x.org", "converted", ""],
        ]
    )
    job = run(upload(personas.owner, data, object_type="leads"))
    lead.refresh_from_db()
    assert (lead.first_name, lead.status, lead.version) == ("Ann", "qualified", 2)
    assert (job.updated, job.created, job.failed) == (1, 0, 2)
    assert {(e.row_number, e.code) for e in job.row_errors.all()} == {
        (3, "required"),
        (4, "invalid_choice"),
    }


def test_a_converted_lead_is_not_changed_by_an_import(personas, upload, run):
    lead = lead_create(actor=personas.owner, fields={"last_name": "Lee", "email": "a@x.org"})
    Lead.objects.filter(pk=lead.pk).update(status="converted")
    data = csv_bytes([["Last name", "Email", "City"], ["Lee", "a@x.org", "Rome"]])
    job = run(upload(personas.owner, data, object_type="leads"))
    assert job.row_errors.get().code == "lead_converted"


# ----- products -------------------------------------------------------------------------------


def test_products_match_on_sku_through_the_catalogue_services(personas, upload, run):
    widget = product_create(
        actor=personas.manager, fields={"sku": "W-1", "name": "Widget", "unit_price": "5"}
    )
    data = csv_bytes(
        [["SKU", "Product name", "Price"], ["W-1", "Widget", "7.50"], ["G-1", "Gadget", "3"]]
    )
    job = run(upload(personas.manager, data, object_type="products"))
    assert (job.updated, job.created) == (1, 1)
    widget.refresh_from_db()
    assert (widget.unit_price, widget.version) == (Decimal("7.50"), 2)
    again = run(upload(personas.manager, data, object_type="products"))
    assert (again.unchanged, again.created) == (2, 0)
    dup = run(upload(personas.manager, data, object_type="products", policy="create"))
    assert dup.failed == 2 and {e.code for e in dup.row_errors.all()} == {"duplicate"}


def test_only_catalogue_managers_import_products(personas, upload):
    with pytest.raises(PermissionDenied):
        upload(personas.owner, csv_bytes([["SKU", "Name"], ["W-1", "W"]]), object_type="products")


def test_a_product_dry_run_calls_the_services_and_rolls_back(personas, upload, run):
    data = csv_bytes([["SKU", "Name", "Currency"], ["W-1", "Widget", "EUR"], ["W-2", "W", "EURX"]])
    job = run(upload(personas.manager, data, object_type="products", dry_run=True))
    assert (job.created, job.failed) == (1, 1)
    assert not Product.objects.exists()


# ----- opportunities --------------------------------------------------------------------------


@pytest.fixture
def acme(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


def test_opportunities_are_created_through_the_service_with_their_stage(
    personas, upload, run, acme
):
    contact_create(
        actor=personas.owner,
        fields={"last_name": "Lee", "account": acme},
        emails=[{"email": "lee@acme.com"}],
    )
    data = csv_bytes(
        [
            ["Deal name", "Company", "Contact email", "Stage", "Amount", "Close date"],
            ["Big deal", "Acme", "lee@acme.com", "Proposal", "1,500.00", "2025-06-30"],
            ["Lost deal", "Nope Inc", "", "Proposal", "10", ""],
        ]
    )
    job = run(upload(personas.owner, data, object_type="opportunities"))
    deal = Opportunity.objects.get()
    assert (deal.account, deal.stage.name, deal.amount, deal.probability) == (
        acme,
        "Proposal",
        Decimal("1500.00"),
        50,
    )
    assert deal.primary_contact.email == "lee@acme.com"
    assert deal.expected_close_date == datetime.date(2025, 6, 30)
    assert StageChange.objects.filter(opportunity=deal).count() == 1
    assert job.row_errors.get().code == "invalid_account"


def test_opportunities_match_on_name_within_the_account(personas, upload, run, acme):
    deal = opportunity_create(actor=personas.owner, fields={"name": "Big deal", "account": acme})
    data = csv_bytes([["Name", "Account", "Stage"], ["Big deal", "Acme", "Negotiation"]])
    job = run(upload(personas.owner, data, object_type="opportunities"))
    assert (job.updated, job.created) == (1, 0)
    deal.refresh_from_db()
    assert deal.stage.name == "Negotiation"
    assert run(upload(personas.owner, data, object_type="opportunities")).unchanged == 1
    outsider = run(upload(personas.outsider, data, object_type="opportunities"))
    assert outsider.failed == 1  # the outsider sees no account named Acme


# ----- orders ---------------------------------------------------------------------------------

ORDER_HEADER = ["Order number", "Order date", "Company", "SKU", "Qty", "Unit price", "Status"]


@pytest.fixture
def widget(db):
    return Product.objects.create(sku="W-1", name="Widget", unit_price=Decimal("9.99"))


def test_consecutive_rows_of_an_order_make_one_order_and_reruns_create_nothing(
    personas, upload, run, acme, widget
):
    data = csv_bytes(
        [
            ORDER_HEADER,
            ["A-1", "2025-03-01 10:00", "Acme", "W-1", "2", "10", "paid"],
            ["A-1", "2025-03-01 10:00", "Acme", "", "1", "5.50", "paid"],
            ["A-2", "2025-03-02", "Acme", "W-1", "1", "10", "shipped"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.status, job.created, job.failed) == ("done", 2, 0)
    order = Order.objects.get(external_id="A-1")
    assert (order.account, order.total, order.lines.count()) == (acme, Decimal("25.50"), 2)
    assert order.lines.first().description == "Widget"
    again = run(upload(personas.owner, data, object_type="orders"))
    assert (again.created, again.unchanged, again.updated) == (0, 2, 0)
    assert Order.objects.count() == 2
    skip = run(upload(personas.owner, data, object_type="orders", policy="skip"))
    assert skip.skipped == 2


def test_an_order_update_replaces_its_status_and_lines(personas, upload, run, acme, widget):
    first = csv_bytes([ORDER_HEADER, ["A-1", "2025-03-01", "Acme", "W-1", "2", "10", "paid"]])
    run(upload(personas.owner, first, object_type="orders"))
    second = csv_bytes([ORDER_HEADER, ["A-1", "2025-03-01", "Acme", "W-1", "3", "10", "refunded"]])
    job = run(upload(personas.owner, second, object_type="orders"))
    assert job.updated == 1
    order = Order.objects.get()
    assert (order.status, order.total) == ("refunded", Decimal("30.00"))


def test_a_bad_line_rejects_its_whole_order(personas, upload, run, acme, widget):
    data = csv_bytes(
        [
            ORDER_HEADER,
            ["A-1", "2025-03-01", "Acme", "W-1", "2", "10", "paid"],
            ["A-1", "2025-03-01", "Acme", "NOPE", "1", "10", "paid"],
            ["A-2", "2025-03-01", "Acme", "W-1", "1", "10", "paid"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.created, job.failed) == (1, 2)
    assert {(e.row_number, e.code) for e in job.row_errors.all()} == {
        (2, "order_refused"),
        (3, "invalid_product"),
    }
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A-2"]


def test_rows_of_an_order_must_be_consecutive(personas, upload, run, acme):
    data = csv_bytes(
        [
            ORDER_HEADER,
            ["A-1", "2025-03-01", "Acme", "", "1", "10", "paid"],
            ["A-2", "2025-03-01", "Acme", "", "1", "10", "paid"],
            ["A-1", "2025-03-01", "Acme", "", "1", "99", "paid"],
        ]
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.created, job.failed) == (2, 1)
    assert job.row_errors.get().code == "order_not_consecutive"
    assert Order.objects.get(external_id="A-1").total == Decimal("10.00")


def test_orders_of_customers_the_importer_cannot_see_are_rejected(personas, upload, run, acme):
    data = csv_bytes([ORDER_HEADER, ["A-1", "2025-03-01", "Acme", "", "1", "10", "paid"]])
    job = run(upload(personas.outsider, data, object_type="orders"))
    assert job.row_errors.get().code == "invalid_account"
    assert not Order.objects.exists()


def test_an_order_dry_run_writes_nothing(personas, upload, run, acme):
    data = csv_bytes([ORDER_HEADER, ["A-1", "2025-03-01", "Acme", "", "1", "10", "paid"]])
    job = run(upload(personas.owner, data, object_type="orders", dry_run=True))
    assert job.created == 1
    assert not Order.objects.exists()
    assert not TimelineEvent.objects.filter(kind=EventKind.ORDER_PLACED).exists()

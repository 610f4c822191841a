"""The order import carries the perfect-order columns (issue 14), and tracked products sold
through it become installed products."""

import datetime
from decimal import Decimal

import pytest

from rapport.accounts.services import account_create
from rapport.assets.models import Asset
from rapport.imports.tests.conftest import csv_bytes
from rapport.orders.models import Order
from rapport.sales.models import Product

HEADER = [
    "Order number",
    "Order date",
    "Company",
    "SKU",
    "Qty",
    "Unit price",
    "Promised date",
    "Delivered date",
    "Documentation complete",
    "Quantity delivered",
    "Quantity damaged",
]


@pytest.fixture
def acme(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


@pytest.fixture
def boiler(db):
    return Product.objects.create(
        sku="B-1", name="Boiler", unit_price=Decimal("900"), is_tracked=True, warranty_months=12
    )


def test_delivery_columns_and_assets(personas, upload, run, acme, boiler):
    data = csv_bytes(
        [
            HEADER,
            [
                "P-1",
                "2025-01-31",
                "Acme",
                "B-1",
                "2",
                "900",
                "2025-02-05",
                "2025-02-04",
                "yes",
                "2",
                "0",
            ],
            [
                "P-2",
                "2025-01-31",
                "Acme",
                "B-1",
                "1",
                "900",
                "2025-02-05",
                "2025-02-09",
                "no",
                "1",
                "1",
            ],
        ]
    )
    job = run(upload(personas.owner, data, object_type="orders"))
    assert (job.status, job.created, job.failed) == ("done", 2, 0)
    first = Order.objects.get(external_id="P-1")
    assert (first.promised_date, first.delivered_date) == (
        datetime.date(2025, 2, 5),
        datetime.date(2025, 2, 4),
    )
    assert first.documentation_complete is True
    line = first.lines.get()
    assert (line.quantity_delivered, line.quantity_damaged) == (Decimal("2"), Decimal("0"))
    second = Order.objects.get(external_id="P-2")
    assert second.documentation_complete is False
    assert second.lines.get().quantity_damaged == Decimal("1")
    assert Asset.objects.filter(product=boiler, account=acme).count() == 3
    assert set(Asset.objects.values_list("warranty_end", flat=True)) == {datetime.date(2026, 1, 31)}

"""Perfect-order KPIs on a hand-computed set of orders, and the delivery fields through the
API and the page."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from rapport.accounts.services import account_create
from rapport.orders.models import Order
from rapport.orders.perfect import p90, perfect_order_metrics
from rapport.orders.services import order_create
from rapport.sales.models import Product

D = datetime.date


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


@pytest.fixture
def products(db):
    return (
        Product.objects.create(sku="A", name="Alpha", unit_price=Decimal("1")),
        Product.objects.create(sku="B", name="Beta", unit_price=Decimal("1")),
    )


def _order(personas, account, *, ordered, promised, delivered, docs=True, channel="web", lines):
    return order_create(
        actor=personas.owner,
        fields={
            "ordered_at": datetime.datetime.combine(ordered, datetime.time(12), datetime.UTC),
            "channel": channel,
            "promised_date": promised,
            "delivered_date": delivered,
            "shipped_date": delivered,
            "documentation_complete": docs,
        },
        lines=lines,
        account=account,
    )


def _line(product, qty, delivered, damaged=0, returned=0):
    return {
        "product_id": product.pk,
        "quantity": Decimal(qty),
        "unit_price": Decimal("10"),
        "quantity_delivered": None if delivered is None else Decimal(delivered),
        "quantity_damaged": Decimal(damaged),
        "quantity_returned": Decimal(returned),
    }


@pytest.fixture
def orders(personas, account, products):
    """Six delivered orders (and one not delivered, one cancelled), computed by hand:

    | # | channel | lead | on time | in full | clean | docs | perfect | OTIF |
    | 1 | web     | 2    | yes     | yes     | yes   | yes  | YES     | yes  |
    | 2 | web     | 5    | no      | yes     | yes   | yes  | no      | no   |
    | 3 | web     | 3    | yes     | no      | yes   | yes  | no      | no   |
    | 4 | store   | 1    | yes     | yes     | no    | yes  | no      | yes  |
    | 5 | store   | 4    | yes     | yes     | yes   | no   | no      | yes  |
    | 6 | store   | 10   | yes     | yes     | yes   | yes  | YES     | yes  |
    """
    a, b = products
    o = D(2025, 3, 1)
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 3),
        delivered=D(2025, 3, 3),
        lines=[_line(a, 2, 2), _line(b, 1, 1)],
    )
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 4),
        delivered=D(2025, 3, 6),
        lines=[_line(a, 1, 1)],
    )
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 5),
        delivered=D(2025, 3, 4),
        lines=[_line(a, 3, 2), _line(b, 1, 1)],
    )
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 5),
        delivered=D(2025, 3, 2),
        channel="store",
        lines=[_line(b, 2, 2, damaged=1)],
    )
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 9),
        delivered=D(2025, 3, 5),
        channel="store",
        docs=False,
        lines=[_line(b, 1, 1)],
    )
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 20),
        delivered=D(2025, 3, 11),
        channel="store",
        lines=[_line(a, 1, 1)],
    )
    # Not counted: not delivered yet; cancelled.
    _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 3),
        delivered=None,
        lines=[_line(a, 1, None)],
    )
    cancelled = _order(
        personas,
        account,
        ordered=o,
        promised=D(2025, 3, 3),
        delivered=D(2025, 3, 3),
        lines=[_line(a, 1, 1)],
    )
    Order.objects.filter(pk=cancelled.pk).update(status="cancelled")


def test_perfect_order_rate_on_a_hand_computed_set(personas, orders):
    metrics = perfect_order_metrics(user=personas.owner)
    overall = metrics["overall"]
    assert overall["orders"] == 6
    assert overall["perfect"] == 2
    assert overall["perfect_rate"] == round(2 / 6, 4)
    assert overall["on_time_rate"] == round(5 / 6, 4)
    assert overall["in_full_rate"] == round(5 / 6, 4)
    assert overall["otif"] == 4
    # Lead times 1, 2, 3, 4, 5, 10: median 3.5; nearest-rank p90 = the 6th value.
    assert overall["lead_time_median_days"] == 3.5
    assert overall["lead_time_p90_days"] == 10.0
    by_channel = {row["channel"]: row for row in metrics["by_channel"]}
    assert (by_channel["web"]["orders"], by_channel["web"]["perfect"]) == (3, 1)
    assert (by_channel["store"]["orders"], by_channel["store"]["perfect"]) == (3, 1)
    assert by_channel["store"]["otif"] == 3
    by_product = {row["label"]: row for row in metrics["by_product"]}
    assert (by_product["Alpha"]["orders"], by_product["Alpha"]["perfect"]) == (4, 2)
    assert (by_product["Beta"]["orders"], by_product["Beta"]["perfect"]) == (4, 1)


def test_range_and_channel_filters(personas, orders):
    only_store = perfect_order_metrics(user=personas.owner, channel="store")
    assert only_store["overall"]["orders"] == 3
    early = perfect_order_metrics(user=personas.owner, start=D(2025, 3, 1), end=D(2025, 3, 4))
    assert early["overall"]["orders"] == 3  # delivered on the 2nd, 3rd and 4th


def test_outsider_measures_only_what_they_see(personas, orders):
    assert perfect_order_metrics(user=personas.outsider)["overall"]["orders"] == 0
    assert perfect_order_metrics(user=personas.outsider)["overall"]["perfect_rate"] is None


def test_p90_nearest_rank():
    assert p90([]) is None
    assert p90([7]) == 7.0
    assert p90(list(range(1, 11))) == 9.0
    assert p90(list(range(1, 12))) == 10.0


def test_api_and_page(api_as, personas, orders):
    response = api_as(personas.owner).get("/api/orders/perfect-order")
    assert response.status_code == 200, response.data
    assert response.data["overall"]["perfect"] == 2
    client = Client()
    client.force_login(personas.owner)
    page = client.get("/analytics/perfect-order/", {"start": "2025-03-01", "end": "2025-03-31"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "33.3" in body and "perfect-data" in body
    bad = client.get("/analytics/perfect-order/", {"start": "2025-04-01", "end": "2025-03-01"})
    assert bad.status_code == 422


def test_delivery_fields_through_the_api(api_as, personas, account, products):
    client = api_as(personas.owner)
    created = client.post(
        "/api/orders",
        {
            "account_id": account.pk,
            "ordered_at": "2025-03-01T10:00:00Z",
            "promised_date": "2025-03-05",
            "lines": [{"product_id": products[0].pk, "quantity": "2", "unit_price": "5"}],
        },
    )
    assert created.status_code == 201, created.data
    assert created.data["promised_date"] == "2025-03-05"
    assert created.data["lines"][0]["quantity_delivered"] is None
    pk = created.data["id"]
    patched = client.patch(
        f"/api/orders/{pk}",
        {
            "delivered_date": "2025-03-04",
            "documentation_complete": True,
            "lines": [
                {
                    "product_id": products[0].pk,
                    "quantity": "2",
                    "unit_price": "5",
                    "quantity_delivered": "2",
                }
            ],
        },
    )
    assert patched.status_code == 200, patched.data
    assert patched.data["delivered_date"] == "2025-03-04"
    assert patched.data["documentation_complete"] is True
    assert Decimal(patched.data["lines"][0]["quantity_delivered"]) == 2
    metrics = client.get("/api/orders/perfect-order").data
    assert metrics["overall"]["perfect"] == 1
    negative = client.patch(
        f"/api/orders/{pk}",
        {
            "lines": [
                {"quantity": "1", "unit_price": "5", "description": "x", "quantity_damaged": "-1"}
            ]
        },
    )
    assert negative.status_code == 422

"""Order fixtures: customers made through the account services, orders through ours."""

import datetime
from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.orders.services import order_create
from rapport.sales.models import Product

ORDERED_AT = datetime.datetime(2025, 3, 1, 10, 0, tzinfo=datetime.UTC)


def line(unit_price="10.50", quantity="2", **extra) -> dict:
    return {"quantity": Decimal(quantity), "unit_price": Decimal(unit_price), **extra}


def order_body(**overrides) -> dict:
    """A JSON body for POST /api/orders (add account_id / contact_id)."""
    body = {
        "ordered_at": ORDERED_AT.isoformat(),
        "channel": "web",
        "lines": [{"description": "Thing", "quantity": "2", "unit_price": "10.50"}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def account(personas):
    """The owner's account (private: owner, manager and admin see it)."""
    return account_create(actor=personas.owner, fields={"name": "Acme", "currency": "USD"})


@pytest.fixture
def contact(personas, account):
    return contact_create(actor=personas.owner, fields={"last_name": "Doe", "account": account})


@pytest.fixture
def outsider_account(personas):
    return account_create(actor=personas.outsider, fields={"name": "Elsewhere"})


@pytest.fixture
def product(db):
    return Product.objects.create(sku="W-1", name="Widget", unit_price=Decimal("9.99"))


@pytest.fixture
def make_order(personas, account):
    """make_order(actor=owner, account=account, lines=[line()], **fields) through the service."""

    def make(actor=None, lines=None, **kwargs):
        kwargs.setdefault("account", account)
        fields = {
            "ordered_at": kwargs.pop("ordered_at", ORDERED_AT),
            "channel": kwargs.pop("channel", "web"),
            "status": kwargs.pop("status", "paid"),
            "external_id": kwargs.pop("external_id", None),
        }
        return order_create(
            actor=actor or personas.owner, fields=fields, lines=lines or [line()], **kwargs
        )

    return make

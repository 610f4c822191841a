"""Fixtures of the Django-side analytics tests (imported by those test modules): a private
warehouse file per test and a small customer base with a known answer.

The known-answer base, as of 2025-06-30 (UTC), today (the observation end is set to today:
the last order is on 2025-06-20):
- Alpha (account, FR): 2025-01-10 web 100 (hardware), 2025-03-15 web 50 (software),
  2025-06-20 phone 150 (hardware), plus a cancelled order of 999 on 2025-05-05;
- Beta (account, DE): two store orders on 2025-02-01, 200 (software) and 40 (services);
- Carol (contact without account): 2024-12-05 web 30 (services).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
import time_machine

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.analytics.models import AnalyticsSettings
from rapport.orders.services import order_create
from rapport.sales.models import Product

TODAY = datetime.datetime(2025, 6, 30, 12, 0, tzinfo=datetime.UTC)


def at(day: str, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def warehouse_file(settings, tmp_path):
    path = tmp_path / "warehouse" / "test.duckdb"
    settings.RAPPORT_WAREHOUSE_PATH = str(path)
    settings.RAPPORT_CURRENCY = "EUR"
    return path


@pytest.fixture
def products(db):
    return {
        "P1": Product.objects.create(sku="P1", name="Server", category="hardware"),
        "P2": Product.objects.create(sku="P2", name="Licence", category="software"),
        "P3": Product.objects.create(sku="P3", name="Support", category="services"),
    }


def buy(actor, customer, day, items, *, channel="web", status="paid"):
    """An order through the service: items = [(product, amount)], quantity 1 each."""
    kwargs = {"account": customer} if isinstance(customer, Account) else {"contact": customer}
    return order_create(
        actor=actor,
        fields={"ordered_at": at(day), "channel": channel, "status": status},
        lines=[
            {"product_id": p.pk, "quantity": Decimal("1"), "unit_price": Decimal(str(amount))}
            for p, amount in items
        ],
        **kwargs,
    )


@dataclass
class KnownBase:
    alpha: Account
    beta: Account
    carol: Contact


@pytest.fixture
def known_base(personas, products) -> KnownBase:
    AnalyticsSettings.objects.update_or_create(pk=1, defaults={"observation_end": "today"})
    owner = personas.owner
    with time_machine.travel(datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC), tick=False):
        alpha = account_create(actor=owner, fields={"name": "Alpha", "country": "FR"})
        beta = account_create(actor=owner, fields={"name": "Beta", "country": "DE"})
        carol = contact_create(actor=owner, fields={"first_name": "Carol", "last_name": "Buyer"})
    with time_machine.travel(datetime.datetime(2025, 6, 29, tzinfo=datetime.UTC), tick=False):
        p1, p2, p3 = products["P1"], products["P2"], products["P3"]
        buy(owner, alpha, "2025-01-10", [(p1, 100)])
        buy(owner, alpha, "2025-03-15", [(p2, 50)])
        buy(owner, alpha, "2025-06-20", [(p1, 150)], channel="phone")
        buy(owner, alpha, "2025-05-05", [(p1, 999)], status="cancelled")
        buy(owner, beta, "2025-02-01", [(p2, 200)], channel="store")
        buy(owner, beta, "2025-02-01", [(p3, 40)], channel="store")
        buy(owner, carol, "2024-12-05", [(p3, 30)])
    return KnownBase(alpha=alpha, beta=beta, carol=carol)


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False) as traveller:
        yield traveller

"""A small world of customers made through the services: accounts, contacts, orders,
activities, scores; `ids(tree)` is the set of contact ids a filter matches."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from rapport.accounts.models import Contact
from rapport.accounts.services import account_create, contact_create
from rapport.orders.services import order_create
from rapport.sales.models import Product
from rapport.segments.filters import compile_filter, validate

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)


def ids(tree, now=NOW) -> set[int]:
    tree = validate(tree)
    return set(Contact.objects.filter(compile_filter(tree, now=now)).values_list("pk", flat=True))


def cond(field, operator, value=""):
    return {"op": "and", "items": [{"field": field, "operator": operator, "value": value}]}


def place(actor, *, contact=None, account=None, days_ago=1, total="10", product=None, now=NOW):
    line = {"quantity": 1, "unit_price": Decimal(total), "description": "thing"}
    if product is not None:
        line["product_id"] = product.pk
    return order_create(
        actor=actor,
        fields={"ordered_at": now - datetime.timedelta(days=days_ago), "status": "paid"},
        lines=[line],
        account=account,
        contact=contact,
    )


@pytest.fixture
def world(personas):
    a = personas.owner
    acme = account_create(actor=a, fields={"name": "Acme", "industry": "Retail"}, tags=["vip"])
    globex = account_create(actor=a, fields={"name": "Globex", "industry": "Energy"})
    ann = contact_create(
        actor=a,
        fields={"first_name": "Ann", "last_name": "Archer", "city": "Paris", "account": acme},
        emails=[{"email": "ann@acme.example.com"}],
        tags=["newsletter"],
    )
    bob = contact_create(
        actor=a,
        fields={"first_name": "Bob", "last_name": "Baker", "city": "Lyon", "account": globex},
        emails=[{"email": "bob@globex.example.com"}],
    )
    cat = contact_create(actor=a, fields={"first_name": "Cat", "last_name": "Cole", "title": "CEO"})
    widget = Product.objects.create(sku="W1", name="Widget", unit_price=5)
    return SimpleNamespace(
        actor=a, acme=acme, globex=globex, ann=ann, bob=bob, cat=cat, widget=widget
    )


@pytest.fixture
def frozen():
    import time_machine

    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


__all__ = ["NOW", "cond", "ids", "place", "timezone"]


@pytest.fixture
def make_rule(personas):
    from rapport.automation import services as automation_services

    def make(**data):
        data.setdefault("name", "Rule")
        data.setdefault("actions", [{"type": "add_tag", "params": {"tag": "auto"}}])
        return automation_services.rule_create(actor=personas.admin, data=data)

    return make

"""The orders list looked for among its first rows with visibility probed per row
(keyset_page prefix_first) gives exactly the pages of the visibility sets, for every
persona and sort, on every page of a cursor walk."""

import datetime
from decimal import Decimal

import pytest

from rapport.api import pagination
from rapport.conftest import walk_pages
from rapport.orders.selectors import order_list
from rapport.orders.tests.conftest import ORDERED_AT, line
from rapport.records.services import record_share
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

PERSONAS = ("owner", "manager", "admin", "teammate", "outsider", "reader")


@pytest.fixture
def mixed(make_order, personas, account, contact, outsider_account):
    made = []
    for i in range(18):
        at = ORDERED_AT + datetime.timedelta(hours=i % 5, minutes=i)
        price = str(Decimal(10 + (i * 7) % 11))
        if i % 3 == 0:
            made.append(
                make_order(
                    actor=personas.outsider,
                    account=outsider_account,
                    ordered_at=at,
                    lines=[line(price)],
                )
            )
        elif i % 3 == 1:
            made.append(
                make_order(account=None, contact=contact, ordered_at=at, lines=[line(price)])
            )
        else:
            made.append(make_order(ordered_at=at, lines=[line(price)]))
    record_share(record=contact, actor=personas.owner, user=personas.teammate)
    return made


@pytest.mark.parametrize("prefix_rows", [1, 4, 2000])
def test_every_page_is_the_page_of_the_visibility_sets(
    mixed, personas, api_as, monkeypatch, prefix_rows
):
    monkeypatch.setattr(pagination, "PREFIX_ROWS", prefix_rows)
    for who in PERSONAS:
        user = getattr(personas, who)
        for sort in ("-ordered_at", "total", "-total"):
            desc = sort.startswith("-")
            expected = list(
                order_list(user=user)
                .order_by(sort, "-id" if desc else "id")
                .values_list("pk", flat=True)
            )
            assert walk_pages(api_as(user), f"/api/orders?limit=2&sort={sort}") == expected, (
                who,
                sort,
            )


def test_the_web_list_is_the_same(mixed, personas, monkeypatch):
    monkeypatch.setattr(pagination, "PREFIX_ROWS", 2)
    for who in ("owner", "teammate", "outsider"):
        user = getattr(personas, who)
        page = text_of(ui_client(user).get("/orders/"))
        shown = set(order_list(user=user).values_list("pk", flat=True))
        assert shown and shown != {o.pk for o in mixed}, who
        for order in mixed:
            assert (f"/orders/{order.pk}/" in page) == (order.pk in shown), (who, order.pk)

"""Bulk actions of the lists whose rows are not owned records (activities, orders, products):
each row goes through its object's service, and what the user may not change is skipped."""

import datetime
from decimal import Decimal

import pytest

from rapport.accounts.services import account_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.orders.models import Order
from rapport.orders.services import order_create
from rapport.records.services import record_share
from rapport.sales.models import Product
from rapport.sales.services import product_create
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

DUE = datetime.datetime(2030, 1, 1, 9, tzinfo=datetime.UTC)


def _task(actor, subject, **links):
    activity, _ = activity_log(
        actor=actor, kind="task", fields={"subject": subject, "due_at": DUE}, links=links
    )
    return activity


def test_activities_mark_done_and_reassign_skip_what_the_user_may_not_change(personas):
    mine = account_create(actor=personas.owner, fields={"name": "Mine"})
    theirs = account_create(actor=personas.teammate, fields={"name": "Theirs"})
    record_share(record=theirs, actor=personas.teammate, user=personas.owner, access="read")
    a = _task(personas.owner, "Call A", account_id=mine.pk)
    b = _task(personas.owner, "Call B", account_id=mine.pk)
    foreign = _task(personas.teammate, "Not mine", account_id=theirs.pk)
    client = ui_client(personas.owner)
    page = text_of(client.get("/activities/all/"))
    assert 'value="complete"' in page and "Mark done" in page and 'name="ids"' in page
    r = client.post(
        "/activities/all/bulk",
        {"action": "complete", "ids": [a.pk, b.pk, foreign.pk], "next": "/activities/all/"},
        follow=True,
    )
    assert "2 activities marked done. 1 skipped" in text_of(r)
    assert set(Activity.objects.filter(done=True).values_list("pk", flat=True)) == {a.pk, b.pk}
    r = client.post(
        "/activities/all/bulk",
        {"action": "assign", "ids": [a.pk], "owner_id": personas.teammate.pk},
        follow=True,
    )
    assert Activity.objects.get(pk=a.pk).owner_id == personas.teammate.pk
    r = client.post("/activities/all/bulk", {"action": "assign", "ids": [b.pk]}, follow=True)
    assert "Choose the new owner" in text_of(r)
    r = client.post("/activities/all/bulk", {"action": "tag", "ids": [b.pk]}, follow=True)
    assert "valid choice" in text_of(r)  # not an action of this list


def test_orders_change_status_in_bulk_only_for_customers_the_user_may_change(personas):
    mine = account_create(actor=personas.owner, fields={"name": "Mine"})
    shared = account_create(actor=personas.teammate, fields={"name": "Read only"})
    record_share(record=shared, actor=personas.teammate, user=personas.owner, access="read")
    line = {"quantity": Decimal("1"), "unit_price": Decimal("10")}
    at = {"ordered_at": DUE, "status": "paid"}
    o1 = order_create(actor=personas.owner, fields=at, lines=[line], account=mine)
    o2 = order_create(actor=personas.teammate, fields=at, lines=[line], account=shared)
    client = ui_client(personas.owner)
    assert "Mark shipped" in text_of(client.get("/orders/"))
    r = client.post("/orders/bulk", {"action": "shipped", "ids": [o1.pk, o2.pk]}, follow=True)
    assert "1 order marked shipped. 1 skipped" in text_of(r)
    assert Order.objects.get(pk=o1.pk).status == "shipped"
    assert Order.objects.get(pk=o2.pk).status == "paid"


def test_products_deactivate_in_bulk_for_managers_only(personas):
    p1 = product_create(actor=personas.manager, fields={"sku": "A", "name": "Alpha"})
    p2 = product_create(actor=personas.manager, fields={"sku": "B", "name": "Beta"})
    r = ui_client(personas.owner).post(
        "/products/bulk", {"action": "deactivate", "ids": [p1.pk, p2.pk]}, follow=True
    )
    assert "2 skipped" in text_of(r)
    assert Product.objects.filter(is_active=True).count() == 2
    r = ui_client(personas.manager).post(
        "/products/bulk", {"action": "deactivate", "ids": [p1.pk, p2.pk]}, follow=True
    )
    assert "2 products deactivated" in text_of(r)
    assert not Product.objects.filter(is_active=True).exists()

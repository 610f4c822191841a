import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.accounts.services import contact_create
from rapport.orders.models import Order, OrderLine
from rapport.orders.services import order_delete, order_update
from rapport.orders.tests.conftest import ORDERED_AT, line
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.services import record_share
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def _fields(err: ValidationError) -> set[str]:
    return set(err.value.message_dict)


def test_total_is_the_sum_of_line_totals(make_order, product):
    order = make_order(
        lines=[
            line("10.50", "2"),
            line("0.333", "3", product_id=product.pk),  # prices are cents: 0.33
            line("0", "1", description="Free sample"),
        ]
    )
    assert order.total == Decimal("21.99")
    lines = list(order.lines.order_by("id"))
    assert [x.total for x in lines] == [Decimal("21.00"), Decimal("0.99"), Decimal("0.00")]
    assert sum(x.total for x in lines) == order.total
    assert lines[1].description == "Widget"  # a product line is named after the product
    assert order.currency == "USD"  # the account's currency by default


def test_order_placed_event_is_on_account_and_contact_timelines(make_order, account, contact):
    order = make_order(contact=contact, external_id="A-1")
    event = TimelineEvent.objects.get(kind=EventKind.ORDER_PLACED)
    assert (event.account_id, event.contact_id, event.order_id) == (
        account.pk,
        contact.pk,
        order.pk,
    )
    assert event.occurred_at == ORDERED_AT  # placed when ordered, not when imported
    assert event.payload["total"] == "21.00"


def test_contact_only_order_is_also_on_the_contacts_account_timeline(make_order, contact, account):
    order = make_order(account=None, contact=contact)
    assert order.account_id is None
    event = TimelineEvent.objects.get(kind=EventKind.ORDER_PLACED)
    assert (event.account_id, event.contact_id) == (account.pk, contact.pk)


def test_order_needs_an_account_or_a_contact(make_order):
    with pytest.raises(ValidationError) as err:
        make_order(account=None)
    assert _fields(err) == {"account_id"}


def test_contact_of_another_account_is_refused(make_order, personas):
    stranger = contact_create(actor=personas.owner, fields={"last_name": "Solo"})
    with pytest.raises(ValidationError) as err:
        make_order(contact=stranger)
    assert _fields(err) == {"contact_id"}
    assert not Order.objects.exists()


def test_unknown_product_and_bad_quantities_are_reported_per_line(make_order):
    with pytest.raises(ValidationError) as err:
        make_order(lines=[line(product_id=987654), line("-1", "0")])
    assert _fields(err) == {"lines[0].product_id", "lines[1].quantity", "lines[1].unit_price"}


def test_naive_order_time_is_taken_in_the_server_zone(make_order):
    order = make_order(ordered_at=datetime.datetime(2025, 1, 2, 3, 4))
    order.refresh_from_db()
    assert order.ordered_at == datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.UTC)


def test_duplicate_external_id_is_a_conflict(make_order):
    make_order(external_id="X-1")
    with pytest.raises(Conflict):
        make_order(external_id="X-1")
    assert Order.objects.count() == 1


def test_reader_and_teammate_may_not_create_orders(make_order, personas, account):
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        make_order(actor=personas.reader)
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="read")
    with pytest.raises(PermissionDenied):
        make_order(actor=personas.teammate)
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="edit")
    assert make_order(actor=personas.teammate).created_by == personas.teammate


def test_edit_right_on_the_contact_is_enough(make_order, personas, account, contact):
    record_share(record=contact, actor=personas.owner, user=personas.teammate, access="edit")
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="read")
    order = make_order(actor=personas.teammate, contact=contact)
    assert order.pk


def test_update_replaces_lines_recomputes_total_and_logs(make_order, personas, product):
    order = make_order()
    diff = order_update(
        order=order,
        actor=personas.owner,
        fields={"status": "shipped", "lines": [line("5", "1", product_id=product.pk)]},
        expected_version=1,
    )
    order.refresh_from_db()
    assert (order.total, order.status, order.version) == (Decimal("5.00"), "shipped", 2)
    assert list(OrderLine.objects.filter(order=order).values_list("description", flat=True)) == [
        "Widget"
    ]
    assert set(diff) == {"status", "total", "lines"}
    event = TimelineEvent.objects.get(kind=EventKind.UPDATED, order=order)
    assert event.payload["changes"]["total"] == {"old": "21.00", "new": "5.00"}


def test_lines_change_with_the_same_total_still_moves_the_version(make_order, personas):
    order = make_order(lines=[line("10", "1")])
    order_update(
        order=order,
        actor=personas.owner,
        fields={"lines": [line("5", "1"), line("5", "1")]},
    )
    order.refresh_from_db()
    assert (order.total, order.version, order.lines.count()) == (Decimal("10.00"), 2, 2)


def test_same_lines_again_change_nothing(make_order, personas):
    order = make_order()
    assert order_update(order=order, actor=personas.owner, fields={"lines": [line()]}) == {}
    order.refresh_from_db()
    assert order.version == 1
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATED).exists()


def test_stale_update_changes_nothing(make_order, personas):
    order = make_order()
    with pytest.raises(StaleVersion):
        order_update(
            order=order, actor=personas.owner, fields={"status": "refunded"}, expected_version=7
        )
    order.refresh_from_db()
    assert (order.status, order.version) == ("paid", 1)


def test_null_in_an_update_is_refused(make_order, personas):
    order = make_order()
    with pytest.raises(ValidationError) as err:
        order_update(order=order, actor=personas.owner, fields={"status": None})
    assert _fields(err) == {"status"}


def test_delete_removes_order_and_lines_and_keeps_its_history(make_order, personas, account):
    order = make_order()
    pk = order.pk
    order_delete(order=order, actor=personas.owner, expected_version=1)
    assert not Order.objects.filter(pk=pk).exists()
    assert not OrderLine.objects.filter(order_id=pk).exists()
    placed = TimelineEvent.objects.get(kind=EventKind.ORDER_PLACED)
    assert placed.order_id is None  # SET_NULL: history stays
    deleted = TimelineEvent.objects.get(kind=EventKind.DELETED, account=account)
    assert deleted.payload["order"] == pk


def test_stale_delete_keeps_the_order(make_order, personas):
    order = make_order()
    with pytest.raises(StaleVersion):
        order_delete(order=order, actor=personas.owner, expected_version=2)
    assert Order.objects.filter(pk=order.pk).exists()
    assert not TimelineEvent.objects.filter(kind=EventKind.DELETED).exists()

import datetime

import pytest

from rapport.accounts.services import account_delete, contact_create
from rapport.orders.selectors import order_get_for_user, order_list, orders_visible_to
from rapport.orders.tests.conftest import ORDERED_AT, line
from rapport.records.exceptions import RecordNotFound
from rapport.records.models import Access, OrgDefault
from rapport.records.services import record_share

pytestmark = pytest.mark.django_db


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def test_orders_are_visible_with_their_account(make_order, personas):
    order = make_order()
    assert _ids(orders_visible_to(personas.owner)) == {order.pk}
    assert _ids(orders_visible_to(personas.manager)) == {order.pk}  # manages the owner's team
    assert _ids(orders_visible_to(personas.admin)) == {order.pk}
    assert _ids(orders_visible_to(personas.teammate)) == set()
    assert _ids(orders_visible_to(personas.outsider)) == set()
    assert _ids(orders_visible_to(personas.deactivated)) == set()
    with pytest.raises(RecordNotFound):
        order_get_for_user(pk=order.pk, user=personas.outsider)


def test_seeing_the_contact_is_enough(make_order, personas, contact):
    order = make_order(contact=contact)
    record_share(record=contact, actor=personas.owner, user=personas.outsider)
    assert _ids(orders_visible_to(personas.outsider)) == {order.pk}


def test_public_read_default_shows_every_order(make_order, personas):
    order = make_order()
    OrgDefault.objects.create(object_type="account", access=Access.PUBLIC_READ)
    assert _ids(orders_visible_to(personas.outsider)) == {order.pk}


def test_orders_of_a_deleted_account_are_hidden(make_order, personas, account):
    make_order()
    account_delete(account=account, actor=personas.owner)
    assert _ids(orders_visible_to(personas.owner)) == set()


def test_filters(make_order, personas, account, contact, product):
    other_contact = contact_create(
        actor=personas.owner, fields={"last_name": "Roe", "account": account}
    )
    a = make_order(contact=contact, channel="web", status="paid")
    b = make_order(
        contact=other_contact,
        channel="store",
        status="cancelled",
        ordered_at=ORDERED_AT + datetime.timedelta(days=2),
        lines=[line(product_id=product.pk), line(product_id=product.pk)],
    )
    c = make_order(channel="phone", ordered_at=ORDERED_AT - datetime.timedelta(days=2))
    user = personas.owner

    def ids(**filters):
        return _ids(order_list(user=user, **filters))

    assert ids(account_id=account.pk) == {a.pk, b.pk, c.pk}
    assert ids(contact_id=contact.pk) == {a.pk}
    assert ids(channel=["web", "store"]) == {a.pk, b.pk}
    assert ids(status=["cancelled"]) == {b.pk}
    assert ids(ordered_from=ORDERED_AT.date()) == {a.pk, b.pk}
    assert ids(ordered_to=ORDERED_AT.date()) == {a.pk, c.pk}  # a date includes the whole day
    assert ids(ordered_from=ORDERED_AT + datetime.timedelta(minutes=1)) == {b.pk}
    assert ids(product_id=product.pk) == {b.pk}
    assert order_list(user=user, product_id=product.pk).count() == 1  # not once per line
    assert ids(external_id="nope") == set()


def test_orders_of_a_visible_parent_are_the_visible_orders_of_it(make_order, personas, contact):
    """The record pages list a visible parent's orders by its key alone: the same rows as
    the visibility-filtered list, for every reader who may see the parent."""
    from rapport.orders.selectors import orders_of_visible_parent

    with_contact = make_order(contact=contact)
    without = make_order()
    record_share(record=contact, actor=personas.owner, user=personas.outsider)
    account = contact.account
    for user in (personas.owner, personas.manager, personas.admin):
        assert (
            _ids(orders_of_visible_parent(account=account))
            == _ids(order_list(user=user, account_id=account.pk))
            == {with_contact.pk, without.pk}
        )
    # The outsider sees the contact (shared), not the account: the contact's orders only.
    assert (
        _ids(orders_of_visible_parent(contact=contact))
        == _ids(order_list(user=personas.outsider, contact_id=contact.pk))
        == {with_contact.pk}
    )
    with pytest.raises(TypeError):
        orders_of_visible_parent()

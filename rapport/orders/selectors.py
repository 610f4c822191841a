"""Reads for orders: an order is visible with its account or its contact."""

import datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from rapport.accounts.models import Account, Contact
from rapport.identity.models import User
from rapport.orders.models import Order, OrderLine
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import date_bound
from rapport.records.visibility import editable, reads_nothing, visible_through_parents

ORDER_SORTS = {"ordered_at", "total", "created_at"}
ORDER_PARENTS = {"account": Account, "contact": Contact}


def order_base() -> QuerySet[Order]:
    """Orders with their lines prefetched (what the API output needs)."""
    return Order.objects.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


def orders_visible_to(user: User) -> QuerySet[Order]:
    """Orders whose account or contact the user may see."""
    return visible_through_parents(order_base(), user, ORDER_PARENTS)


def orders_of_visible_parent(*, account: Account | None = None, contact: Contact | None = None):
    """The orders of an account or a contact that the caller has ALREADY checked as visible
    to the reader (a record page): an order is visible with its account or its contact, so
    every order of a visible parent is visible, and the query filters by the parent's key
    alone. `order_list(account_id=…)` filtered by the whole visibility set again
    (`account_id IN (visible accounts) OR contact_id IN (visible contacts)`), a scan of
    every account per query for a sales rep at a million contacts."""
    if (account is None) == (contact is None):
        raise TypeError("orders_of_visible_parent takes exactly one of account, contact")
    if account is not None:
        return order_base().filter(account_id=account.pk)
    return order_base().filter(contact_id=contact.pk)


def order_list(
    *,
    user: User,
    account_id: int | None = None,
    contact_id: int | None = None,
    channel: list[str] | None = None,
    status: list[str] | None = None,
    ordered_from: datetime.datetime | datetime.date | None = None,
    ordered_to: datetime.datetime | datetime.date | None = None,
    product_id: int | None = None,
    external_id: str | None = None,
    few: bool = False,
    _unchecked: bool = False,
) -> QuerySet[Order]:
    """Visible orders narrowed by customer, channel/status (any of), order time (a date
    bound includes the whole day) and product (orders with a line of it). `few`: check
    visibility row by row (visible_through_parents per_row); `_unchecked`
    (order_page_sources only): the filters without visibility."""
    if _unchecked:
        qs = order_base()
    else:
        qs = visible_through_parents(order_base(), user, ORDER_PARENTS, per_row=few)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    if channel:
        qs = qs.filter(channel__in=channel)
    if status:
        qs = qs.filter(status__in=status)
    qs = date_bound(qs, "ordered_at", ordered_from, "gte")
    qs = date_bound(qs, "ordered_at", ordered_to, "lte")
    if product_id is not None:
        # EXISTS rather than a join: an order with two lines of the product is listed once.
        qs = qs.filter(
            Exists(OrderLine.objects.filter(order_id=OuterRef("pk"), product_id=product_id))
        )
    if external_id:
        qs = qs.filter(external_id=external_id)
    return qs


def order_page_sources(*, user: User, **filters) -> tuple[QuerySet, QuerySet] | None:
    """order_list(user=user, **filters) for keyset_page(prefix_first=…): the same rows with
    their visibility probed row by row, and the same filters WITHOUT visibility, whose rows
    are never shown (keyset_page reads only where its PREFIX_ROWS-th row is). None for an
    administrator (no visibility to check) or a user who reads nothing."""
    if reads_nothing(user) or user.is_admin:
        return None
    every = order_list(user=user, _unchecked=True, **filters)
    return order_list(user=user, few=True, **filters), every


def order_get_for_user(*, pk: int, user: User) -> Order:
    """The order (with lines) if `user` may see it, else RecordNotFound (404)."""
    try:
        return orders_visible_to(user).get(pk=pk)
    except (Order.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("order")


def order_parents_editable(*, user: User, account_id: int | None, contact_id: int | None) -> bool:
    """Whether the user may change the orders of this account or contact (either suffices)."""
    if account_id and editable(Account.objects.filter(pk=account_id), user).exists():
        return True
    return bool(contact_id) and editable(Contact.objects.filter(pk=contact_id), user).exists()

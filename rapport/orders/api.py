"""REST endpoints for orders: thin wrappers over selectors and services.

An order is visible with its account or contact; changing it needs edit rights on either.
DELETE is a hard delete (for mistakes); cancel a real order with PATCH status=cancelled.
"""

from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.orders import selectors, services
from rapport.orders.perfect import perfect_order_metrics
from rapport.orders.schemas import (
    OrderIn,
    OrderListParams,
    OrderOut,
    OrderPage,
    OrderPatchIn,
    OrdersBulkIn,
    OrdersBulkOut,
    PerfectOrderOut,
    PerfectOrderParams,
)
from rapport.records.api import ERRORS, linked_record, page_response

router = Router(tags=["orders"])


@router.get("", response={200: OrderPage, **ERRORS}, operation_id="orders_list")
def orders_list(request, filters: Query[OrderListParams]):
    # Named `filters` (not `params`): errors.py strips that holder name from 422 fields.
    narrowing = {
        "account_id": filters.account_id,
        "contact_id": filters.contact_id,
        "channel": filters.channel,
        "status": filters.status,
        "ordered_from": filters.ordered_from,
        "ordered_to": filters.ordered_to,
        "product_id": filters.product_id,
        "external_id": filters.external_id,
    }
    page = keyset_page(
        selectors.order_list(user=request.user, **narrowing),
        sort=filters.sort,
        allowed=selectors.ORDER_SORTS,
        cursor=filters.cursor,
        limit=filters.limit,
        prefix_first=selectors.order_page_sources(user=request.user, **narrowing),
    )
    return page_response(page)


@router.post(
    "",
    response={201: OrderOut, **ERRORS},
    operation_id="order_create",
    summary="Create an order; its total is the sum of its lines",
)
def order_create(request, payload: OrderIn, response: HttpResponse):
    user = request.user
    data = payload.dict()
    lines = data.pop("lines")
    account = linked_record(
        account_get_for_user, user, data.pop("account_id"), "account_id", "account"
    )
    contact = linked_record(
        contact_get_for_user, user, data.pop("contact_id"), "contact_id", "contact"
    )
    order = services.order_create(
        actor=user, fields=data, lines=lines, account=account, contact=contact
    )
    order = selectors.order_get_for_user(pk=order.pk, user=user)
    set_etag(response, order.version)
    return Status(201, order)


@router.post(
    "/bulk",
    response={200: OrdersBulkOut, **ERRORS},
    operation_id="orders_bulk_create",
    summary="Import up to 500 orders; re-sending a batch creates nothing twice",
    description=(
        "Each row is an order with a required `external_id`, validated on its own: valid rows "
        "are created, rows whose external_id you sent before (in the same source) are reported "
        'as "existing" (with the id while you may see the order), invalid rows as "error" with '
        "their errors. External ids are the sender's key: other users' orders with the same "
        "id are never matched. The answer lists every row by its index in the batch."
    ),
)
def orders_bulk_create(request, payload: OrdersBulkIn):
    return services.orders_bulk_create(actor=request.user, rows=payload.orders)


@router.get(
    "/perfect-order",
    response={200: PerfectOrderOut, **ERRORS},
    operation_id="orders_perfect_order",
    summary="Perfect-order rate, on-time in-full and lead time, by channel and product",
    description=(
        "Over the visible orders with a delivered date in [start, end] (cancelled ones left "
        "out). Perfect: delivered by the promised date, every line's delivered quantity at "
        "least the ordered one, nothing damaged or returned, documentation complete."
    ),
)
def orders_perfect_order(request, filters: Query[PerfectOrderParams]):
    return perfect_order_metrics(
        user=request.user, start=filters.start, end=filters.end, channel=filters.channel
    )


@router.get("/{int:pk}", response={200: OrderOut, **ERRORS}, operation_id="order_get")
def order_get(request, pk: int, response: HttpResponse):
    order = selectors.order_get_for_user(pk=pk, user=request.user)
    set_etag(response, order.version)
    return order


@router.patch(
    "/{int:pk}",
    response={200: OrderOut, **ERRORS},
    operation_id="order_update",
    summary="Change an order's status, channel, time or lines (lines replace all; If-Match)",
)
def order_update(request, pk: int, payload: PatchDict[OrderPatchIn], response: HttpResponse):
    order = selectors.order_get_for_user(pk=pk, user=request.user)
    services.order_update(
        order=order,
        actor=request.user,
        fields=dict(payload),
        expected_version=expected_version(request),
    )
    order = selectors.order_get_for_user(pk=pk, user=request.user)
    set_etag(response, order.version)
    return order


@router.delete(
    "/{int:pk}",
    response={204: None, **ERRORS},
    operation_id="order_delete",
    summary="Delete an order for good (cancel with PATCH status=cancelled instead)",
)
def order_delete(request, pk: int):
    order = selectors.order_get_for_user(pk=pk, user=request.user)
    services.order_delete(
        order=order, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)

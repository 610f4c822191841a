"""REST endpoints of returns (/api/returns/…) and the returns/complaints metrics. Thin: the
same selectors (visibility) and services (validated transitions) as the pages."""

import datetime
from decimal import Decimal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.api.pagination import keyset_page
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import ERRORS, page_response
from rapport.returns import selectors, services
from rapport.returns.models import Condition, Disposition, ReturnReason, ReturnStatus

router = Router(tags=["returns"])


class ReturnOut(Schema):
    id: int
    number: str
    status: str
    account_id: int | None
    contact_id: int | None
    order_line_id: int | None
    order_id: int | None
    asset_id: int | None
    product_id: int | None
    case_id: int | None
    quantity: Decimal
    reason: str
    condition: str
    disposition: str
    description: str
    status_note: str
    via_portal: bool
    created_at: datetime.datetime
    decided_at: datetime.datetime | None
    received_at: datetime.datetime | None
    inspected_at: datetime.datetime | None
    resolved_at: datetime.datetime | None
    version: int

    @staticmethod
    def resolve_order_id(obj) -> int | None:
        return obj.order_line.order_id if obj.order_line_id else None


class ReturnPage(Schema):
    items: list[ReturnOut]
    next_cursor: str | None
    count: int | str


class ReturnIn(Schema):
    order_line_id: int | None = Field(None, description="return from an order line …")
    asset_id: int | None = Field(None, description="… or from an asset (one unit)")
    case_id: int | None = None
    quantity: Decimal = Field(Decimal("1"), gt=0)
    reason: ReturnReason
    condition: Condition
    disposition: Disposition
    description: str = Field("", max_length=5000)


class ReturnMoveIn(Schema):
    status: ReturnStatus
    note: str = Field("", max_length=500)


class ReturnListParams(Schema):
    status: ReturnStatus | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class ReturnRateOut(Schema):
    product_id: int
    product: str
    sold: float
    returned: float
    rate: float | None


class ComplaintResolutionOut(Schema):
    resolution_code: str
    cases: int
    avg_hours: float
    median_hours: float


class RepeatComplaintOut(Schema):
    contact_id: int
    name: str
    complaints: int


class ReturnMetricsOut(Schema):
    days: int
    return_rate_by_product: list[ReturnRateOut]
    complaint_resolution: list[ComplaintResolutionOut]
    repeat_complaints: list[RepeatComplaintOut]
    open_complaints: int


@router.get("", response={200: ReturnPage, **ERRORS}, operation_id="returns_list")
def returns_list(request, params: Query[ReturnListParams]):
    qs = selectors.return_list(request.user, status=params.status)
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=params.cursor, limit=params.limit
    )
    return page_response(page)


@router.get("/metrics", response={200: ReturnMetricsOut, **ERRORS}, operation_id="returns_metrics")
def returns_metrics(request, days: int = Query(365, ge=1, le=3650)):
    return selectors.metrics(request.user, days=days)


@router.get("/{int:pk}", response={200: ReturnOut, **ERRORS}, operation_id="return_get")
def return_get(request, pk: int, response: HttpResponse):
    row = selectors.return_get_for_user(pk=pk, user=request.user)
    set_etag(response, row.version)
    return row


def _linked(request, payload: ReturnIn) -> dict:
    from rapport.cases.selectors import case_get_for_user

    out = {}
    if payload.order_line_id:
        out["order_line"] = selectors.return_order_line_get(
            pk=payload.order_line_id, user=request.user
        )
    if payload.asset_id:
        out["asset"] = selectors.return_asset_get(pk=payload.asset_id, user=request.user)
    if payload.case_id:
        out["case"] = case_get_for_user(pk=payload.case_id, user=request.user)
    return out


@router.post("", response={201: ReturnOut, **ERRORS}, operation_id="return_create")
def return_create(request, payload: ReturnIn, response: HttpResponse):
    fields = {**payload.dict(), **_linked(request, payload)}
    row = services.return_create(fields=fields, actor=request.user)
    row = selectors.return_get_for_user(pk=row.pk, user=request.user)
    set_etag(response, row.version)
    return Status(201, row)


@router.post(
    "/{int:pk}/status",
    response={200: ReturnOut, **ERRORS},
    operation_id="return_move",
    summary="Move a return: requested → approved/rejected → received → inspected → "
    "refunded/replaced/repaired (If-Match for the version)",
)
def return_move(request, pk: int, payload: ReturnMoveIn, response: HttpResponse):
    row = selectors.return_get_for_user(pk=pk, user=request.user)
    row = services.return_transition(
        row=row,
        status=payload.status,
        actor=request.user,
        note=payload.note,
        expected_version=expected_version(request),
    )
    set_etag(response, row.version)
    return row

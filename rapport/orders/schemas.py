"""API schemas of orders and the bulk import."""

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import PlainValidator

from rapport.records.api import DayOrTime, Id

ChannelIn = Literal["web", "store", "phone", "partner", "email", "other"]
StatusIn = Literal["placed", "paid", "shipped", "cancelled", "refunded"]

SORT_DESCRIPTION = "ordered_at, total or created_at; prefix - to reverse"


class OrderLineIn(Schema):
    product_id: Id | None = None
    description: str = Field("", max_length=200, description="defaults to the product's name")
    quantity: Decimal = Field(Decimal("1"), gt=0, max_digits=12, decimal_places=2)
    unit_price: Decimal = Field(..., ge=0, max_digits=14, decimal_places=2)
    quantity_delivered: Decimal | None = Field(
        None, ge=0, max_digits=12, decimal_places=2, description="perfect order: units delivered"
    )
    quantity_damaged: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    quantity_returned: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)


class OrderDeliveryFields(Schema):
    """Perfect order (the Seven R's): the promise, the delivery and the paperwork."""

    promised_date: datetime.date | None = None
    shipped_date: datetime.date | None = None
    delivered_date: datetime.date | None = None
    documentation_complete: bool = False


class OrderIn(OrderDeliveryFields):
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="your system's id (unique among yours per source: sending it again is 409)",
    )
    source: str = Field(
        "",
        max_length=60,
        description=(
            "the system external_id comes from: an external id is unique per sender "
            "(the user who sends it) and source; other users' ids never collide with yours"
        ),
    )
    account_id: Id | None = None
    contact_id: Id | None = Field(None, description="must belong to account_id when both given")
    ordered_at: datetime.datetime = Field(..., description="naive times are in the server's zone")
    channel: ChannelIn = "web"
    status: StatusIn = "paid"
    currency: str | None = Field(
        None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217; defaults to the account's"
    )
    lines: list[OrderLineIn] = Field(
        ..., min_length=1, max_length=500, description="the total is their sum"
    )


class OrderBulkRow(OrderIn):
    """One order of a bulk import: the external id is what makes re-sending safe."""

    external_id: str = Field(..., min_length=1, max_length=100)


class OrderPatchIn(OrderDeliveryFields):
    ordered_at: datetime.datetime
    channel: ChannelIn
    status: StatusIn = Field(..., description="cancel an order with status=cancelled")
    lines: list[OrderLineIn] = Field(
        ..., min_length=1, max_length=500, description="replaces every line"
    )


class OrderLineOut(Schema):
    id: int
    product_id: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal
    quantity_delivered: Decimal | None
    quantity_damaged: Decimal
    quantity_returned: Decimal


class OrderOut(Schema):
    id: int
    external_id: str | None
    source: str
    account_id: int | None
    contact_id: int | None
    ordered_at: datetime.datetime
    channel: str
    status: str
    currency: str
    total: Decimal
    promised_date: datetime.date | None
    shipped_date: datetime.date | None
    delivered_date: datetime.date | None
    documentation_complete: bool
    lines: list[OrderLineOut]
    created_by_id: int | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_lines(obj) -> list:
        # Uses the selector's prefetch (no N+1).
        return list(obj.lines.all())


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None
    count: int | str


class OrderListParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-ordered_at", description=SORT_DESCRIPTION)
    account_id: Id | None = None
    contact_id: Id | None = None
    channel: list[ChannelIn] = Field(default_factory=list, description="any of")
    status: list[StatusIn] = Field(default_factory=list, description="any of")
    ordered_from: DayOrTime | None = None
    ordered_to: DayOrTime | None = None
    product_id: Id | None = Field(None, description="orders with a line of this product")
    external_id: str | None = Field(None, max_length=100)


def _row_as_sent(value: Any) -> Any:
    return value


# Rows are validated one by one by the service (a bad row is reported, it does not refuse
# the batch), so the body takes any value; the documented item schema is still the row's.
BulkRowAsSent = Annotated[Any, PlainValidator(_row_as_sent, json_schema_input_type=OrderBulkRow)]


class OrdersBulkIn(Schema):
    orders: list[BulkRowAsSent] = Field(..., min_length=1, max_length=500)


class RowError(Schema):
    detail: str
    code: str
    field: str | None


class BulkRowResult(Schema):
    index: int
    external_id: str | None
    status: Literal["created", "existing", "error"]
    id: int | None = Field(
        None, description="the order's id (null for an existing order you may not see)"
    )
    errors: list[RowError]


class OrdersBulkOut(Schema):
    created: int
    existing: int
    failed: int
    results: list[BulkRowResult]


class PerfectOrderFigures(Schema):
    orders: int
    perfect: int
    perfect_rate: float | None = Field(None, description="0–1; null without delivered orders")
    on_time_rate: float | None
    in_full_rate: float | None
    otif: int
    otif_rate: float | None
    lead_time_median_days: float | None
    lead_time_p90_days: float | None = Field(None, description="nearest-rank 90th percentile")


class PerfectOrderChannelRow(PerfectOrderFigures):
    channel: str
    label: str


class PerfectOrderProductRow(PerfectOrderFigures):
    product_id: int
    label: str


class PerfectOrderOut(Schema):
    start: datetime.date | None
    end: datetime.date | None
    overall: PerfectOrderFigures
    by_channel: list[PerfectOrderChannelRow]
    by_product: list[PerfectOrderProductRow]


class PerfectOrderParams(Schema):
    start: datetime.date | None = Field(None, description="delivered on or after")
    end: datetime.date | None = Field(None, description="delivered on or before")
    channel: ChannelIn | None = None

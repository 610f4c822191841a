"""API schemas of pipelines, opportunities, line items, products, price books and
exchange rates."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ObjectDoesNotExist
from ninja import Field, Schema

from rapport.records.api import ListParams, OwnedIn, OwnedOut
from rapport.records.visibility import shown

# Ids beyond a signed 64-bit integer cannot exist; refusing them early keeps the database
# from raising an overflow.
MAX_ID = 2**63 - 1
Kind = Literal["open", "won", "lost"]
CURRENCY = r"^[A-Za-z]{3}$"


def _id(description: str = "", default=None):
    return Field(default, ge=1, le=MAX_ID, description=description)


# ----- pipelines and stages ---------------------------------------------------------------


class StageIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    position: int | None = Field(None, ge=0, le=100_000, description="default: last")
    probability: int | None = Field(
        None, ge=0, le=100, description="default win %; default 10 (won 100, lost 0)"
    )
    kind: Kind = "open"


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    kind: str


class PipelineIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    position: int = Field(0, ge=0, le=100_000)
    is_default: bool = Field(False, description="needs an open, a won and a lost stage")
    stages: list[StageIn] = Field(default_factory=list, max_length=50)


class PipelinePatchIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    position: int = Field(0, ge=0, le=100_000)
    is_default: bool = False


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    position: int
    is_usable: bool = Field(..., description="has an open, a won and a lost stage")
    created_at: datetime.datetime
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj) -> list:
        return list(obj.stages.all())

    @staticmethod
    def resolve_is_usable(obj) -> bool:
        from rapport.sales.selectors import pipeline_is_usable

        return pipeline_is_usable(obj)


class PipelinePage(Schema):
    items: list[PipelineOut]
    next_cursor: str | None
    count: int | str


class PipelineListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("position", description="position, name or created_at; - to reverse")


# ----- opportunities ----------------------------------------------------------------------


class OpportunityIn(OwnedIn):
    name: str = Field(..., min_length=1, max_length=200)
    account_id: int | None = _id()
    primary_contact_id: int | None = _id("must belong to the account when both are given")
    pipeline_id: int | None = _id("default: the default pipeline")
    stage_id: int | None = _id("default: the pipeline's first open stage")
    amount: Decimal = Field(
        Decimal("0"),
        ge=0,
        lt=Decimal("1e14"),
        max_digits=16,
        decimal_places=2,
        description="the line items' sum once the opportunity has line items",
    )
    currency: str = Field("EUR", pattern=CURRENCY)
    probability: int | None = Field(None, ge=0, le=100, description="default: the stage's")
    expected_close_date: datetime.date | None = None
    lost_reason: str = Field(
        "",
        max_length=200,
        description="required in a lost stage: one of GET /api/opportunities/lost-reasons",
    )
    lost_note: str = Field(
        "", max_length=2000, description="free text beside the lost reason (a lost stage only)"
    )
    source: str = Field("", max_length=60)
    description: str = Field("", max_length=10000)


class OpportunityOut(OwnedOut):
    name: str
    account_id: int | None
    account_name: str | None
    primary_contact_id: int | None
    primary_contact_name: str | None
    pipeline_id: int
    pipeline_name: str
    stage_id: int
    stage_name: str
    stage_kind: str
    amount: Decimal
    currency: str
    probability: int
    weighted_amount: Decimal
    expected_close_date: datetime.date | None
    closed_at: datetime.datetime | None
    stage_changed_at: datetime.datetime | None
    lost_reason: str
    lost_note: str
    source: str
    description: str

    @staticmethod
    def resolve_account_name(obj) -> str | None:
        account = shown(obj, "account")
        return account.name if account else None

    @staticmethod
    def resolve_primary_contact_name(obj) -> str | None:
        contact = shown(obj, "primary_contact")
        return f"{contact.first_name} {contact.last_name}".strip() if contact else None

    @staticmethod
    def resolve_pipeline_name(obj) -> str:
        return obj.pipeline.name

    @staticmethod
    def resolve_stage_name(obj) -> str:
        return obj.stage.name

    win_probability: int = Field(
        0, description="0–100: the learned win probability where it beats the stage default"
    )
    win_probability_source: str = Field("stage", description='"model" or "stage"')
    win_probability_reasons: list[dict] = Field(default_factory=list)

    @staticmethod
    def resolve_stage_kind(obj) -> str:
        return obj.stage.kind

    @staticmethod
    def resolve_win_probability(obj) -> int:
        row = opportunity_score_row(obj)
        return row.probability if row is not None and obj.stage.kind == "open" else obj.probability

    @staticmethod
    def resolve_win_probability_source(obj) -> str:
        row = opportunity_score_row(obj)
        return row.source if row is not None and obj.stage.kind == "open" else "stage"

    @staticmethod
    def resolve_win_probability_reasons(obj) -> list[dict]:
        row = opportunity_score_row(obj)
        return row.reasons if row is not None and obj.stage.kind == "open" else []


def opportunity_score_row(obj):
    try:
        return obj.score_row
    except ObjectDoesNotExist:
        return None


class OpportunityPage(Schema):
    items: list[OpportunityOut]
    next_cursor: str | None
    count: int | str


class OpportunityListParams(ListParams):
    pipeline_id: int | None = _id()
    stage_id: int | None = _id()
    stage_kind: Kind | None = None
    account_id: int | None = _id()
    close_from: datetime.date | None = Field(None, description="expected close date from")
    close_to: datetime.date | None = Field(None, description="expected close date until")
    amount_min: Decimal | None = Field(None, max_digits=16, decimal_places=2)
    amount_max: Decimal | None = Field(None, max_digits=16, decimal_places=2)


class MoveStageIn(Schema):
    stage_id: int = _id("a stage of the opportunity's pipeline", ...)
    lost_reason: str = Field(
        "",
        max_length=200,
        description="required for a lost stage: one of GET /api/opportunities/lost-reasons",
    )
    lost_note: str = Field(
        "", max_length=2000, description="free text beside the lost reason (a lost stage only)"
    )


class StageChangeOut(Schema):
    id: int
    from_stage_id: int | None
    from_stage_name: str | None
    to_stage_id: int
    to_stage_name: str
    to_stage_kind: str
    changed_at: datetime.datetime
    changed_by_id: int | None
    changed_by_name: str | None
    amount: Decimal

    @staticmethod
    def resolve_from_stage_name(obj) -> str | None:
        return obj.from_stage.name if obj.from_stage_id else None

    @staticmethod
    def resolve_to_stage_name(obj) -> str:
        return obj.to_stage.name

    @staticmethod
    def resolve_to_stage_kind(obj) -> str:
        return obj.to_stage.kind

    @staticmethod
    def resolve_changed_by_name(obj) -> str | None:
        user = obj.changed_by if obj.changed_by_id else None
        return (user.get_full_name() or user.username) if user else None


class StageChangePage(Schema):
    items: list[StageChangeOut]
    next_cursor: str | None
    count: int | str


# ----- line items -------------------------------------------------------------------------


def _quantity(default=...):
    return Field(default, gt=0, lt=Decimal("1e10"), max_digits=12, decimal_places=2)


def _price(default=..., description: str = ""):
    return Field(
        default, ge=0, lt=Decimal("1e12"), max_digits=14, decimal_places=2, description=description
    )


def _discount(default=...):
    return Field(default, ge=0, le=100, max_digits=5, decimal_places=2)


class LineItemIn(Schema):
    product_id: int = _id("an active product", ...)
    quantity: Decimal = _quantity(Decimal("1"))
    unit_price: Decimal | None = _price(
        None, "default: the default price book's, else the product's price"
    )
    discount_percent: Decimal = _discount(Decimal("0"))


class LineItemPatchIn(Schema):
    quantity: Decimal = _quantity()
    unit_price: Decimal = _price()
    discount_percent: Decimal = _discount()
    position: int = Field(..., ge=0, le=100_000)


class LineItemOut(Schema):
    id: int
    opportunity_id: int
    product_id: int
    product_name: str
    product_sku: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    total: Decimal
    position: int
    version: int

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_product_sku(obj) -> str:
        return obj.product.sku


# ----- products and price books -----------------------------------------------------------


class ProductIn(Schema):
    sku: str = Field(..., min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")
    name: str = Field(..., min_length=1, max_length=200)
    category: str = Field("", max_length=100)
    description: str = Field("", max_length=10000)
    unit_price: Decimal = _price(Decimal("0"))
    unit_cost: Decimal | None = _price(None)
    currency: str = Field("EUR", pattern=CURRENCY)
    is_active: bool = True
    is_tracked: bool = Field(
        False, description="installed base: each unit sold becomes an asset (/api/assets)"
    )
    warranty_months: int = Field(0, ge=0, le=600, description="the assets' warranty length")


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    description: str
    unit_price: Decimal
    unit_cost: Decimal | None
    currency: str
    is_active: bool
    is_tracked: bool
    warranty_months: int
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None
    count: int | str


class ProductListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("name", description="name, sku, unit_price or created_at; - to reverse")
    q: str | None = Field(None, max_length=200, description="free text over SKU and name")
    category: str | None = Field(None, max_length=100)
    is_active: bool | None = None


class PriceBookIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    currency: str = Field("EUR", pattern=CURRENCY)
    is_default: bool = Field(False, description="line items take their prices from the default")
    is_active: bool = True


class PriceBookOut(Schema):
    id: int
    name: str
    currency: str
    is_default: bool
    is_active: bool
    version: int
    created_at: datetime.datetime


class PriceBookPage(Schema):
    items: list[PriceBookOut]
    next_cursor: str | None
    count: int | str


class PriceBookListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("name", description="name or created_at; - to reverse")
    is_active: bool | None = None


class PriceBookEntryIn(Schema):
    unit_price: Decimal = _price()


class PriceBookEntryOut(Schema):
    id: int
    price_book_id: int
    product_id: int
    product_sku: str
    product_name: str
    unit_price: Decimal

    @staticmethod
    def resolve_product_sku(obj) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name


# ----- exchange rates ---------------------------------------------------------------------


class ExchangeRateIn(Schema):
    currency: str = Field(..., pattern=CURRENCY)
    rate: Decimal = Field(
        ...,
        gt=0,
        lt=Decimal("1e10"),
        max_digits=18,
        decimal_places=8,
        description="organisation-currency units for one unit of `currency`",
    )
    valid_from: datetime.date


class ExchangeRateOut(Schema):
    id: int
    currency: str
    rate: Decimal
    valid_from: datetime.date


class ExchangeRatePage(Schema):
    items: list[ExchangeRateOut]
    next_cursor: str | None
    count: int | str


class ExchangeRateListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-valid_from", description="valid_from; - to reverse")
    currency: str | None = Field(None, pattern=CURRENCY)

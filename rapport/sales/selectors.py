"""Reads for sales: pipelines, opportunities (always through the visibility layer), their
stage history and line items, the product catalogue and currency conversion."""

import datetime
from bisect import bisect_right
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Model, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import owned_records_filter, record_get_for_user, scoped, text_filter
from rapport.records.visibility import visible_with_links
from rapport.sales.models import (
    ExchangeRate,
    LineItem,
    Opportunity,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Stage,
    StageChange,
    StageKind,
)

OPPORTUNITY_SORTS = {"created_at", "updated_at", "amount", "name", "win_probability"}
PRODUCT_SORTS = {"name", "sku", "unit_price", "created_at"}
PRICE_BOOK_SORTS = {"name", "created_at"}
PIPELINE_SORTS = {"position", "name", "created_at"}
EXCHANGE_RATE_SORTS = {"valid_from"}

REQUIRED_KINDS = frozenset(StageKind.values)


def get_or_not_found(qs: QuerySet, pk: int, what: str) -> Model:
    """The row `pk` of `qs`, else RecordNotFound (ids too large for the database included)."""
    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound(what)


# ----- pipelines and stages ---------------------------------------------------------------


def pipeline_base() -> QuerySet[Pipeline]:
    return Pipeline.objects.prefetch_related("stages")


def pipeline_list() -> QuerySet[Pipeline]:
    """Every pipeline with its stages: pipelines are configuration every user may read."""
    return pipeline_base()


def pipeline_get(*, pk: int) -> Pipeline:
    return get_or_not_found(pipeline_base(), pk, "pipeline")


def stage_get(*, pipeline: Pipeline, pk: int) -> Stage:
    return get_or_not_found(Stage.objects.filter(pipeline=pipeline), pk, "stage")


def pipeline_kinds(pipeline: Pipeline) -> set[str]:
    """Stage kinds the pipeline has (uses the prefetched stages when there are some)."""
    return {s.kind for s in pipeline.stages.all()}


def pipeline_is_usable(pipeline: Pipeline) -> bool:
    """A pipeline takes opportunities once it has an open, a won and a lost stage."""
    return pipeline_kinds(pipeline) >= REQUIRED_KINDS


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(is_default=True).order_by("position", "id").first()


def first_open_stage(pipeline: Pipeline) -> Stage | None:
    return (
        Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN)
        .order_by("position", "id")
        .first()
    )


# ----- opportunities ----------------------------------------------------------------------


def opportunity_base(scope: str = "active") -> QuerySet[Opportunity]:
    """Opportunities with what their API/UI output needs; scope: active, deleted or all."""
    return (
        scoped(Opportunity, scope)
        .select_related("pipeline", "stage", "account", "primary_contact", "score_row")
        .prefetch_related("tags")
    )


def opportunities_visible_to(user: User, *, scope: str = "active") -> QuerySet[Opportunity]:
    return visible_with_links(opportunity_base(scope), user)


def opportunity_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    stage_kind: str | None = None,
    account_id: int | None = None,
    close_from: datetime.date | None = None,
    close_to: datetime.date | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    **filters,
) -> QuerySet[Opportunity]:
    """Visible opportunities narrowed by the owned-record filters, pipeline, stage, stage
    kind, account, expected close date and amount ranges, and free text over the name and
    the account's name."""
    qs = opportunities_visible_to(user, scope="deleted" if deleted else "active")
    qs = owned_records_filter(qs, object_type=Opportunity.OBJECT_TYPE, **filters)
    if pipeline_id is not None:
        qs = qs.filter(pipeline_id=pipeline_id)
    if stage_id is not None:
        qs = qs.filter(stage_id=stage_id)
    if stage_kind:
        qs = qs.filter(stage__kind=stage_kind)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if close_from is not None:
        qs = qs.filter(expected_close_date__gte=close_from)
    if close_to is not None:
        qs = qs.filter(expected_close_date__lte=close_to)
    if amount_min is not None:
        qs = qs.filter(amount__gte=amount_min)
    if amount_max is not None:
        qs = qs.filter(amount__lte=amount_max)
    # Sortable win probability (rapport/scoring): the scored one, else the stored one.
    qs = qs.annotate(win_probability=Coalesce(F("score_row__probability"), F("probability")))
    return text_filter(qs, q, ["name", "account__name"])


def opportunity_get_for_user(*, pk: int, user: User, scope: str = "active") -> Opportunity:
    """The opportunity if `user` may see it, else RecordNotFound (404)."""
    return record_get_for_user(model=Opportunity, pk=pk, user=user, qs=opportunity_base(scope))


def stage_history(opportunity: Opportunity) -> QuerySet[StageChange]:
    """Stage moves of an opportunity the caller has already checked as visible."""
    return StageChange.objects.filter(opportunity=opportunity).select_related(
        "from_stage", "to_stage", "changed_by"
    )


def line_items_of(opportunity: Opportunity) -> QuerySet[LineItem]:
    """Line items of an opportunity the caller has already checked as visible."""
    return LineItem.objects.filter(opportunity=opportunity).select_related("product")


def line_item_get(*, opportunity: Opportunity, pk: int) -> LineItem:
    item = get_or_not_found(line_items_of(opportunity), pk, "line item")
    item.opportunity = opportunity  # the visible, already loaded parent
    return item


# ----- products and price books -----------------------------------------------------------


def product_list(
    *, q: str | None = None, category: str | None = None, is_active: bool | None = None
) -> QuerySet[Product]:
    """The catalogue is readable by every user; free text over sku and name."""
    qs = Product.objects.all()
    if category:
        qs = qs.filter(category__iexact=category)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return text_filter(qs, q, ["sku", "name"])


def product_get(*, pk: int) -> Product:
    return get_or_not_found(Product.objects.all(), pk, "product")


def price_book_list(*, is_active: bool | None = None) -> QuerySet[PriceBook]:
    qs = PriceBook.objects.all()
    return qs.filter(is_active=is_active) if is_active is not None else qs


def price_book_get(*, pk: int) -> PriceBook:
    return get_or_not_found(PriceBook.objects.all(), pk, "price book")


def price_book_entries(price_book: PriceBook) -> QuerySet[PriceBookEntry]:
    return PriceBookEntry.objects.filter(price_book=price_book).select_related("product")


def default_unit_price(product: Product) -> Decimal:
    """The product's price in the active default price book, else its list price."""
    entry = (
        PriceBookEntry.objects.filter(
            product=product, price_book__is_default=True, price_book__is_active=True
        )
        .values_list("unit_price", flat=True)
        .first()
    )
    return entry if entry is not None else product.unit_price


# ----- exchange rates ---------------------------------------------------------------------


class ExchangeRateMissing(LookupError):
    """No rate for the currency on or before the date: reports must not guess."""

    def __init__(self, currency: str, on_date: datetime.date):
        super().__init__(f"No exchange rate for {currency} on or before {on_date.isoformat()}")
        self.currency = currency
        self.on_date = on_date


def exchange_rate_list(*, currency: str | None = None) -> QuerySet[ExchangeRate]:
    qs = ExchangeRate.objects.all()
    return qs.filter(currency=currency.upper()) if currency else qs


def exchange_rate_get(*, pk: int) -> ExchangeRate:
    return get_or_not_found(ExchangeRate.objects.all(), pk, "exchange rate")


RateTable = dict[str, tuple[list[datetime.date], list[Decimal]]]


def exchange_rate_table() -> RateTable:
    """All rates by currency, oldest first: load once, convert many rows without queries."""
    table: RateTable = {}
    rows = ExchangeRate.objects.order_by("currency", "valid_from").values_list(
        "currency", "valid_from", "rate"
    )
    for currency, valid_from, rate in rows:
        dates, rates = table.setdefault(currency, ([], []))
        dates.append(valid_from)
        rates.append(rate)
    return table


def _day(on_date: datetime.date | datetime.datetime | None) -> datetime.date:
    if on_date is None:
        return timezone.localdate()
    if isinstance(on_date, datetime.datetime):
        return on_date.date()
    return on_date


def convert_to_org_currency(
    amount: Decimal,
    currency: str,
    on_date: datetime.date | datetime.datetime | None = None,
    *,
    table: RateTable | None = None,
) -> Decimal:
    """`amount` in the organisation's currency (settings.RAPPORT_CURRENCY), at the rate
    valid on `on_date` (the latest rate from that day or before), rounded to cents.

    Raises ExchangeRateMissing when there is no such rate. Pass `table`
    (from `exchange_rate_table()`) to convert many amounts with one query.
    """
    currency = (currency or "").upper()
    amount = Decimal(amount)
    if currency == settings.RAPPORT_CURRENCY.upper():
        return amount.quantize(Decimal("0.01"))
    day = _day(on_date)
    if table is not None:
        dates, rates = table.get(currency, ([], []))
        i = bisect_right(dates, day)
        rate = rates[i - 1] if i else None
    else:
        rate = (
            ExchangeRate.objects.filter(currency=currency, valid_from__lte=day)
            .order_by("-valid_from")
            .values_list("rate", flat=True)
            .first()
        )
    if rate is None:
        raise ExchangeRateMissing(currency, day)
    return (amount * rate).quantize(Decimal("0.01"))

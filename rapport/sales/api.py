"""REST endpoints for sales: pipelines and stages, opportunities (with stage moves, stage
history and line items), products, price books and exchange rates. Thin wrappers over
selectors and services; `router` is mounted at the API root."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Query, Router, Schema, Status

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import (
    ERRORS,
    active_user,
    add_record_actions,
    created_answer,
    linked_record,
    list_response,
    page_response,
    record_response,
    without_prefetches,
)
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import record_get_for_user
from rapport.sales import selectors, services
from rapport.sales.models import Opportunity, Pipeline, Product, Stage
from rapport.sales.schemas import (
    ExchangeRateIn,
    ExchangeRateListParams,
    ExchangeRateOut,
    ExchangeRatePage,
    LineItemIn,
    LineItemOut,
    LineItemPatchIn,
    MoveStageIn,
    OpportunityIn,
    OpportunityListParams,
    OpportunityOut,
    OpportunityPage,
    PipelineIn,
    PipelineListParams,
    PipelineOut,
    PipelinePage,
    PipelinePatchIn,
    PriceBookEntryIn,
    PriceBookEntryOut,
    PriceBookIn,
    PriceBookListParams,
    PriceBookOut,
    PriceBookPage,
    ProductIn,
    ProductListParams,
    ProductOut,
    ProductPage,
    StageChangePage,
    StageIn,
    StageOut,
)

router = Router(tags=["sales"])
pipelines_router = Router(tags=["pipelines"])
opportunities_router = Router(tags=["opportunities"])
products_router = Router(tags=["products"])
price_books_router = Router(tags=["price books"])
exchange_rates_router = Router(tags=["exchange rates"])


def _invalid(field: str, what: str) -> ValidationError:
    return ValidationError({field: [ValidationError(f"No such {what}", code=f"invalid_{what}")]})


def _row(model, pk: int | None, field: str, what: str):
    if pk is None:
        return None
    try:
        return selectors.get_or_not_found(model.objects.all(), pk, what)
    except RecordNotFound:
        raise _invalid(field, what)


def _without_nulls(data: dict, nullable: tuple[str, ...] = ()) -> dict:
    """PATCH: null for a field that cannot be empty means "leave it"."""
    return {k: v for k, v in data.items() if v is not None or k in nullable}


def _page(qs, params, allowed: set[str]):
    return page_response(
        keyset_page(qs, sort=params.sort, allowed=allowed, cursor=params.cursor, limit=params.limit)
    )


# ----- pipelines and stages ---------------------------------------------------------------


@pipelines_router.get("", response={200: PipelinePage, **ERRORS}, operation_id="pipelines_list")
def pipelines_list(request, params: Query[PipelineListParams]):
    return _page(selectors.pipeline_list(), params, selectors.PIPELINE_SORTS)


@pipelines_router.post("", response={201: PipelineOut, **ERRORS}, operation_id="pipeline_create")
def pipeline_create(request, payload: PipelineIn):
    data = payload.dict()
    pipeline = services.pipeline_create(actor=request.user, **data)
    return Status(201, selectors.pipeline_get(pk=pipeline.pk))


@pipelines_router.get(
    "/{int:pk}", response={200: PipelineOut, **ERRORS}, operation_id="pipeline_get"
)
def pipeline_get(request, pk: int):
    return selectors.pipeline_get(pk=pk)


@pipelines_router.patch(
    "/{int:pk}", response={200: PipelineOut, **ERRORS}, operation_id="pipeline_update"
)
def pipeline_update(request, pk: int, payload: PatchDict[PipelinePatchIn]):
    pipeline = selectors.pipeline_get(pk=pk)
    services.pipeline_update(
        pipeline=pipeline, actor=request.user, fields=_without_nulls(dict(payload))
    )
    return selectors.pipeline_get(pk=pk)


@pipelines_router.delete(
    "/{int:pk}", response={204: None, **ERRORS}, operation_id="pipeline_delete"
)
def pipeline_delete(request, pk: int):
    services.pipeline_delete(pipeline=selectors.pipeline_get(pk=pk), actor=request.user)
    return Status(204, None)


@pipelines_router.get(
    "/{int:pk}/stages", response={200: list[StageOut], **ERRORS}, operation_id="stages_list"
)
def stages_list(request, pk: int):
    return list(selectors.pipeline_get(pk=pk).stages.all())


@pipelines_router.post(
    "/{int:pk}/stages", response={201: StageOut, **ERRORS}, operation_id="stage_create"
)
def stage_create(request, pk: int, payload: StageIn):
    pipeline = selectors.pipeline_get(pk=pk)
    return Status(
        201, services.stage_create(pipeline=pipeline, actor=request.user, fields=payload.dict())
    )


@pipelines_router.patch(
    "/{int:pk}/stages/{int:stage_id}",
    response={200: StageOut, **ERRORS},
    operation_id="stage_update",
)
def stage_update(request, pk: int, stage_id: int, payload: PatchDict[StageIn]):
    stage = selectors.stage_get(pipeline=selectors.pipeline_get(pk=pk), pk=stage_id)
    return services.stage_update(
        stage=stage, actor=request.user, fields=_without_nulls(dict(payload))
    )


@pipelines_router.delete(
    "/{int:pk}/stages/{int:stage_id}",
    response={204: None, **ERRORS},
    operation_id="stage_delete",
)
def stage_delete(request, pk: int, stage_id: int):
    stage = selectors.stage_get(pipeline=selectors.pipeline_get(pk=pk), pk=stage_id)
    services.stage_delete(stage=stage, actor=request.user)
    return Status(204, None)


# ----- opportunities ----------------------------------------------------------------------


def _opportunity_data(request, data: dict) -> tuple[dict, dict]:
    """Split a payload into model fields (ids resolved to visible rows) and extras."""
    extras = {k: data.pop(k) for k in ("tags", "custom") if k in data}
    if "owner_id" in data:
        extras["owner"] = active_user(data.pop("owner_id"))
    user = request.user
    if "account_id" in data:
        data["account"] = linked_record(
            account_get_for_user, user, data.pop("account_id"), "account_id", "account"
        )
    if "primary_contact_id" in data:
        data["primary_contact"] = linked_record(
            contact_get_for_user,
            user,
            data.pop("primary_contact_id"),
            "primary_contact_id",
            "contact",
        )
    if "pipeline_id" in data:
        data["pipeline"] = _row(Pipeline, data.pop("pipeline_id"), "pipeline_id", "pipeline")
    if "stage_id" in data:
        data["stage"] = _row(Stage, data.pop("stage_id"), "stage_id", "stage")
    return data, extras


@opportunities_router.get(
    "", response={200: OpportunityPage, **ERRORS}, operation_id="opportunities_list"
)
def opportunities_list(request, params: Query[OpportunityListParams]):
    qs = selectors.opportunity_list(
        user=request.user,
        q=params.q,
        deleted=params.deleted,
        pipeline_id=params.pipeline_id,
        stage_id=params.stage_id,
        stage_kind=params.stage_kind,
        account_id=params.account_id,
        close_from=params.close_from,
        close_to=params.close_to,
        amount_min=params.amount_min,
        amount_max=params.amount_max,
        **params.record_filters(),
    )
    return list_response(
        request, qs, params, selectors.OPPORTUNITY_SORTS, OpportunityOut, related={"tags": True}
    )


@opportunities_router.post(
    "", response={201: OpportunityOut, **ERRORS}, operation_id="opportunity_create"
)
def opportunity_create(request, payload: OpportunityIn, response: HttpResponse):
    data, extras = _opportunity_data(request, payload.dict())
    opportunity = services.opportunity_create(actor=request.user, fields=data, **extras)
    opportunity = created_answer(selectors.opportunity_get_for_user, opportunity, request.user)
    set_etag(response, opportunity.version)
    return Status(201, opportunity)


@opportunities_router.get(
    "/{int:pk}", response={200: OpportunityOut, **ERRORS}, operation_id="opportunity_get"
)
def opportunity_get(request, pk: int, response: HttpResponse):
    opportunity = record_get_for_user(
        model=Opportunity, pk=pk, user=request.user, qs=_opportunity_read()
    )
    return record_response(request, opportunity, OpportunityOut, response, related={"tags": True})


_opportunity_read = without_prefetches(selectors.opportunity_base)


@opportunities_router.patch(
    "/{int:pk}", response={200: OpportunityOut, **ERRORS}, operation_id="opportunity_update"
)
def opportunity_update(request, pk: int, payload: PatchDict[OpportunityIn], response: HttpResponse):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    data, extras = _opportunity_data(request, dict(payload))
    services.opportunity_update(
        opportunity=opportunity,
        actor=request.user,
        fields=data,
        expected_version=expected_version(request),
        **extras,
    )
    # Re-read without visibility: a transfer in the same PATCH may have given it away.
    opportunity = selectors.opportunity_base().get(pk=pk)
    set_etag(response, opportunity.version)
    return opportunity


@opportunities_router.delete(
    "/{int:pk}", response={204: None, **ERRORS}, operation_id="opportunity_delete"
)
def opportunity_delete(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    services.opportunity_delete(
        opportunity=opportunity, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)


@opportunities_router.post(
    "/{int:pk}/move-stage",
    response={200: OpportunityOut, **ERRORS},
    operation_id="opportunity_move_stage",
    summary="Move an opportunity to another stage of its pipeline",
)
def opportunity_move_stage(request, pk: int, payload: MoveStageIn, response: HttpResponse):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    stage = _row(Stage, payload.stage_id, "stage_id", "stage")
    services.opportunity_move_stage(
        opportunity=opportunity,
        stage=stage,
        actor=request.user,
        lost_reason=payload.lost_reason,
        lost_note=payload.lost_note,
        expected_version=expected_version(request),
    )
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    set_etag(response, opportunity.version)
    return opportunity


@opportunities_router.get(
    "/{int:pk}/stage-history",
    response={200: StageChangePage, **ERRORS},
    operation_id="opportunity_stage_history",
    summary="The opportunity's stage moves, oldest first",
)
def opportunity_stage_history(
    request, pk: int, cursor: str | None = None, limit: int = Query(50, ge=1, le=200)
):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    page = keyset_page(
        selectors.stage_history(opportunity),
        sort="changed_at",
        allowed={"changed_at"},
        cursor=cursor,
        limit=limit,
    )
    return page_response(page)


@opportunities_router.get(
    "/{int:pk}/line-items",
    response={200: list[LineItemOut], **ERRORS},
    operation_id="opportunity_line_items_list",
)
def line_items_list(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    return list(selectors.line_items_of(opportunity))


@opportunities_router.post(
    "/{int:pk}/line-items",
    response={201: LineItemOut, **ERRORS},
    operation_id="opportunity_line_item_add",
)
def line_item_add(request, pk: int, payload: LineItemIn, response: HttpResponse):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    product = _row(Product, payload.product_id, "product_id", "product")
    item = services.line_item_add(
        opportunity=opportunity,
        actor=request.user,
        product=product,
        quantity=payload.quantity,
        unit_price=payload.unit_price,
        discount_percent=payload.discount_percent,
    )
    set_etag(response, item.version)
    return Status(201, item)


@opportunities_router.patch(
    "/{int:pk}/line-items/{int:item_id}",
    response={200: LineItemOut, **ERRORS},
    operation_id="opportunity_line_item_update",
)
def line_item_update(
    request, pk: int, item_id: int, payload: PatchDict[LineItemPatchIn], response: HttpResponse
):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    services.line_item_update(
        line_item=item,
        actor=request.user,
        fields=_without_nulls(dict(payload)),
        expected_version=expected_version(request),
    )
    set_etag(response, item.version)
    return item


@opportunities_router.delete(
    "/{int:pk}/line-items/{int:item_id}",
    response={204: None, **ERRORS},
    operation_id="opportunity_line_item_delete",
)
def line_item_delete(request, pk: int, item_id: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    services.line_item_delete(
        line_item=item, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)


add_record_actions(
    opportunities_router,
    model=Opportunity,
    out_schema=OpportunityOut,
    base_qs=selectors.opportunity_base,
)


# ----- products ---------------------------------------------------------------------------


@products_router.get("", response={200: ProductPage, **ERRORS}, operation_id="products_list")
def products_list(request, params: Query[ProductListParams]):
    qs = selectors.product_list(q=params.q, category=params.category, is_active=params.is_active)
    return _page(qs, params, selectors.PRODUCT_SORTS)


@products_router.post("", response={201: ProductOut, **ERRORS}, operation_id="product_create")
def product_create(request, payload: ProductIn, response: HttpResponse):
    product = services.product_create(actor=request.user, fields=payload.dict())
    set_etag(response, product.version)
    return Status(201, selectors.product_get(pk=product.pk))


@products_router.get("/{int:pk}", response={200: ProductOut, **ERRORS}, operation_id="product_get")
def product_get(request, pk: int, response: HttpResponse):
    product = selectors.product_get(pk=pk)
    set_etag(response, product.version)
    return product


@products_router.patch(
    "/{int:pk}", response={200: ProductOut, **ERRORS}, operation_id="product_update"
)
def product_update(request, pk: int, payload: PatchDict[ProductIn], response: HttpResponse):
    product = selectors.product_get(pk=pk)
    services.product_update(
        product=product,
        actor=request.user,
        fields=_without_nulls(dict(payload), nullable=("unit_cost",)),
        expected_version=expected_version(request),
    )
    product = selectors.product_get(pk=pk)
    set_etag(response, product.version)
    return product


@products_router.delete(
    "/{int:pk}",
    response={204: None, **ERRORS},
    operation_id="product_delete",
    description="Deletes an unused product; a product on line items or orders is deactivated.",
)
def product_delete(request, pk: int):
    services.product_delete(
        product=selectors.product_get(pk=pk),
        actor=request.user,
        expected_version=expected_version(request),
    )
    return Status(204, None)


# ----- price books ------------------------------------------------------------------------


@price_books_router.get(
    "", response={200: PriceBookPage, **ERRORS}, operation_id="price_books_list"
)
def price_books_list(request, params: Query[PriceBookListParams]):
    qs = selectors.price_book_list(is_active=params.is_active)
    return _page(qs, params, selectors.PRICE_BOOK_SORTS)


@price_books_router.post(
    "", response={201: PriceBookOut, **ERRORS}, operation_id="price_book_create"
)
def price_book_create(request, payload: PriceBookIn, response: HttpResponse):
    book = services.price_book_create(actor=request.user, fields=payload.dict())
    book = selectors.price_book_get(pk=book.pk)
    set_etag(response, book.version)
    return Status(201, book)


@price_books_router.get(
    "/{int:pk}", response={200: PriceBookOut, **ERRORS}, operation_id="price_book_get"
)
def price_book_get(request, pk: int, response: HttpResponse):
    book = selectors.price_book_get(pk=pk)
    set_etag(response, book.version)
    return book


@price_books_router.patch(
    "/{int:pk}", response={200: PriceBookOut, **ERRORS}, operation_id="price_book_update"
)
def price_book_update(request, pk: int, payload: PatchDict[PriceBookIn], response: HttpResponse):
    book = selectors.price_book_get(pk=pk)
    services.price_book_update(
        price_book=book,
        actor=request.user,
        fields=_without_nulls(dict(payload)),
        expected_version=expected_version(request),
    )
    book = selectors.price_book_get(pk=pk)
    set_etag(response, book.version)
    return book


@price_books_router.delete(
    "/{int:pk}", response={204: None, **ERRORS}, operation_id="price_book_delete"
)
def price_book_delete(request, pk: int):
    services.price_book_delete(
        price_book=selectors.price_book_get(pk=pk),
        actor=request.user,
        expected_version=expected_version(request),
    )
    return Status(204, None)


@price_books_router.get(
    "/{int:pk}/entries",
    response={200: list[PriceBookEntryOut], **ERRORS},
    operation_id="price_book_entries_list",
)
def price_book_entries_list(request, pk: int):
    return list(selectors.price_book_entries(selectors.price_book_get(pk=pk)))


@price_books_router.put(
    "/{int:pk}/entries/{int:product_id}",
    response={200: PriceBookEntryOut, **ERRORS},
    operation_id="price_book_entry_set",
    summary="Set a product's price in the price book",
)
def price_book_entry_set(request, pk: int, product_id: int, payload: PriceBookEntryIn):
    book = selectors.price_book_get(pk=pk)
    product = selectors.product_get(pk=product_id)
    entry = services.price_book_entry_set(
        price_book=book, product=product, unit_price=payload.unit_price, actor=request.user
    )
    entry.product = product
    return entry


@price_books_router.delete(
    "/{int:pk}/entries/{int:product_id}",
    response={204: None, **ERRORS},
    operation_id="price_book_entry_delete",
)
def price_book_entry_delete(request, pk: int, product_id: int):
    book = selectors.price_book_get(pk=pk)
    product = selectors.product_get(pk=product_id)
    services.price_book_entry_delete(price_book=book, product=product, actor=request.user)
    return Status(204, None)


# ----- exchange rates ---------------------------------------------------------------------


@exchange_rates_router.get(
    "", response={200: ExchangeRatePage, **ERRORS}, operation_id="exchange_rates_list"
)
def exchange_rates_list(request, params: Query[ExchangeRateListParams]):
    qs = selectors.exchange_rate_list(currency=params.currency)
    return _page(qs, params, selectors.EXCHANGE_RATE_SORTS)


@exchange_rates_router.post(
    "", response={201: ExchangeRateOut, **ERRORS}, operation_id="exchange_rate_create"
)
def exchange_rate_create(request, payload: ExchangeRateIn):
    return Status(201, services.exchange_rate_create(actor=request.user, **payload.dict()))


@exchange_rates_router.delete(
    "/{int:pk}", response={204: None, **ERRORS}, operation_id="exchange_rate_delete"
)
def exchange_rate_delete(request, pk: int):
    services.exchange_rate_delete(rate=selectors.exchange_rate_get(pk=pk), actor=request.user)
    return Status(204, None)


class SalesLostReasonChoiceOut(Schema):
    id: int
    name: str
    position: int
    is_active: bool


@opportunities_router.get(
    "/lost-reasons",
    response={200: list[SalesLostReasonChoiceOut], **ERRORS},
    operation_id="opportunity_lost_reasons_list",
)
def lost_reasons_list(request):
    """The admin's lost-reason picklist: a lost stage's `lost_reason` must be one of the
    active names (case ignored) once the list has any; deactivated ones stay on old deals."""
    from rapport.sales.models import LostReason

    return list(LostReason.objects.all())


router.add_router("/pipelines", pipelines_router)
router.add_router("/opportunities", opportunities_router)
router.add_router("/products", products_router)
router.add_router("/price-books", price_books_router)
router.add_router("/exchange-rates", exchange_rates_router)

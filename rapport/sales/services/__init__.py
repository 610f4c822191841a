"""Writes for sales. Views, the API, importers, tasks and the lead conversion call these;
none of them saves a sales model itself."""

from rapport.sales.services.catalog import (
    price_book_create,
    price_book_delete,
    price_book_entry_delete,
    price_book_entry_set,
    price_book_update,
    product_create,
    product_delete,
    product_update,
)
from rapport.sales.services.exchange_rates import exchange_rate_create, exchange_rate_delete
from rapport.sales.services.line_items import line_item_add, line_item_delete, line_item_update
from rapport.sales.services.opportunities import (
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_restore,
    opportunity_update,
)
from rapport.sales.services.pipelines import (
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_move,
    stage_update,
)

__all__ = [
    "exchange_rate_create",
    "exchange_rate_delete",
    "line_item_add",
    "line_item_delete",
    "line_item_update",
    "opportunity_create",
    "opportunity_delete",
    "opportunity_move_stage",
    "opportunity_restore",
    "opportunity_update",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_update",
    "price_book_create",
    "price_book_delete",
    "price_book_entry_delete",
    "price_book_entry_set",
    "price_book_update",
    "product_create",
    "product_delete",
    "product_update",
    "stage_create",
    "stage_delete",
    "stage_move",
    "stage_update",
]

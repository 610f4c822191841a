"""REST endpoints for the installed base (/api/assets): thin wrappers over selectors and
services. An asset is visible with its account or contact; a hidden one is a 404."""

import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.assets import selectors, services
from rapport.assets.warranty import warranty_status
from rapport.records.api import ERRORS, Id, linked_record, page_response
from rapport.sales.models import Product

router = Router(tags=["assets"])

AssetStatusIn = Literal["active", "in_repair", "returned", "replaced", "retired"]


class AssetOut(Schema):
    id: int
    product_id: int
    product_name: str
    account_id: int | None
    contact_id: int | None
    order_line_id: int | None
    serial_number: str
    install_date: datetime.date | None
    location: str
    warranty_end: datetime.date | None
    warranty_status: str = Field(..., description="none, in_warranty, expires_soon or expired")
    status: str
    notes: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_warranty_status(obj) -> str:
        return warranty_status(obj.warranty_end)


class AssetPage(Schema):
    items: list[AssetOut]
    next_cursor: str | None
    count: int | str


class AssetIn(Schema):
    product_id: Id
    account_id: Id | None = None
    contact_id: Id | None = Field(None, description="must belong to account_id when both given")
    serial_number: str = Field("", max_length=100)
    install_date: datetime.date | None = None
    location: str = Field("", max_length=300)
    warranty_end: datetime.date | None = Field(
        None, description="defaults to install_date + the product's warranty months"
    )
    status: AssetStatusIn = "active"
    notes: str = Field("", max_length=10000)


class AssetPatchIn(Schema):
    serial_number: str = Field(..., max_length=100)
    install_date: datetime.date | None
    location: str = Field(..., max_length=300)
    warranty_end: datetime.date | None
    status: AssetStatusIn
    notes: str = Field(..., max_length=10000)


class AssetListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-created_at", description="created_at, install_date, warranty_end")
    account_id: Id | None = None
    contact_id: Id | None = None
    product_id: Id | None = None
    status: AssetStatusIn | None = None
    serial_number: str | None = Field(None, max_length=100)


def _product(pk: int) -> Product:
    from django.core.exceptions import ValidationError

    product = Product.objects.filter(pk=pk).first()
    if product is None:
        raise ValidationError(
            {"product_id": [ValidationError("No such product", code="invalid_product")]}
        )
    return product


@router.get("", response={200: AssetPage, **ERRORS}, operation_id="assets_list")
def assets_list(request, filters: Query[AssetListParams]):
    qs = selectors.asset_list(
        user=request.user,
        account_id=filters.account_id,
        contact_id=filters.contact_id,
        product_id=filters.product_id,
        status=filters.status,
        serial_number=filters.serial_number,
    )
    page = keyset_page(
        qs,
        sort=filters.sort,
        allowed=selectors.ASSET_SORTS,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.post(
    "",
    response={201: AssetOut, **ERRORS},
    operation_id="asset_create",
    summary="Record an installed product by hand",
)
def asset_create(request, payload: AssetIn, response: HttpResponse):
    user = request.user
    data = payload.dict()
    account = linked_record(
        account_get_for_user, user, data.pop("account_id"), "account_id", "account"
    )
    contact = linked_record(
        contact_get_for_user, user, data.pop("contact_id"), "contact_id", "contact"
    )
    product = _product(data.pop("product_id"))
    asset = services.asset_create(
        actor=user, product=product, account=account, contact=contact, **data
    )
    set_etag(response, asset.version)
    return Status(201, selectors.asset_get_for_user(pk=asset.pk, user=user))


@router.get("/{int:pk}", response={200: AssetOut, **ERRORS}, operation_id="asset_get")
def asset_get(request, pk: int, response: HttpResponse):
    asset = selectors.asset_get_for_user(pk=pk, user=request.user)
    set_etag(response, asset.version)
    return asset


@router.patch(
    "/{int:pk}",
    response={200: AssetOut, **ERRORS},
    operation_id="asset_update",
    summary="Change an installed product (If-Match)",
)
def asset_update(request, pk: int, payload: PatchDict[AssetPatchIn], response: HttpResponse):
    asset = selectors.asset_get_for_user(pk=pk, user=request.user)
    services.asset_update(
        asset=asset,
        actor=request.user,
        fields=dict(payload),
        expected_version=expected_version(request),
    )
    asset = selectors.asset_get_for_user(pk=pk, user=request.user)
    set_etag(response, asset.version)
    return asset

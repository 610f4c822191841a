"""REST endpoints for work orders (/api/work-orders): thin wrappers over the selectors and
services. A work order is visible with its account or contact (and to its technician)."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.fieldservice import selectors, services
from rapport.fieldservice.models import WorkOrderTask
from rapport.records.api import ERRORS, Id, active_user, linked_record, page_response
from rapport.records.exceptions import RecordNotFound
from rapport.sales.models import Product

router = Router(tags=["field service"])

WorkOrderStatusIn = Literal["new", "scheduled", "in_progress", "completed", "cancelled"]


class WorkOrderTaskOut(Schema):
    id: int
    label: str
    done: bool
    done_at: datetime.datetime | None


class WorkOrderPartOut(Schema):
    id: int
    product_id: int
    product_name: str
    quantity: Decimal

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name


class WorkOrderOut(Schema):
    id: int
    title: str
    account_id: int | None
    contact_id: int | None
    case_id: int | None
    asset_id: int | None
    address: str
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None
    technician_id: int | None
    status: str
    time_spent_minutes: int
    notes: str
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    signed_by: str
    signed_at: datetime.datetime | None
    signature_file_id: int | None = Field(None, description="the signature PNG's file id")
    photo_file_ids: list[int]
    tasks: list[WorkOrderTaskOut]
    parts: list[WorkOrderPartOut]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_signature_file_id(obj) -> int | None:
        return obj.signature_id

    @staticmethod
    def resolve_photo_file_ids(obj) -> list[int]:
        return [p.file_id for p in obj.photos.all()]

    @staticmethod
    def resolve_tasks(obj) -> list:
        return list(obj.tasks.all())

    @staticmethod
    def resolve_parts(obj) -> list:
        return list(obj.parts.select_related("product"))


class WorkOrderPage(Schema):
    items: list[WorkOrderOut]
    next_cursor: str | None
    count: int | str


class WorkOrderIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    account_id: Id | None = None
    contact_id: Id | None = None
    case_id: Id | None = Field(None, description="the customer defaults to the case's")
    asset_id: Id | None = Field(None, description="the customer defaults to the asset's")
    address: str = Field("", max_length=400, description="defaults to the customer's address")
    scheduled_start: datetime.datetime | None = None
    scheduled_end: datetime.datetime | None = None
    technician_id: Id | None = None
    notes: str = Field("", max_length=20000)
    tasks: list[str] = Field(default_factory=list, max_length=50, description="the checklist")


class WorkOrderPatchIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    address: str = Field(..., max_length=400)
    scheduled_start: datetime.datetime | None
    scheduled_end: datetime.datetime | None
    technician_id: Id | None
    time_spent_minutes: int = Field(..., ge=0, le=100000)
    notes: str = Field(..., max_length=20000)


class WorkOrderStatusChange(Schema):
    status: WorkOrderStatusIn


class WorkOrderTaskIn(Schema):
    label: str = Field(..., min_length=1, max_length=200)


class WorkOrderTaskPatch(Schema):
    done: bool


class WorkOrderPartIn(Schema):
    product_id: Id
    quantity: Decimal = Field(Decimal("1"), gt=0, max_digits=10, decimal_places=2)


class WorkOrderSignatureIn(Schema):
    signed_by: str = Field(..., min_length=1, max_length=200)
    image: str = Field(..., description="a PNG as a data URL (data:image/png;base64,…)")


class WorkOrderListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("scheduled_start", description="scheduled_start, created_at, updated_at")
    technician_id: Id | None = None
    status: list[WorkOrderStatusIn] = Field(default_factory=list, description="any of")
    day: datetime.date | None = Field(None, description="scheduled to start on this day")
    account_id: Id | None = None
    contact_id: Id | None = None
    case_id: Id | None = None
    asset_id: Id | None = None


def _load(request, pk: int):
    return selectors.work_order_get_for_user(pk=pk, user=request.user)


def _answer(request, pk: int, response: HttpResponse):
    wo = _load(request, pk)
    set_etag(response, wo.version)
    return wo


@router.get("", response={200: WorkOrderPage, **ERRORS}, operation_id="work_orders_list")
def work_orders_list(request, filters: Query[WorkOrderListParams]):
    qs = selectors.work_order_list(
        user=request.user,
        technician_id=filters.technician_id,
        status=filters.status,
        day=filters.day,
        account_id=filters.account_id,
        contact_id=filters.contact_id,
        case_id=filters.case_id,
        asset_id=filters.asset_id,
    ).prefetch_related("tasks", "parts__product", "photos")
    page = keyset_page(
        qs,
        sort=filters.sort,
        allowed=selectors.WORK_ORDER_SORTS,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.post("", response={201: WorkOrderOut, **ERRORS}, operation_id="work_order_create")
def work_order_create(request, payload: WorkOrderIn, response: HttpResponse):
    from rapport.assets.selectors import asset_get_for_user
    from rapport.cases.selectors import case_get_for_user

    user = request.user
    data = payload.dict()
    account = linked_record(
        account_get_for_user, user, data.pop("account_id"), "account_id", "account"
    )
    contact = linked_record(
        contact_get_for_user, user, data.pop("contact_id"), "contact_id", "contact"
    )
    case = linked_record(case_get_for_user, user, data.pop("case_id"), "case_id", "case")
    asset = linked_record(asset_get_for_user, user, data.pop("asset_id"), "asset_id", "asset")
    technician = active_user(data.pop("technician_id"), "technician_id")
    wo = services.work_order_create(
        actor=user,
        account=account,
        contact=contact,
        case=case,
        asset=asset,
        technician=technician,
        **data,
    )
    return Status(201, _answer(request, wo.pk, response))


@router.get("/{int:pk}", response={200: WorkOrderOut, **ERRORS}, operation_id="work_order_get")
def work_order_get(request, pk: int, response: HttpResponse):
    return _answer(request, pk, response)


@router.patch(
    "/{int:pk}",
    response={200: WorkOrderOut, **ERRORS},
    operation_id="work_order_update",
    summary="Change a work order (If-Match)",
)
def work_order_update(
    request, pk: int, payload: PatchDict[WorkOrderPatchIn], response: HttpResponse
):
    wo = _load(request, pk)
    fields = dict(payload)
    if "technician_id" in fields:
        fields["technician"] = active_user(fields.pop("technician_id"), "technician_id")
    services.work_order_update(
        work_order=wo, actor=request.user, fields=fields, expected_version=expected_version(request)
    )
    return _answer(request, pk, response)


@router.post(
    "/{int:pk}/status",
    response={200: WorkOrderOut, **ERRORS},
    operation_id="work_order_status",
    summary="Move a work order: new → scheduled → in_progress → completed, or cancelled",
)
def work_order_status(request, pk: int, payload: WorkOrderStatusChange, response: HttpResponse):
    wo = _load(request, pk)
    services.work_order_set_status(
        work_order=wo,
        actor=request.user,
        status=payload.status,
        expected_version=expected_version(request),
    )
    return _answer(request, pk, response)


@router.post(
    "/{int:pk}/tasks",
    response={201: WorkOrderTaskOut, **ERRORS},
    operation_id="work_order_task_add",
)
def work_order_task_add(request, pk: int, payload: WorkOrderTaskIn):
    wo = _load(request, pk)
    return Status(201, services.task_add(work_order=wo, actor=request.user, label=payload.label))


@router.patch(
    "/{int:pk}/tasks/{int:task_id}",
    response={200: WorkOrderTaskOut, **ERRORS},
    operation_id="work_order_task_update",
)
def work_order_task_update(request, pk: int, task_id: int, payload: WorkOrderTaskPatch):
    wo = _load(request, pk)
    task = WorkOrderTask.objects.filter(work_order=wo, pk=task_id).first()
    if task is None:
        raise RecordNotFound("task")
    task.work_order = wo
    return services.task_set_done(task=task, actor=request.user, done=payload.done)


@router.post(
    "/{int:pk}/parts",
    response={201: WorkOrderPartOut, **ERRORS},
    operation_id="work_order_part_add",
)
def work_order_part_add(request, pk: int, payload: WorkOrderPartIn):
    wo = _load(request, pk)
    product = Product.objects.filter(pk=payload.product_id).first()
    if product is None:
        raise ValidationError(
            {"product_id": [ValidationError("No such product", code="invalid_product")]}
        )
    part = services.part_add(
        work_order=wo, actor=request.user, product=product, quantity=payload.quantity
    )
    return Status(201, part)


@router.post(
    "/{int:pk}/signature",
    response={200: WorkOrderOut, **ERRORS},
    operation_id="work_order_sign",
    summary="Store the customer's signature (a PNG data URL)",
)
def work_order_sign(request, pk: int, payload: WorkOrderSignatureIn, response: HttpResponse):
    wo = _load(request, pk)
    png = services.decode_signature(payload.image)
    services.signature_save(work_order=wo, actor=request.user, png=png, signed_by=payload.signed_by)
    return _answer(request, pk, response)

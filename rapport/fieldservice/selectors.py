"""Reads of work orders: a work order is visible with its account or its contact."""

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.fieldservice.models import WorkOrder
from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.records.prepared import Prepared
from rapport.records.visibility import editable, visible_through_parents

WORK_ORDER_PARENTS = {"account": Account, "contact": Contact}
WORK_ORDER_SORTS = {"scheduled_start", "created_at", "updated_at"}


def work_orders_visible_to(user: User) -> QuerySet[WorkOrder]:
    return visible_through_parents(
        WorkOrder.objects.select_related("technician", "asset__product"),
        user,
        WORK_ORDER_PARENTS,
        own_field="technician_id",  # a technician sees the work orders they are sent to
    )


# Asked on every case page: compiled once (rapport/records/prepared.py).
_CASE_HAS_WORK_ORDERS = Prepared(
    lambda case_id: WorkOrder.objects.filter(case_id=case_id).order_by().values_list("pk")[:1], 1
)


def work_orders_of_case(*, case, user: User) -> list[WorkOrder]:
    """The work orders made from a case that the reader may see, newest first. Most cases
    have none: that is asked first, on the case index, and the visibility condition is only
    built and run when there are some."""
    if not _CASE_HAS_WORK_ORDERS(case.pk):
        return []
    return list(work_orders_visible_to(user).filter(case_id=case.pk).order_by("-created_at", "-id"))


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    return start, start + datetime.timedelta(days=1)


def work_order_list(
    *,
    user: User,
    technician_id: int | None = None,
    status: list[str] | None = None,
    day: datetime.date | None = None,
    scheduled_from: datetime.date | None = None,
    scheduled_to: datetime.date | None = None,
    account_id: int | None = None,
    contact_id: int | None = None,
    case_id: int | None = None,
    asset_id: int | None = None,
) -> QuerySet[WorkOrder]:
    qs = work_orders_visible_to(user)
    if technician_id is not None:
        qs = qs.filter(technician_id=technician_id)
    if status:
        qs = qs.filter(status__in=status)
    if day is not None:
        start, end = _day_bounds(day)
        qs = qs.filter(scheduled_start__gte=start, scheduled_start__lt=end)
    if scheduled_from is not None:
        qs = qs.filter(scheduled_start__gte=_day_bounds(scheduled_from)[0])
    if scheduled_to is not None:
        qs = qs.filter(scheduled_start__lt=_day_bounds(scheduled_to)[1])
    for name, value in (
        ("account_id", account_id),
        ("contact_id", contact_id),
        ("case_id", case_id),
        ("asset_id", asset_id),
    ):
        if value is not None:
            qs = qs.filter(**{name: value})
    return qs


def work_order_get_for_user(*, pk: int, user: User) -> WorkOrder:
    try:
        return work_orders_visible_to(user).get(pk=pk)
    except (WorkOrder.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("work order")


def work_order_editable(*, work_order: WorkOrder, user: User) -> bool:
    """Who may change a work order: whoever may change its customer, and its technician."""
    if not user.is_active or user.is_read_only:
        return False
    if work_order.technician_id == user.pk:
        return True
    if (
        work_order.account_id
        and editable(Account.objects.filter(pk=work_order.account_id), user).exists()
    ):
        return True
    return (
        bool(work_order.contact_id)
        and editable(Contact.objects.filter(pk=work_order.contact_id), user).exists()
    )


def technician_day(*, user: User, day: datetime.date) -> QuerySet[WorkOrder]:
    """The technician's own work orders scheduled on `day` (cancelled ones left out)."""
    start, end = _day_bounds(day)
    return (
        work_orders_visible_to(user)
        .filter(technician=user, scheduled_start__gte=start, scheduled_start__lt=end)
        .exclude(status="cancelled")
        .select_related("account", "contact")
        .prefetch_related("tasks", "parts__product", "photos")
        .order_by("scheduled_start", "id")
    )

"""Reads of returns and complaint metrics, through the visibility layer: a return is visible
with its account or contact; the metrics count what the reader may see."""

import datetime
import statistics

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import visible_through_parents
from rapport.returns.models import ReturnRequest

PARENTS = {"account": Account, "contact": Contact}


def returns_visible_to(user) -> QuerySet[ReturnRequest]:
    return visible_through_parents(
        ReturnRequest.objects.select_related(
            "account", "contact", "product", "order_line", "order_line__order", "asset", "case"
        ),
        user,
        PARENTS,
    )


def return_list(user, *, status: str | None = None) -> QuerySet[ReturnRequest]:
    qs = returns_visible_to(user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def return_get_for_user(*, pk: int, user) -> ReturnRequest:
    row = returns_visible_to(user).filter(pk=pk).first()
    if row is None:
        raise RecordNotFound("return")
    return row


def return_order_line_get(*, pk, user):
    """An order line of an order the user may see (RecordNotFound otherwise)."""
    from rapport.orders.models import OrderLine
    from rapport.orders.selectors import orders_visible_to

    pk = str(pk or "")
    line = None
    if pk.isdigit() and len(pk) < 19:
        line = (
            OrderLine.objects.select_related("order", "product")
            .filter(pk=int(pk), order__in=orders_visible_to(user).values("pk"))
            .first()
        )
    if line is None:
        raise RecordNotFound("order line")
    return line


def return_asset_get(*, pk, user):
    """An asset the user may see (RecordNotFound otherwise)."""
    from rapport.assets.selectors import asset_get_for_user

    return asset_get_for_user(pk=pk, user=user)


def return_sources(user, *, account: Account | None = None, q: str = "", limit: int = 25):
    """What a staff user can start a return from: order lines of visible orders and visible
    assets, of one account (already checked as visible by the caller) or matching `q` (an
    order's external id or number, a serial number, a product or customer name)."""
    from rapport.assets.selectors import assets_visible_to
    from rapport.orders.models import OrderLine
    from rapport.orders.selectors import orders_visible_to

    q = (q or "").strip()
    if account is None and not q:
        return [], []
    orders = orders_visible_to(user)
    assets = assets_visible_to(user).select_related("account", "contact")
    if account is not None:
        orders = orders.filter(account_id=account.pk)
        assets = assets.filter(account_id=account.pk)
    if q:
        match = Q(external_id__iexact=q) | Q(account__name__icontains=q)
        if q.isdigit() and len(q) < 19:
            match |= Q(pk=int(q))
        line_match = Q(order__in=orders.filter(match).values("pk")) | Q(
            order__in=orders.values("pk"), product__name__icontains=q
        )
        lines = OrderLine.objects.filter(line_match)
        assets = assets.filter(
            Q(serial_number__icontains=q)
            | Q(product__name__icontains=q)
            | Q(account__name__icontains=q)
        )
    else:
        lines = OrderLine.objects.filter(order__in=orders.values("pk"))
    lines = lines.select_related("order", "order__account", "product").order_by(
        "-order__ordered_at", "-order_id", "id"
    )
    return list(lines[:limit]), list(assets.order_by("-created_at", "-id")[:limit])


def returns_of_visible_parent(*, account: Account | None = None, contact: Contact | None = None):
    """The returns of an account or a contact the caller has already checked as visible."""
    qs = ReturnRequest.objects.select_related("product")
    if account is not None:
        return qs.filter(account_id=account.pk)
    return qs.filter(contact_id=contact.pk)


def return_timeline(row: ReturnRequest):
    from rapport.timeline.models import TimelineEvent

    return TimelineEvent.objects.filter(kind="return_status", payload__return_id=row.pk).order_by(
        "occurred_at", "id"
    )


def metrics(user, *, days: int = 365) -> dict:
    """Return rate by product (units returned / units sold on visible orders in the window),
    complaint resolution time by resolution code (cases whose category is a complaint), and
    repeat complaints (contacts with ≥ 2 complaint cases in the last 90 days)."""
    from rapport.cases.selectors import cases_visible_to
    from rapport.orders.models import OrderLine
    from rapport.orders.selectors import orders_visible_to

    since = timezone.now() - datetime.timedelta(days=days)
    zero = Value(0, output_field=DecimalField(max_digits=14, decimal_places=2))
    sold = (
        OrderLine.objects.filter(
            order__in=orders_visible_to(user).filter(ordered_at__gte=since).values("pk"),
            product__isnull=False,
        )
        .values("product_id", "product__name")
        .annotate(units=Coalesce(Sum("quantity"), zero))
        .order_by()
    )
    returned = {
        r["product_id"]: r["units"]
        for r in returns_visible_to(user)
        .filter(created_at__gte=since, product__isnull=False)
        .exclude(status="rejected")
        .values("product_id")
        .annotate(units=Coalesce(Sum("quantity"), zero))
        .order_by()
    }
    rates = []
    for row in sold:
        units_returned = returned.get(row["product_id"], 0)
        rates.append(
            {
                "product_id": row["product_id"],
                "product": row["product__name"],
                "sold": float(row["units"]),
                "returned": float(units_returned),
                "rate": round(100 * float(units_returned) / float(row["units"]), 1)
                if row["units"]
                else None,
            }
        )
    rates.sort(key=lambda r: (-(r["rate"] or 0), r["product"]))

    complaints = cases_visible_to(user).filter(
        Q(category__is_complaint=True) | Q(subcategory__is_complaint=True), deleted_at=None
    )
    resolved = complaints.filter(resolved_at__isnull=False, created_at__gte=since).annotate(
        took=F("resolved_at") - F("created_at")
    )
    by_code: dict[str, list[float]] = {}
    for code, took in resolved.values_list("resolution_code", "took")[:20000]:
        by_code.setdefault(code or "(none)", []).append(took.total_seconds() / 3600)
    resolution = [
        {
            "resolution_code": code,
            "cases": len(hours),
            "avg_hours": round(sum(hours) / len(hours), 1),
            "median_hours": round(statistics.median(hours), 1),
        }
        for code, hours in sorted(by_code.items())
    ]
    window = timezone.now() - datetime.timedelta(days=90)
    repeat = list(
        complaints.filter(created_at__gte=window, contact__isnull=False)
        .values("contact_id", "contact__first_name", "contact__last_name")
        .annotate(complaints=Count("id"))
        .filter(complaints__gte=2)
        .order_by("-complaints", "contact_id")[:100]
    )
    return {
        "days": days,
        "return_rate_by_product": rates[:100],
        "complaint_resolution": resolution,
        "repeat_complaints": [
            {
                "contact_id": r["contact_id"],
                "name": f"{r['contact__first_name']} {r['contact__last_name']}".strip(),
                "complaints": r["complaints"],
            }
            for r in repeat
        ],
        "open_complaints": complaints.filter(resolved_at__isnull=True).count(),
    }

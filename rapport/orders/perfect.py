"""Perfect-order KPIs (the Seven R's: the right product, in the right quantity, in the right
condition, at the right place and time, with the right paperwork).

Measured over orders with a delivered date (cancelled orders excluded), in the range of
their delivered date:

- **on time**: delivered on or before the promised date (an order without a promise is not
  on time: nobody can say it was);
- **in full**: every line's delivered quantity is at least its ordered quantity (a line
  without a recorded delivered quantity is not in full);
- **perfect**: on time, in full, no line damaged or returned, documentation complete;
- **OTIF**: on time and in full;
- **lead time**: delivered date − order date in days; median and 90th percentile
  (nearest-rank: the smallest value with at least 90 % of orders at or below it).

By channel (the order's) and by product (the orders with a line of the product).
Reads through the order visibility layer: a user measures the orders they may see.
"""

import datetime
import math
from dataclasses import dataclass, field
from statistics import median

from rapport.identity.models import User
from rapport.orders.models import Channel, OrderStatus
from rapport.orders.selectors import orders_visible_to

MAX_PRODUCTS = 12


@dataclass
class Tally:
    orders: int = 0
    on_time: int = 0
    in_full: int = 0
    otif: int = 0
    perfect: int = 0
    lead_days: list[int] = field(default_factory=list)

    def add(self, flags: dict) -> None:
        self.orders += 1
        self.on_time += flags["on_time"]
        self.in_full += flags["in_full"]
        self.otif += flags["on_time"] and flags["in_full"]
        self.perfect += flags["perfect"]
        if flags["lead_days"] is not None:
            self.lead_days.append(flags["lead_days"])

    def as_dict(self) -> dict:
        def rate(n: int) -> float | None:
            return round(n / self.orders, 4) if self.orders else None

        return {
            "orders": self.orders,
            "perfect": self.perfect,
            "perfect_rate": rate(self.perfect),
            "on_time_rate": rate(self.on_time),
            "in_full_rate": rate(self.in_full),
            "otif": self.otif,
            "otif_rate": rate(self.otif),
            "lead_time_median_days": _median(self.lead_days),
            "lead_time_p90_days": p90(self.lead_days),
        }


def _median(values: list[int]) -> float | None:
    return float(median(values)) if values else None


def p90(values: list[int]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])


def order_flags(order, lines) -> dict:
    """Whether one delivered order was on time, in full and perfect, and its lead time."""
    on_time = bool(
        order.promised_date and order.delivered_date and order.delivered_date <= order.promised_date
    )
    in_full = bool(lines) and all(
        line.quantity_delivered is not None and line.quantity_delivered >= line.quantity
        for line in lines
    )
    clean = all(not line.quantity_damaged and not line.quantity_returned for line in lines)
    ordered_day = order.ordered_at.date()
    lead = (order.delivered_date - ordered_day).days if order.delivered_date else None
    return {
        "on_time": on_time,
        "in_full": in_full,
        "perfect": on_time and in_full and clean and order.documentation_complete,
        "lead_days": lead,
    }


def perfect_order_metrics(
    *,
    user: User,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    channel: str | None = None,
) -> dict:
    """The KPIs overall, by channel and by product (the products with most orders)."""
    from django.utils import timezone

    qs = (
        orders_visible_to(user)
        .filter(delivered_date__isnull=False)
        .exclude(status=OrderStatus.CANCELLED)
    )
    if start:
        qs = qs.filter(delivered_date__gte=start)
    if end:
        qs = qs.filter(delivered_date__lte=end)
    if channel:
        qs = qs.filter(channel=channel)
    qs = qs.prefetch_related("lines__product")
    overall = Tally()
    by_channel: dict[str, Tally] = {}
    by_product: dict[int, Tally] = {}
    names: dict[int, str] = {}
    for order in qs.iterator(chunk_size=2000):
        if timezone.is_aware(order.ordered_at):
            order.ordered_at = timezone.localtime(order.ordered_at)
        lines = list(order.lines.all())
        flags = order_flags(order, lines)
        overall.add(flags)
        by_channel.setdefault(order.channel, Tally()).add(flags)
        for product_id in {ln.product_id for ln in lines if ln.product_id}:
            by_product.setdefault(product_id, Tally()).add(flags)
        for ln in lines:
            if ln.product_id:
                names[ln.product_id] = ln.product.name
    labels = dict(Channel.choices)
    products = sorted(by_product.items(), key=lambda kv: (-kv[1].orders, names[kv[0]]))
    return {
        "start": start,
        "end": end,
        "overall": overall.as_dict(),
        "by_channel": [
            {"channel": key, "label": labels.get(key, key), **tally.as_dict()}
            for key, tally in sorted(by_channel.items())
        ],
        "by_product": [
            {"product_id": pid, "label": names[pid], **tally.as_dict()}
            for pid, tally in products[:MAX_PRODUCTS]
        ],
    }

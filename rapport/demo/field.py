"""Demo data of the field branch: delivery data on orders (perfect order), and a week of
work orders for one technician on accounts with installed products.

Tracked products are flagged in builder.py before the orders are placed, so the order
services make the assets themselves (one per unit sold). Uses its own random generator so
the rest of the demo stays as it was."""

import datetime
import random
from decimal import Decimal

from django.utils import timezone

TASKS = [
    ["Check the installation", "Update the firmware", "Test with the customer"],
    ["Replace the filter", "Clean the unit", "Record the readings"],
    ["Diagnose the fault", "Replace the faulty part", "Run a full cycle"],
]
TITLES = ["Annual maintenance", "Installation", "Repair visit", "Warranty check", "Site survey"]


def demo_delivery(*, seed: int) -> int:
    """Promised, shipped and delivered dates and delivered quantities on most orders: a
    mix of perfect orders, late ones, short ones, damaged ones and missing paperwork."""
    from rapport.orders.models import Order, OrderLine

    rng = random.Random(seed + 14)
    today = timezone.localdate()
    orders = list(Order.objects.prefetch_related("lines").order_by("pk"))
    changed_orders, changed_lines = [], []
    for order in orders:
        ordered = timezone.localtime(order.ordered_at).date()
        promised = ordered + datetime.timedelta(days=rng.choice([2, 3, 3, 5, 7]))
        order.promised_date = promised
        lead = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8, 12])
        delivered = ordered + datetime.timedelta(days=lead)
        if delivered > today:
            changed_orders.append(order)
            continue
        order.shipped_date = delivered - datetime.timedelta(days=min(lead, 1))
        order.delivered_date = delivered
        order.documentation_complete = rng.random() > 0.08
        changed_orders.append(order)
        for line in order.lines.all():
            line.quantity_delivered = line.quantity
            roll = rng.random()
            if roll < 0.06 and line.quantity > 1:
                line.quantity_delivered = line.quantity - 1
            elif roll < 0.10:
                line.quantity_damaged = Decimal(1)
            elif roll < 0.13:
                line.quantity_returned = Decimal(1)
            changed_lines.append(line)
    Order.objects.bulk_update(
        changed_orders,
        ["promised_date", "shipped_date", "delivered_date", "documentation_complete"],
        batch_size=500,
    )
    OrderLine.objects.bulk_update(
        changed_lines,
        ["quantity_delivered", "quantity_damaged", "quantity_returned"],
        batch_size=500,
    )
    return len(changed_orders)


def demo_work_orders(*, manager, technician, seed: int) -> int:
    """A week of work orders for `technician` (two days back to four days ahead), on
    accounts with installed products; the past ones done and signed off."""
    from django.db.models import Q

    from rapport.assets.models import Asset
    from rapport.cases.models import Case
    from rapport.fieldservice.models import WorkOrder, WorkOrderStatus
    from rapport.fieldservice.services import task_set_done, work_order_create

    rng = random.Random(seed + 41)
    assets = list(
        Asset.objects.select_related("account", "product")
        .filter(account__isnull=False)
        .order_by("pk")[:200]
    )
    if not assets:
        return 0
    today = timezone.localdate()
    made = 0
    for offset in range(-2, 5):  # two days done, today and the four days ahead
        day = today + datetime.timedelta(days=offset)
        for hour in rng.sample([8, 10, 13, 15], k=rng.randint(2, 3)):
            asset = rng.choice(assets)
            start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))
            # A case of the customer, when there is one, so its page lists the work order.
            case = (
                Case.objects.filter(account_id=asset.account_id)
                .filter(Q(contact__isnull=True) | Q(contact__account_id=asset.account_id))
                .order_by("id")
                .first()
            )
            wo = work_order_create(
                actor=manager,
                title=f"{rng.choice(TITLES)}: {asset.product.name}",
                asset=asset,
                case=case,
                scheduled_start=start,
                scheduled_end=start + datetime.timedelta(hours=rng.choice([1, 2])),
                technician=technician,
                tasks=rng.choice(TASKS),
            )
            made += 1
            if day < today:
                for task in wo.tasks.all():
                    task_set_done(task=task, actor=technician, done=True)
                WorkOrder.objects.filter(pk=wo.pk).update(
                    status=WorkOrderStatus.COMPLETED,
                    started_at=start,
                    completed_at=start + datetime.timedelta(minutes=75),
                    time_spent_minutes=rng.choice([45, 60, 75, 90]),
                    signed_by=f"{asset.account.name} (on site)",
                    signed_at=start + datetime.timedelta(minutes=80),
                )
    return made

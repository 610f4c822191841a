"""Close some demo accounts, with a planted effect, so that the supervised churn model of
analytics (rapport/analytics/closed_churn.py) has something to learn.

Among the accounts that bought, the less engaged ones (fewest activities and orders in the
last 90 days) are far more likely to be closed: 55 % of the lower half, 8 % of the upper
half. A closed account's closing day is a few weeks after its last order (never in the
future). The closing goes through `account_close`, so each one is on the account's timeline.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable

from django.db.models import Count, Max, Q
from django.utils import timezone

RECENT_DAYS = 90
CLOSE_LOW_ENGAGEMENT = 0.55
CLOSE_HIGH_ENGAGEMENT = 0.08
REASONS = [
    "Moved to a competitor",
    "Business closed",
    "Budget cut",
    "No longer needs the product",
    "Merged into another company",
]


def close_demo_accounts(*, seed: int = 42, progress: Callable[[str], None] | None = None) -> int:
    """Close a share of the buying accounts, the disengaged ones first; returns how many."""
    from rapport.accounts.models import Account
    from rapport.accounts.services import account_close

    rng = random.Random(seed)
    today = timezone.localdate()
    since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    buyers = list(
        Account.objects.filter(closed_at__isnull=True, orders__isnull=False)
        .select_related("owner")
        .annotate(
            last_order=Max("orders__ordered_at"),
            recent_orders=Count("orders", filter=Q(orders__ordered_at__gte=since), distinct=True),
            recent_activities=Count(
                "activities", filter=Q(activities__occurred_at__gte=since), distinct=True
            ),
        )
        .order_by("pk")
    )
    if not buyers:
        return 0
    engagement = sorted(a.recent_orders + a.recent_activities for a in buyers)
    median = engagement[len(engagement) // 2]
    closed = 0
    for account in buyers:
        low = account.recent_orders + account.recent_activities < median
        if rng.random() >= (CLOSE_LOW_ENGAGEMENT if low else CLOSE_HIGH_ENGAGEMENT):
            continue
        last = timezone.localtime(account.last_order).date()
        day = min(last + datetime.timedelta(days=rng.randint(14, 60)), today)
        account_close(
            account=account, actor=account.owner, closed_at=day, reason=rng.choice(REASONS)
        )
        closed += 1
    if progress:
        progress(f"{closed} accounts closed (the less engaged ones, for the churn model)")
    return closed

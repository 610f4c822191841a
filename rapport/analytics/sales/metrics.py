"""Sales reports over the opportunities a user can see: win/loss with lost reasons, time in
stage, pipeline velocity, the stage conversion funnel and activities per rep.

Amounts are converted to the organisation's currency at each deal's close (or creation)
date; a deal whose currency has no rate is counted but left out of the amounts and reported
as `unconverted`, never guessed."""

from __future__ import annotations

import datetime
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from rapport.activities.selectors import activities_visible_to
from rapport.sales.models import Pipeline, StageChange, StageKind
from rapport.sales.selectors import (
    ExchangeRateMissing,
    convert_to_org_currency,
    default_pipeline,
    exchange_rate_table,
    opportunities_visible_to,
)


@dataclass(frozen=True)
class SalesFilters:
    start: datetime.date
    end: datetime.date
    pipeline: Pipeline


def default_filters(pipeline: Pipeline | None = None) -> SalesFilters:
    today = timezone.localdate()
    return SalesFilters(
        start=today - datetime.timedelta(days=180),
        end=today,
        pipeline=pipeline or default_pipeline() or Pipeline.objects.order_by("id").first(),
    )


def _bounds(f: SalesFilters) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(f.start, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(
        f.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
    )
    return start, end


def _days(delta: datetime.timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def sales_metrics(*, user, filters: SalesFilters) -> dict[str, Any]:
    start, end = _bounds(filters)
    now = timezone.now()
    table = exchange_rate_table()
    unconverted = 0

    def org(amount, currency, on) -> Decimal | None:
        nonlocal unconverted
        try:
            return convert_to_org_currency(amount, currency, on, table=table)
        except ExchangeRateMissing:
            unconverted += 1
            return None

    visible = opportunities_visible_to(user).filter(pipeline=filters.pipeline)
    stages = list(filters.pipeline.stages.order_by("position", "id"))
    open_stages = [s for s in stages if s.kind == StageKind.OPEN]

    # ----- win / loss: deals closed in the period
    closed = list(
        visible.filter(
            closed_at__gte=start, closed_at__lt=end, stage__kind__in=["won", "lost"]
        ).select_related("stage")
    )
    won = [o for o in closed if o.stage.kind == StageKind.WON]
    lost = [o for o in closed if o.stage.kind == StageKind.LOST]
    won_amounts = [a for o in won if (a := org(o.amount, o.currency, o.closed_at)) is not None]
    lost_amounts = [a for o in lost if (a := org(o.amount, o.currency, o.closed_at)) is not None]
    reasons = Counter((o.lost_reason or "").strip() or "(no reason given)" for o in lost)
    win_rate = len(won) / len(closed) if closed else None
    cycles = [_days(o.closed_at - o.created_at) for o in won]
    avg_deal = (sum(won_amounts) / len(won_amounts)) if won_amounts else None
    avg_cycle = (sum(cycles) / len(cycles)) if cycles else None

    # ----- velocity: open deals × win rate × average won deal / average cycle (per day)
    open_count = visible.filter(stage__kind=StageKind.OPEN).count()
    velocity = None
    if win_rate is not None and avg_deal is not None and avg_cycle:
        velocity = (Decimal(open_count) * Decimal(str(win_rate)) * avg_deal) / Decimal(
            str(avg_cycle)
        )

    # ----- time in stage and the funnel: from the stage history of visible deals
    created = visible.filter(created_at__gte=start, created_at__lt=end)
    created_ids = set(created.values_list("pk", flat=True))
    history = (
        StageChange.objects.filter(opportunity__in=visible)
        .order_by("opportunity_id", "changed_at", "id")
        .values_list("opportunity_id", "to_stage_id", "changed_at")
    )
    stints: dict[int, list[float]] = defaultdict(list)
    entered: dict[int, set[int]] = defaultdict(set)
    previous: tuple[int, int, datetime.datetime] | None = None
    for opp_id, stage_id, at in history.iterator(chunk_size=5000):
        if previous is not None and previous[0] == opp_id and start <= at < end:
            stints[previous[1]].append(_days(at - previous[2]))
        if opp_id in created_ids:
            entered[opp_id].add(stage_id)
        previous = (opp_id, stage_id, at)
    position = {s.pk: s.position for s in open_stages}  # a lost deal got as far as it got
    won_ids = {s.pk for s in stages if s.kind == StageKind.WON}
    reached: Counter = Counter()
    for stage_ids in entered.values():
        furthest = max((position[s] for s in stage_ids if s in position), default=-1)
        is_won = bool(stage_ids & won_ids)
        for s in open_stages:
            if is_won or s.position <= furthest:
                reached[s.pk] += 1
        if is_won:
            reached["won"] += 1
    funnel = []
    for i, s in enumerate(open_stages):
        nxt = reached[open_stages[i + 1].pk] if i + 1 < len(open_stages) else reached["won"]
        funnel.append(
            {
                "stage": s.name,
                "reached": reached[s.pk],
                "to_next": (nxt / reached[s.pk]) if reached[s.pk] else None,
            }
        )
    funnel.append({"stage": "Won", "reached": reached["won"], "to_next": None})

    time_in_stage = [
        {
            "stage": s.name,
            "stints": len(stints[s.pk]),
            "median_days": _median(stints[s.pk]),
            "mean_days": round(sum(stints[s.pk]) / len(stints[s.pk]), 1) if stints[s.pk] else None,
        }
        for s in open_stages
    ]

    # ----- activities per rep in the period
    per_rep = (
        activities_visible_to(user)
        .filter(occurred_at__gte=start, occurred_at__lt=end)
        .values("owner__username", "kind")
        .annotate(n=Count("id"))
        .order_by("owner__username", "kind")
    )
    reps: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in per_rep:
        reps[row["owner__username"] or "—"][row["kind"]] += row["n"]
    kinds = sorted({k for counts in reps.values() for k in counts})
    activities = sorted(
        (
            {
                "rep": rep,
                "total": sum(counts.values()),
                "by_kind": dict(counts),
                "counts": [counts.get(k, 0) for k in kinds],
            }
            for rep, counts in reps.items()
        ),
        key=lambda r: (-r["total"], r["rep"]),
    )

    return {
        "currency": settings.RAPPORT_CURRENCY,
        "period": {"start": filters.start, "end": filters.end},
        "pipeline": {"id": filters.pipeline.pk, "name": filters.pipeline.name},
        "win_loss": {
            "won": len(won),
            "lost": len(lost),
            "win_rate": win_rate,
            "won_amount": sum(won_amounts, Decimal("0")),
            "lost_amount": sum(lost_amounts, Decimal("0")),
            "lost_reasons": [{"reason": r, "deals": n} for r, n in reasons.most_common()],
        },
        "velocity": {
            "open_deals": open_count,
            "average_won_amount": avg_deal.quantize(Decimal("0.01")) if avg_deal else None,
            "average_cycle_days": round(avg_cycle, 1) if avg_cycle else None,
            "per_day": velocity.quantize(Decimal("0.01")) if velocity is not None else None,
            "per_30_days": (velocity * 30).quantize(Decimal("0.01"))
            if velocity is not None
            else None,
        },
        "time_in_stage": time_in_stage,
        "funnel": funnel,
        "funnel_cohort": len(created_ids),
        "activities": {"kinds": kinds, "reps": activities},
        "unconverted": unconverted,
        "generated_at": now,
    }

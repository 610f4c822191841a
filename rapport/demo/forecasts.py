"""Demo data of forecasts (issue 15, branch fcst): a year of closed deals in the past with
their stage history (the rest of the demo is written in one instant, so the backtest would
have nothing to replay), quotas for the reps and teams this quarter, next quarter and this
month, a submitted forecast of Sam's and a few forecast categories set on open deals."""

import datetime
import random
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone


def demo_forecasts(*, admin, say=print) -> int:
    from rapport.forecasts import services
    from rapport.forecasts.models import Quota
    from rapport.forecasts.periods import MONTH, QUARTER, period_containing
    from rapport.identity.models import Role, Team, User
    from rapport.sales.models import Opportunity

    today = timezone.localdate()
    quarter = period_containing(QUARTER, today)
    month = period_containing(MONTH, today)
    made = 0
    reps = list(User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("username"))
    history = _past_deals(reps, today)
    for rep in reps:
        # A stretch: the quarter's won and due pipeline together, less a little.
        won = Opportunity.objects.filter(
            owner=rep,
            stage__kind__in=["won", "open"],
            expected_close_date__gte=quarter.start,
            expected_close_date__lt=quarter.end,
        ).aggregate(total=Sum("amount"))["total"] or Decimal("50000")
        target = max(Decimal("50000"), Decimal(won) * Decimal("0.8")).quantize(Decimal("5000"))
        for period, amount in (
            (quarter, target),
            (quarter.shifted(1), target),
            (month, (target / 3).quantize(Decimal("100"))),
        ):
            services.quota_set(actor=admin, period=period, amount=amount, user=rep)
            made += 1
    for team in Team.objects.all():
        members = [r for r in reps if r.team_id == team.pk]
        if not members:
            continue
        total = sum(
            (
                q.amount
                for q in Quota.objects.filter(
                    user__in=members, period_kind=QUARTER, period_start=quarter.start
                )
            ),
            Decimal("0"),
        )
        services.quota_set(actor=admin, period=quarter, amount=total, team=team)
        made += 1
    sam = next((r for r in reps if r.username == "sam"), None)
    if sam is not None:
        open_deals = Opportunity.objects.filter(owner=sam, stage__kind="open").order_by(
            "-amount", "id"
        )
        due = [
            o
            for o in open_deals
            if o.expected_close_date and quarter.start <= o.expected_close_date < quarter.end
        ]
        for opp, category in zip(due[:3], ["commit", "commit", "best_case"], strict=False):
            services.opportunity_category_set(actor=sam, opportunity=opp, category=category)
        committed = sum((o.amount for o in due[:2]), Decimal("0"))
        services.commit_submit(
            actor=sam,
            period=quarter,
            amount=committed.quantize(Decimal("1")),
            note="The two largest deals due this quarter",
        )
    say(f"{history} past deals with stage history, {made} quotas, a submitted forecast")
    return made


def _past_deals(reps, today, months: int = 24, seed: int = 15) -> int:
    """Deals of the last `months` months: created, moved through the open stages and won or
    lost at their real (past) dates, so time in stage, conversion, slip and the backtest
    have history. Written directly (the services stamp "now")."""
    from rapport.sales.models import Opportunity, Pipeline, StageChange

    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None or not reps:
        return 0
    stages = list(pipeline.stages.order_by("position", "id"))
    open_stages = [st for st in stages if st.kind == "open"]
    won = next(st for st in stages if st.kind == "won")
    lost = next(st for st in stages if st.kind == "lost")
    rng = random.Random(seed)
    start = today - datetime.timedelta(days=months * 30)
    made = 0
    changes = []
    for i in range(months * 8):
        rep = reps[i % len(reps)]
        created_day = start + datetime.timedelta(days=rng.randint(0, months * 30 - 45))
        created = timezone.make_aware(datetime.datetime.combine(created_day, datetime.time(10)))
        reached = rng.randint(1, len(open_stages))
        outcome = won if rng.random() < 0.2 + 0.15 * reached else lost
        at = created
        moves = []
        for stage in open_stages[:reached]:
            moves.append((at, stage))
            at += datetime.timedelta(days=rng.randint(4, 25))
        expected = (at - datetime.timedelta(days=rng.randint(-5, 20))).date()
        amount = Decimal(rng.randint(20, 400) * 100)
        opp = Opportunity.objects.create(
            owner=rep,
            team_id=rep.team_id,
            name=f"Past deal {i + 1}",
            pipeline=pipeline,
            stage=outcome,
            amount=amount,
            probability=outcome.probability,
            expected_close_date=expected,
            closed_at=at,
            lost_reason="" if outcome == won else "Budget cut",
            stage_changed_at=at,
        )
        Opportunity.objects.filter(pk=opp.pk).update(created_at=created, updated_at=at)
        before = None
        for moment, stage in [*moves, (at, outcome)]:
            changes.append(
                StageChange(
                    opportunity=opp,
                    from_stage=before,
                    to_stage=stage,
                    changed_at=moment,
                    changed_by=rep,
                    amount=amount,
                )
            )
            before = stage
        made += 1
    StageChange.objects.bulk_create(changes)
    return made

"""Demo data of forecasts (issue 15, branch fcst): quotas for the reps and teams this
quarter, next quarter and this month (about a tenth above what each won last quarter), a
submitted forecast of Sam's and a few forecast categories set on open deals."""

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
    last = quarter.shifted(-1)
    month = period_containing(MONTH, today)
    made = 0
    reps = list(User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("username"))
    for rep in reps:
        won = Opportunity.objects.filter(
            owner=rep,
            stage__kind="won",
            closed_at__date__gte=last.start,
            closed_at__date__lt=last.end,
        ).aggregate(total=Sum("amount"))["total"] or Decimal("50000")
        target = (Decimal(won) * Decimal("1.1")).quantize(Decimal("1000"))
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
    say(f"{made} quotas, a submitted forecast")
    return made

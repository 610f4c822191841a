"""Forecast reads for a viewer: one scope and period, its quota, commits, categories, the
per-rep roll-up, the probabilistic range and the backtest. Deals come only from
`opportunities_visible_to(viewer)`; page and API call the same functions."""

import datetime
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from rapport.forecasts.access import Scope, quotas_visible_q, scope_filter
from rapport.forecasts.compute import backtest, forecast_period
from rapport.forecasts.history import (
    learn_columns,
    load_closed,
    load_closed_columns,
    load_history,
    load_open,
)
from rapport.forecasts.models import Category, ForecastSubmission, OpportunityCategory, Quota
from rapport.forecasts.periods import Period
from rapport.identity.models import Role, User
from rapport.records.visibility import managed_team_ids
from rapport.sales.models import Opportunity
from rapport.sales.selectors import opportunities_visible_to

COMMIT_AT, BEST_CASE_AT = 0.7, 0.4  # default categories from the win probability


def default_category(probability: float) -> str:
    if probability >= COMMIT_AT:
        return Category.COMMIT
    if probability >= BEST_CASE_AT:
        return Category.BEST_CASE
    return Category.PIPELINE


def learned_probabilities(ids) -> dict[int, float]:
    """Calibrated win probabilities where the scoring model beat the stage default."""
    from rapport.scoring.models import OpportunityScore

    return {
        opp_id: p
        for opp_id, p in OpportunityScore.objects.filter(
            opportunity_id__in=ids, source="model", learned__isnull=False
        ).values_list("opportunity_id", "learned")
    }


def quota_list(viewer: User, period: Period):
    return (
        Quota.objects.filter(quotas_visible_q(viewer))
        .filter(period_kind=period.kind, period_start=period.start)
        .select_related("user", "team", "territory")
    )


def quota_of(scope: Scope, period: Period) -> Decimal | None:
    if scope.kind == "all":
        return None
    field = {"user": "user_id", "team": "team_id", "territory": "territory_id"}[scope.kind]
    return (
        Quota.objects.filter(
            **{field: scope.pk}, period_kind=period.kind, period_start=period.start
        )
        .values_list("amount", flat=True)
        .first()
    )


def latest_commits(user_ids, period: Period) -> dict[int, ForecastSubmission]:
    out: dict[int, ForecastSubmission] = {}
    for row in ForecastSubmission.objects.filter(
        user_id__in=user_ids, period_kind=period.kind, period_start=period.start
    ).order_by("user_id", "submitted_at", "id"):
        out[row.user_id] = row
    return out


def commit_history(user: User, period: Period):
    return ForecastSubmission.objects.filter(
        user=user, period_kind=period.kind, period_start=period.start
    ).order_by("-submitted_at", "-id")


def _people(viewer: User, scope: Scope, owner_ids: set[int]) -> list[User]:
    """The reps of a roll-up: owners of the scope's deals the viewer may see, plus (team
    scope) the members below the team."""
    q = Q(pk__in=owner_ids)
    if scope.kind == "team":
        from rapport.forecasts.access import _team_tree

        q |= Q(team_id__in=_team_tree(scope.pk), is_active=True) & ~Q(role=Role.READ_ONLY)
    people = User.objects.filter(q).order_by("first_name", "last_name", "username")
    if not viewer.is_admin:
        managed = managed_team_ids(viewer)
        people = people.filter(Q(pk=viewer.pk) | Q(team_id__in=managed) | Q(pk__in=owner_ids))
    return list(people)


def _ratio(a, b):
    return float(a) / float(b) if b else None


def forecast(
    viewer: User,
    period: Period,
    scope: Scope,
    *,
    now: datetime.datetime | None = None,
    sims: int = 1000,
) -> dict:
    """Everything the forecast page and `GET /api/forecasts` show for one scope and period.

    The open deals (`load_open`) and the closed ones, which the forecast learns from and
    sums as won (`load_closed`), are read as columns: no Deal rows. One simulation serves
    the scope and every rep: each rep's range comes from the scope's runs."""
    now = now or timezone.now()
    qs = opportunities_visible_to(viewer).filter(scope_filter(scope))
    history, everything = load_closed_columns()
    closed_ids = np.fromiter(
        qs.exclude(stage__kind="open").values_list("id", flat=True).order_by(), dtype=np.int64
    )
    closed = everything.subset(np.isin(everything.id, closed_ids))
    history.unconverted += closed.unconverted()
    open_deals = load_open(qs, history, now)
    scores = learned_probabilities(qs.filter(stage__kind="open").values("id"))
    learned = learn_columns(history.stages, everything, now)
    result = forecast_period(
        history,
        [],
        period,
        moment=now,
        scores=scores,
        learned=learned,
        sims=sims,
        open_deals=open_deals,
        closed=closed,
    )
    today = timezone.localtime(now).date()

    # Categories over open deals expected to close in the period.
    set_categories = dict(
        OpportunityCategory.objects.filter(opportunity_id__in=qs.values("id")).values_list(
            "opportunity_id", "category"
        )
    )
    inputs = result["input"]
    categories = {c.value: 0.0 for c in Category}
    pipeline_in_period = 0.0
    in_period = open_deals.in_period(period)
    rows = []  # (position in the inputs, id) of the open deals expected in the period
    if len(result["deals"]):
        picked = np.asarray(result["deals"])
        chosen = np.flatnonzero(in_period[picked])
        for i, pk in zip(chosen.tolist(), open_deals.id[picked[chosen]].tolist(), strict=True):
            p = float(inputs.p_win[i])
            category = set_categories.get(pk) or default_category(p)
            categories[category] += float(inputs.amount[i])
            pipeline_in_period += float(inputs.amount[i])
            rows.append((i, pk))
    won = result["won"]
    quota = quota_of(scope, period)
    remaining = max(0.0, float(quota) - won) if quota is not None else None

    commit = None
    if scope.kind == "user":
        row = latest_commits([scope.pk], period).get(scope.pk)
        commit = float(row.amount) if row else None

    reps = []
    if scope.kind != "user":
        owners = {o for o in result["owners"] if o}
        people = _people(viewer, scope, owners)
        commits = latest_commits([u.pk for u in people], period)
        quotas = dict(
            Quota.objects.filter(
                user_id__in=[u.pk for u in people],
                period_kind=period.kind,
                period_start=period.start,
            ).values_list("user_id", "amount")
        )
        pipeline_of: dict[int, float] = {}
        if rows:
            owner_of = open_deals.owner_id[np.asarray(result["deals"])]
            for i, _ in rows:
                owner = int(owner_of[i])
                pipeline_of[owner] = pipeline_of.get(owner, 0.0) + float(inputs.amount[i])
        nothing = {"won": 0.0, "naive": 0.0, "p50": 0.0}
        for person in people:
            part = result["owners"].get(person.pk, nothing)
            q = quotas.get(person.pk)
            reps.append(
                {
                    "user_id": person.pk,
                    "name": person.get_full_name() or person.username,
                    "quota": float(q) if q is not None else None,
                    "commit": float(commits[person.pk].amount) if person.pk in commits else None,
                    "won": part["won"],
                    "pipeline": pipeline_of.get(person.pk, 0.0),
                    "naive": part["naive"],
                    "p50": part["p50"],
                    "attainment": _ratio(part["won"], q) if q is not None else None,
                }
            )
        commit = sum(r["commit"] for r in reps if r["commit"] is not None) if commits else None

    top = sorted(rows, key=lambda r: (-float(inputs.amount[r[0]]), r[1]))[:25]
    named = {
        pk: (name, close)
        for pk, name, close in Opportunity.objects.filter(pk__in=[pk for _, pk in top]).values_list(
            "id", "name", "expected_close_date"
        )
    }
    open_rows = [
        {
            "id": pk,
            "name": named[pk][0],
            "amount": float(inputs.amount[i]),
            "probability": float(inputs.p_win[i]),
            "expected_close_date": named[pk][1],
            "category": set_categories.get(pk) or default_category(float(inputs.p_win[i])),
            "category_set": pk in set_categories,
        }
        for i, pk in top
    ]

    return {
        "period": period,
        "scope": scope,
        "as_of": today,
        "currency": settings.RAPPORT_CURRENCY,
        "won": won,
        "quota": float(quota) if quota is not None else None,
        "attainment": _ratio(won, quota) if quota is not None else None,
        "remaining_quota": remaining,
        "pipeline": pipeline_in_period,
        "coverage": _ratio(pipeline_in_period, remaining) if remaining else None,
        "commit": commit,
        "categories": {"closed": won, **categories},
        "p10": result["p10"],
        "p50": result["p50"],
        "p90": result["p90"],
        "mean": result["mean"],
        "naive": result["naive"],
        "open_deals": result["open_deals"],
        "histogram": result["histogram"],
        "notes": result["notes"]
        + (
            [f"{history.unconverted} amounts without an exchange rate were left out."]
            if history.unconverted
            else []
        ),
        "reps": reps,
        "deals": open_rows,
    }


def forecast_backtest(
    viewer: User, period: Period, scope: Scope, *, periods: int = 6, history=None, sims=500
) -> dict:
    qs = opportunities_visible_to(viewer).filter(scope_filter(scope))
    history = history or load_history()
    ids = set(qs.values_list("id", flat=True))
    deals = [d for d in history.deals if d.id in ids]
    return backtest(history, deals, period, closed=load_closed(history), periods=periods, sims=sims)


def quota_card(user: User, *, today: datetime.date | None = None) -> dict | None:
    """The user's quota this quarter with attainment and coverage, for their home page; None
    (one query) when they have no quota. Their own deals only, in the organisation's
    currency."""
    from rapport.forecasts.periods import QUARTER, period_containing
    from rapport.sales.models import Opportunity
    from rapport.sales.selectors import (
        ExchangeRateMissing,
        convert_to_org_currency,
        exchange_rate_table,
    )

    period = period_containing(QUARTER, today or timezone.localdate())
    quota = quota_of(Scope("user", user.pk, "Me"), period)
    if quota is None:
        return None
    won = pipeline = 0.0
    table = None
    rows = Opportunity.objects.filter(owner=user).filter(
        Q(
            stage__kind="won",
            closed_at__gte=timezone.make_aware(
                datetime.datetime.combine(period.start, datetime.time.min)
            ),
            closed_at__lt=timezone.make_aware(
                datetime.datetime.combine(period.end, datetime.time.min)
            ),
        )
        | Q(
            stage__kind="open",
            expected_close_date__gte=period.start,
            expected_close_date__lt=period.end,
        )
    )
    for amount, currency, kind, closed_at in rows.values_list(
        "amount", "currency", "stage__kind", "closed_at"
    ):
        if currency.upper() != settings.RAPPORT_CURRENCY.upper() and table is None:
            table = exchange_rate_table()
        try:
            value = float(convert_to_org_currency(amount, currency, closed_at, table=table))
        except ExchangeRateMissing:
            continue
        if kind == "won":
            won += value
        else:
            pipeline += value
    remaining = max(0.0, float(quota) - won)
    return {
        "period": period,
        "quota": float(quota),
        "won": won,
        "attainment": _ratio(won, quota),
        "attainment_pct": round(won / float(quota) * 100) if quota else 0,
        "pipeline": pipeline,
        "coverage": _ratio(pipeline, remaining) if remaining else None,
        "currency": settings.RAPPORT_CURRENCY,
    }

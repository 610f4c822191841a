"""Forecasts over REST (/api/forecasts): the forecast of a scope and period with its range,
the backtest, quotas (read what you may, PUT where you may) and your own commit."""

import datetime
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from rapport.forecasts import selectors, services
from rapport.forecasts.access import resolve_scope
from rapport.forecasts.models import Category
from rapport.forecasts.periods import QUARTER, parse_period, period_containing
from rapport.identity.models import Team, User
from rapport.records.api import ERRORS
from rapport.records.exceptions import RecordNotFound
from rapport.sales.selectors import opportunity_get_for_user
from rapport.territories.models import Territory

router = Router(tags=["forecasts"])


class ForecastParams(Schema):
    period: str | None = Field(
        None,
        max_length=10,
        description="2026-12 (month) or 2026-Q4 (quarter); default: this quarter",
    )
    scope: str = Field(
        "me", max_length=30, description="me, all, user:<id>, team:<id> or territory:<id>"
    )


class BacktestParams(ForecastParams):
    periods: int = Field(6, ge=1, le=24, description="past periods to replay")


class ForecastRepOut(Schema):
    user_id: int
    name: str
    quota: float | None
    commit: float | None
    won: float
    pipeline: float
    naive: float
    p50: float
    attainment: float | None


class ForecastDealOut(Schema):
    id: int
    name: str
    amount: float
    probability: float
    expected_close_date: datetime.date | None
    category: str
    category_set: bool


class ForecastOut(Schema):
    period: str
    period_start: datetime.date
    period_end: datetime.date = Field(description="exclusive")
    scope: str
    scope_label: str
    as_of: datetime.date
    currency: str
    won: float
    quota: float | None
    attainment: float | None = Field(description="won ÷ quota")
    remaining_quota: float | None
    pipeline: float = Field(description="open deals expected to close in the period")
    coverage: float | None = Field(description="pipeline ÷ remaining quota")
    commit: float | None = Field(description="submitted forecast (a team: its reps' sum)")
    categories: dict[str, float]
    p10: float
    p50: float
    p90: float
    mean: float
    naive: float = Field(description="won + amount × stage probability of deals due in the period")
    open_deals: int
    notes: list[str]
    reps: list[ForecastRepOut]
    deals: list[ForecastDealOut]


class ForecastBacktestRowOut(Schema):
    period: str
    label: str
    p10: float
    p50: float
    p90: float
    naive: float
    actual: float
    inside: bool
    open_deals: int


class ForecastBacktestSummaryOut(Schema):
    periods: int
    inside: int
    coverage: float | None = Field(description="share of periods whose actual fell in P10–P90")
    p50_mae: float | None
    naive_mae: float | None
    enough_history: bool
    message: str


class ForecastBacktestOut(Schema):
    rows: list[ForecastBacktestRowOut]
    summary: ForecastBacktestSummaryOut


class ForecastQuotaOut(Schema):
    id: int
    period: str
    user_id: int | None
    team_id: int | None
    territory_id: int | None
    amount: Decimal
    updated_at: datetime.datetime


class ForecastQuotaIn(Schema):
    period: str = Field(..., max_length=10)
    user_id: int | None = Field(None, ge=1)
    team_id: int | None = Field(None, ge=1)
    territory_id: int | None = Field(None, ge=1)
    amount: Decimal | None = Field(..., description="null removes the quota")


class ForecastCommitIn(Schema):
    amount: Decimal
    note: str = Field("", max_length=300)


class ForecastCommitOut(Schema):
    period: str
    amount: Decimal
    note: str
    submitted_at: datetime.datetime


class ForecastCategoryIn(Schema):
    category: Category | None = Field(..., description="null: follow the win probability")


class ForecastCategoryOut(Schema):
    opportunity_id: int
    category: str | None
    changed: bool


def _period(value: str | None, field: str = "period"):
    if not value:
        return period_containing(QUARTER, timezone.localdate())
    return parse_period(value, field=field)


def _quota_out(q) -> dict:
    period = period_containing(q.period_kind, q.period_start)
    return {
        "id": q.pk,
        "period": period.key,
        "user_id": q.user_id,
        "team_id": q.team_id,
        "territory_id": q.territory_id,
        "amount": q.amount,
        "updated_at": q.updated_at,
    }


@router.get("", response={200: ForecastOut, **ERRORS}, operation_id="forecast_get")
def forecast_get(request, params: Query[ForecastParams]):
    period = _period(params.period)
    scope = resolve_scope(request.user, params.scope)
    data = selectors.forecast(request.user, period, scope)
    return {
        **data,
        "period": period.key,
        "period_start": period.start,
        "period_end": period.end,
        "scope": scope.key,
        "scope_label": scope.label,
    }


@router.get(
    "/backtest", response={200: ForecastBacktestOut, **ERRORS}, operation_id="forecast_backtest"
)
def forecast_backtest(request, params: Query[BacktestParams]):
    period = _period(params.period)
    scope = resolve_scope(request.user, params.scope)
    return selectors.forecast_backtest(request.user, period, scope, periods=params.periods)


@router.get(
    "/quotas", response={200: list[ForecastQuotaOut], **ERRORS}, operation_id="forecast_quotas"
)
def quotas_list(request, params: Query[ForecastParams]):
    period = _period(params.period)
    return [_quota_out(q) for q in selectors.quota_list(request.user, period)]


def _target(model, pk, what):
    if pk is None:
        return None
    row = model.objects.filter(pk=pk).first()
    if row is None:
        raise RecordNotFound(what)
    return row


@router.put(
    "/quotas",
    response={200: ForecastQuotaOut, 204: None, **ERRORS},
    operation_id="forecast_quota_set",
)
def quota_put(request, payload: ForecastQuotaIn):
    period = _period(payload.period)
    quota = services.quota_set(
        actor=request.user,
        period=period,
        amount=payload.amount,
        user=_target(User, payload.user_id, "user"),
        team=_target(Team, payload.team_id, "team"),
        territory=_target(Territory, payload.territory_id, "territory"),
    )
    if quota is None:
        return Status(204, None)
    return _quota_out(quota)


@router.put(
    "/commits/{period}",
    response={200: ForecastCommitOut, **ERRORS},
    operation_id="forecast_commit_submit",
)
def commit_put(request, period: str, payload: ForecastCommitIn):
    parsed = parse_period(period)
    row = services.commit_submit(
        actor=request.user, period=parsed, amount=payload.amount, note=payload.note
    )
    return {
        "period": parsed.key,
        "amount": row.amount,
        "note": row.note,
        "submitted_at": row.submitted_at,
    }


@router.put(
    "/opportunities/{int:opportunity_id}/category",
    response={200: ForecastCategoryOut, **ERRORS},
    operation_id="forecast_category_set",
)
def category_put(request, opportunity_id: int, payload: ForecastCategoryIn):
    opportunity = opportunity_get_for_user(pk=opportunity_id, user=request.user)
    changed = services.opportunity_category_set(
        actor=request.user,
        opportunity=opportunity,
        category=payload.category.value if payload.category else None,
    )
    return {"opportunity_id": opportunity.pk, "category": payload.category, "changed": changed}

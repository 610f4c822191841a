"""GET /api/analytics/sales: the Sales reports' figures (win/loss with lost reasons, time in
stage, velocity, funnel, activities per rep) over the deals the caller can see."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from ninja import Field, Query, Router, Schema

from rapport.analytics.sales.forms import SalesReportForm
from rapport.analytics.sales.metrics import sales_metrics
from rapport.records.api import ERRORS

router = Router(tags=["analytics"])


class SalesReportParams(Schema):
    start: datetime.date | None = None
    end: datetime.date | None = None
    pipeline_id: int | None = Field(None, ge=1)


class SalesLostReasonOut(Schema):
    reason: str
    deals: int


class SalesWinLossOut(Schema):
    won: int
    lost: int
    win_rate: float | None
    won_amount: Decimal
    lost_amount: Decimal
    lost_reasons: list[SalesLostReasonOut]


class SalesVelocityOut(Schema):
    open_deals: int
    average_won_amount: Decimal | None
    average_cycle_days: float | None
    per_day: Decimal | None
    per_30_days: Decimal | None


class SalesStageTimeOut(Schema):
    stage: str
    stints: int
    median_days: float | None
    mean_days: float | None


class SalesFunnelStepOut(Schema):
    stage: str
    reached: int
    to_next: float | None


class SalesRepActivityOut(Schema):
    rep: str
    total: int
    by_kind: dict[str, int]
    counts: list[int] = Field(description="per kind, in the order of `kinds`")


class SalesActivitiesOut(Schema):
    kinds: list[str]
    reps: list[SalesRepActivityOut]


class SalesReportOut(Schema):
    currency: str
    period: dict[str, datetime.date]
    pipeline: dict[str, int | str]
    win_loss: SalesWinLossOut
    velocity: SalesVelocityOut
    time_in_stage: list[SalesStageTimeOut]
    funnel: list[SalesFunnelStepOut]
    funnel_cohort: int = Field(description="deals created in the period (the funnel's base)")
    activities: SalesActivitiesOut
    unconverted: int = Field(description="deals left out of amounts: no exchange rate")


@router.get("/sales", response={200: SalesReportOut, **ERRORS}, operation_id="analytics_sales")
def sales_report(request, params: Query[SalesReportParams]):
    form = SalesReportForm(
        {
            "start": params.start or "",
            "end": params.end or "",
            "pipeline": params.pipeline_id or "",
        }
    )
    if not form.is_valid():
        field, messages = next(iter(form.errors.items()))
        name = "pipeline_id" if field == "pipeline" else field
        raise ValidationError({name: messages})
    filters = form.filters()
    if filters.pipeline is None:
        raise ValidationError({"pipeline_id": ["There is no pipeline"]})
    return sales_metrics(user=request.user, filters=filters)

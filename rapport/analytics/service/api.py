"""REST endpoints of the service analytics (/api/analytics/service/…): thin wrappers over
the selectors. Managers and administrators see the whole desk, queue members their queues'
cases; anyone else gets 403."""

from ninja import Query, Router

from rapport.analytics.service.forecast import service_forecast
from rapport.analytics.service.metrics import parse_filters, service_metrics
from rapport.analytics.service.schemas import (
    ServiceForecastOut,
    ServiceForecastParams,
    ServiceMetricsOut,
    ServiceRangeParams,
    ServiceStaffingOut,
    ServiceStaffingParams,
)
from rapport.analytics.service.staffing import service_staffing
from rapport.records.api import ERRORS

router = Router(tags=["analytics"])


@router.get(
    "/metrics",
    response={200: ServiceMetricsOut, **ERRORS},
    operation_id="analytics_service_metrics",
)
def metrics(request, params: Query[ServiceRangeParams]):
    """Volume, first-response and resolution times (business minutes), SLA attainment,
    backlog by age, reopen rate and per-agent productivity over a date range."""
    filters = parse_filters(
        user=request.user,
        start=params.start,
        end=params.end,
        queue=params.queue,
        category=params.category,
        channel=params.channel,
    )
    return service_metrics(user=request.user, filters=filters)


@router.get(
    "/forecast",
    response={200: ServiceForecastOut, **ERRORS},
    operation_id="analytics_service_forecast",
)
def forecast(request, params: Query[ServiceForecastParams]):
    """Daily case volume 4–8 weeks ahead with 80 / 95 % intervals and the backtest against
    the seasonal-naive baseline; status "too_little_history" under 28 days of history."""
    filters = parse_filters(
        user=request.user, queue=params.queue, category=params.category, channel=params.channel
    )
    return service_forecast(
        user=request.user,
        queue_id=filters.queue_id,
        category_id=filters.category_id,
        channel=filters.channel,
        horizon_days=params.horizon,
    )


@router.get(
    "/staffing",
    response={200: ServiceStaffingOut, **ERRORS},
    operation_id="analytics_service_staffing",
)
def staffing(request, params: Query[ServiceStaffingParams]):
    """Agents needed per weekday and hour (Erlang C) to answer `target_share` of contacts
    within `target_seconds`, from the forecast and the historical hour-of-day profile."""
    filters = parse_filters(
        user=request.user, queue=params.queue, category=params.category, channel=params.channel
    )
    return service_staffing(
        user=request.user,
        queue_id=filters.queue_id,
        category_id=filters.category_id,
        channel=filters.channel,
        horizon_days=params.horizon,
        aht_seconds=params.aht_seconds,
        target_share=params.target_share,
        target_seconds=params.target_seconds,
    )

"""Schemas of the service analytics endpoints (prefixed Service…: names are unique in the API)."""

import datetime

from ninja import Field, Schema

from rapport.cases.models import CaseChannel


class ServiceRangeParams(Schema):
    start: datetime.date | None = Field(None, description="First day (default: 27 days ago)")
    end: datetime.date | None = Field(None, description="Last day, inclusive (default: today)")
    queue: int | None = Field(None, description="Only this queue's cases")
    category: int | None = Field(None, description="Only this category (or sub-category)")
    channel: CaseChannel | None = None


class ServiceForecastParams(Schema):
    queue: int | None = None
    category: int | None = None
    channel: CaseChannel | None = None
    horizon: int = Field(42, ge=28, le=56, description="Days ahead (4–8 weeks)")


class ServiceStaffingParams(ServiceForecastParams):
    aht_seconds: float = Field(300, gt=0, le=86400, description="Average handle time")
    target_share: float = Field(0.8, gt=0, lt=1, description="Share answered within the time")
    target_seconds: float = Field(20, ge=0, le=86400, description="Answer within this many seconds")


class ServiceRangeOut(Schema):
    start: datetime.date
    end: datetime.date


class ServiceFiltersOut(Schema):
    queue_id: int | None
    category_id: int | None
    channel: str | None


class ServiceCategoryVolumeOut(Schema):
    category_id: int | None
    name: str
    cases: int


class ServiceChannelVolumeOut(Schema):
    channel: str
    label: str
    cases: int


class ServiceHourVolumeOut(Schema):
    hour: int
    cases: int


class ServiceWeekdayVolumeOut(Schema):
    weekday: int = Field(description="1 = Monday … 7 = Sunday")
    label: str
    cases: int


class ServiceVolumeOut(Schema):
    total: int
    by_category: list[ServiceCategoryVolumeOut]
    by_channel: list[ServiceChannelVolumeOut]
    by_hour: list[ServiceHourVolumeOut]
    by_weekday: list[ServiceWeekdayVolumeOut]


class ServiceDurationOut(Schema):
    cases: int
    median_minutes: float | None = Field(description="Business minutes")
    p90_minutes: float | None
    mean_minutes: float | None


class ServiceSlaTargetOut(Schema):
    met: int
    measured: int = Field(description="Cases whose outcome is known (met or missed)")
    pending: int = Field(description="Not yet done and not yet due")
    attainment: float | None = Field(description="met / measured")


class ServiceSlaOut(Schema):
    first_response: ServiceSlaTargetOut
    resolution: ServiceSlaTargetOut
    cases_without_targets: int


class ServiceBacklogBucketOut(Schema):
    label: str
    min_days: int
    max_days: int | None
    cases: int


class ServiceBacklogOut(Schema):
    open: int
    buckets: list[ServiceBacklogBucketOut]


class ServiceReopenOut(Schema):
    cases: int
    reopened: int
    rate: float | None


class ServiceAgentOut(Schema):
    user_id: int
    name: str
    resolved: int
    replies: int
    median_handle_minutes: float | None = Field(
        description="Business minutes from creation to resolution of the cases they resolved"
    )


class ServiceMetricsOut(Schema):
    range: ServiceRangeOut
    filters: ServiceFiltersOut
    volume: ServiceVolumeOut
    first_response: ServiceDurationOut
    resolution: ServiceDurationOut
    sla: ServiceSlaOut
    backlog: ServiceBacklogOut
    reopen: ServiceReopenOut
    agents: list[ServiceAgentOut]


class ServiceForecastPointOut(Schema):
    date: datetime.date
    mean: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float
    seasonal_naive: float


class ServiceErrorsOut(Schema):
    mae: float
    mase: float | None


class ServiceBacktestOut(Schema):
    origins: int
    horizon_days: int
    model: ServiceErrorsOut
    seasonal_naive: ServiceErrorsOut


class ServiceHistoryDayOut(Schema):
    date: datetime.date
    cases: int


class ServiceForecastOut(Schema):
    status: str = Field(description='"ok" or "too_little_history"')
    message: str
    horizon_days: int
    first_day: datetime.date
    history_days: int
    model: str | None = None
    history: list[ServiceHistoryDayOut] = []
    points: list[ServiceForecastPointOut]
    backtest: ServiceBacktestOut | None


class ServiceStaffingCellOut(Schema):
    weekday: int
    contacts: float
    traffic: float = Field(description="Erlangs")
    agents: int
    service_level: float
    wait_probability: float


class ServiceStaffingHourOut(Schema):
    hour: int
    cells: list[ServiceStaffingCellOut]


class ServiceStaffingOut(Schema):
    status: str
    message: str
    aht_seconds: float
    target_share: float
    target_seconds: float
    weekdays: list[str]
    daily_forecast: list[float]
    hours: list[ServiceStaffingHourOut]
    peak_agents: int
    agent_hours_per_week: int

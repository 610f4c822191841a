"""API schemas of analytics."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

Dimension = Literal["month", "channel", "category", "segment", "owner", "territory"]


class AnalyticsSnapshot(Schema):
    as_of: str | None = Field(
        None,
        description="The observation end: the day the snapshot's scores, recency and KPI "
        "windows are measured to",
    )
    observation_end: str | None = Field(
        None, description="How the as-of day was chosen: auto, last_order, today or date (settings)"
    )
    last_order_day: datetime.date | None = Field(None, description="Day of the last order")
    days_since_last_order: int | None = None
    warning: str | None = Field(
        None, description="Set when the last order is long before today (an old history?)"
    )
    time_unit: str = Field("weeks", description="Time unit of the purchase models' parameters")
    built_at: str | None = None
    currency: str | None = Field(None, description="All amounts are in this currency")
    run_id: int | None = None
    whole_org: bool = Field(
        ..., description="True: the whole organisation; false: the customers you can see"
    )


class AnalyticsSegmentOut(Schema):
    segment: str
    description: str
    customers: int
    share_of_customers: float
    revenue: float
    share_of_revenue: float
    clv: float
    mean_churn_risk: float | None


class AnalyticsSegmentsOut(AnalyticsSnapshot):
    customers: int
    segments: list[AnalyticsSegmentOut]
    rules: list[dict[str, Any]]
    grid: list[dict[str, Any]]
    thresholds: list[dict[str, Any]]


class AnalyticsScoreRowOut(Schema):
    """One customer's scores in a list (at risk, top CLV)."""

    id: int
    account_id: int | None
    contact_id: int | None
    name: str
    segment: str
    clv: Decimal
    churn_risk: float
    p_alive: float | None
    revenue: Decimal
    value_at_risk: Decimal
    orders: int
    last_purchase: datetime.date | None
    at_risk: bool

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.customer_name


class AnalyticsHistogramBin(Schema):
    low: float
    high: float | None
    customers: int


class AnalyticsClvOut(AnalyticsSnapshot):
    distribution: dict[str, float | None]
    histogram: list[AnalyticsHistogramBin]
    top: list[AnalyticsScoreRowOut]


class AnalyticsScorePage(Schema):
    items: list[AnalyticsScoreRowOut]
    next_cursor: str | None
    count: int | str


class AnalyticsCohortOut(Schema):
    cohort: str
    customers: int
    active: list[int]
    retention: list[float | None]


class AnalyticsCohortMonth(Schema):
    month: str
    active: int


class AnalyticsEarlierCohorts(Schema):
    customers: int = Field(..., description="Customers whose first purchase is before the period")
    months: list[AnalyticsCohortMonth] = Field(
        ..., description="How many of them bought in each month of the period"
    )


class AnalyticsCohortsOut(AnalyticsSnapshot):
    months: int
    period: dict[str, str] = Field(..., description="First and last cohort month shown")
    partial_month: str | None = Field(
        None,
        description="The month of the observation end when it is not over (its cells are partial)",
    )
    cohorts: list[AnalyticsCohortOut]
    earlier: AnalyticsEarlierCohorts


class AnalyticsKpisOut(AnalyticsSnapshot):
    window: dict[str, Any]
    customers: int
    new_customers: int
    orders: int
    revenue: float
    repeat_customer_rate: float | None
    churn_rate: float | None
    average_order_value: float | None
    purchase_frequency: float | None
    top20_revenue_share: float | None
    clv_distribution: dict[str, float | None]
    opportunities_won: int
    opportunities_lost: int
    close_rate: float | None
    won_amount: float
    marketing_cost: float | None
    cost_per_sale: float | None
    cost_per_acquisition: float | None


class AnalyticsCubeRow(Schema):
    month: str | None = None
    channel: str | None = None
    category: str | None = None
    segment: str | None = None
    owner: int | None = None
    owner_name: str | None = None
    territory: str | None = None
    revenue: float
    orders: int
    customers: int


class AnalyticsCubeOut(AnalyticsSnapshot):
    by: list[str]
    rows: list[AnalyticsCubeRow]
    truncated: bool


class AnalyticsModelFitOut(Schema):
    model: str
    params: dict[str, Any]
    log_likelihood: float | None
    n_customers: int
    converged: bool
    calibration: list[dict[str, Any]]
    report: dict[str, Any]
    error: str


class AnalyticsModelFitsOut(Schema):
    run_id: int | None
    finished_at: datetime.datetime | None
    fits: list[AnalyticsModelFitOut]


class AnalyticsCustomerScoresOut(Schema):
    """All scores of one customer."""

    account_id: int | None
    contact_id: int | None
    scored: bool
    segment: str | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    recency_days: int | None = None
    orders: int | None = None
    first_purchase: datetime.date | None = None
    last_purchase: datetime.date | None = None
    p_alive: float | None = None
    churn_risk: float | None = None
    churn_source: str | None = Field(
        None,
        description="purchase_model: 1 - P(alive) of BG/NBD; classifier: the model trained on "
        "closed accounts; closed: the account is closed (risk 1)",
    )
    expected_purchases_12w: float | None = None
    expected_purchases_52w: float | None = None
    expected_spend: Decimal | None = None
    clv: Decimal | None = None
    at_risk: bool | None = None
    value_at_risk: Decimal | None = None
    next_products: list[int] = Field(default_factory=list)
    upsell_products: list[int] = Field(default_factory=list)
    revenue: Decimal | None = None
    cost_to_serve: Decimal | None = None
    marketing_cost: Decimal | None = None
    profit: Decimal | None = None
    computed_at: datetime.datetime | None = None


class AnalyticsRefreshIn(Schema):
    full: bool = Field(False, description="Rebuild from all orders instead of the changes")


class AnalyticsRunOut(Schema):
    id: int
    kind: str
    status: str
    stage: str
    requested_by_id: int | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    watermark: datetime.datetime | None
    rows: int
    customers: int
    summary: dict[str, Any]
    error: str


class AnalyticsSettingsIn(Schema):
    cost_per_call: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    cost_per_meeting: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    cost_per_email: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    cost_per_interaction: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    cost_per_task: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    cost_per_note: Decimal = Field(..., ge=0, max_digits=12, decimal_places=2)
    marketing_cost_per_year: Decimal = Field(..., ge=0, max_digits=16, decimal_places=2)
    annual_discount_rate: Decimal = Field(..., ge=0, le=1, max_digits=5, decimal_places=4)
    margin: Decimal = Field(..., gt=0, le=1, max_digits=5, decimal_places=4)
    holdout_weeks: int = Field(..., ge=1, le=260)
    at_risk_min_churn: float = Field(..., ge=0, le=1)
    at_risk_value_quantile: float = Field(..., ge=0, le=1)
    churn_min_per_class: int = Field(..., ge=5, le=1_000_000)
    observation_end: Literal["auto", "last_order", "today", "date"] = Field(
        ...,
        description="The day the analysis is as of: auto (today, or the last order's day "
        "when it is over 90 days old), the last order's day, today, or observation_end_date",
    )
    observation_end_date: datetime.date | None = Field(
        None, description="Required when observation_end is date; not after today"
    )


class AnalyticsSettingsOut(Schema):
    cost_per_call: Decimal
    cost_per_meeting: Decimal
    cost_per_email: Decimal
    cost_per_interaction: Decimal
    cost_per_task: Decimal
    cost_per_note: Decimal
    marketing_cost_per_year: Decimal
    annual_discount_rate: Decimal
    margin: Decimal
    holdout_weeks: int
    at_risk_min_churn: float
    at_risk_value_quantile: float
    churn_min_per_class: int
    observation_end: str
    observation_end_date: datetime.date | None
    version: int
    updated_at: datetime.datetime


class AnalyticsProductRef(Schema):
    id: int
    name: str
    sku: str
    category: str


class AnalyticsBundleOut(Schema):
    rank: int
    products: list[AnalyticsProductRef]
    orders: int = Field(..., description="Orders holding every product of the bundle")
    support: float = Field(..., description="Share of all orders holding the bundle")
    confidence: float | None = Field(
        None, description="P(last product | the others in the same order)"
    )
    lift: float = Field(..., description="How much more often than by chance (1 = chance)")


class AnalyticsBundlesOut(AnalyticsSnapshot):
    bundles: list[AnalyticsBundleOut]
    report: dict[str, Any]


class AnalyticsUpsellItemOut(Schema):
    rank: int
    product: AnalyticsProductRef
    category: str
    price: float = Field(..., description="Median price the product sold at")
    reference_price: float = Field(
        ..., description="The dearest product the customer bought in this category"
    )
    score: float = Field(..., description="How much similar customers bought it")


class AnalyticsUpsellOut(Schema):
    as_of: str | None = None
    built_at: str | None = None
    currency: str | None = None
    run_id: int | None = None
    account_id: int | None
    contact_id: int | None
    scored: bool
    items: list[AnalyticsUpsellItemOut]
    quality: dict[str, Any] = Field(
        default_factory=dict,
        description="Hit rate at 5 on held-out last orders vs the most popular pricier products",
    )


class AnalyticsRetentionPoint(Schema):
    age: int
    actual: float | None
    projected: float
    cohorts_observed: int


class AnalyticsRetentionCohort(Schema):
    cohort: str
    accounts: int
    age: int
    alive: int
    retention: float | None
    projected_alive: float
    projected_retention: float | None


class AnalyticsRetentionProjectionOut(AnalyticsSnapshot):
    periods: int
    period: str
    accounts: int
    closed_accounts: int
    fitted: bool
    note: str
    params: dict[str, float]
    log_likelihood: float | None
    converged: bool | None = None
    curve: list[AnalyticsRetentionPoint]
    cohorts: list[AnalyticsRetentionCohort]
    backtest: dict[str, Any] | None = Field(
        None,
        description="Fitted on the data known `periods` months ago and projected to today: "
        "projected vs actual accounts still customers (null with too little history)",
    )

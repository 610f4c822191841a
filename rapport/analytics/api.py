"""REST endpoints of analytics: thin wrappers over the selectors and services.

Aggregates answer 409 `no_snapshot` until a first refresh has run.
"""

import datetime
from functools import wraps

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.analytics import selectors, services
from rapport.analytics.schemas import (
    AnalyticsBundlesOut,
    AnalyticsClvOut,
    AnalyticsCohortsOut,
    AnalyticsCubeOut,
    AnalyticsCustomerScoresOut,
    AnalyticsKpisOut,
    AnalyticsModelFitsOut,
    AnalyticsRefreshIn,
    AnalyticsRetentionProjectionOut,
    AnalyticsRunOut,
    AnalyticsScorePage,
    AnalyticsSegmentsOut,
    AnalyticsSettingsIn,
    AnalyticsSettingsOut,
    AnalyticsUpsellOut,
    Dimension,
)
from rapport.analytics.warehouse import NoSnapshot
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import ERRORS, page_response
from rapport.records.exceptions import Conflict, PermissionDenied

router = Router(tags=["analytics"])

AT_RISK_SORTS = {"value_at_risk", "clv", "churn_risk", "revenue"}


def _snapshot_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except NoSnapshot:
            raise Conflict("Analytics have not been computed yet: run a refresh", "no_snapshot")

    return wrapped


@router.get(
    "/segments", response={200: AnalyticsSegmentsOut, **ERRORS}, operation_id="analytics_segments"
)
@_snapshot_required
def segments(request):
    """Customers, revenue and CLV per RFM segment, with the segment rules and thresholds."""
    return selectors.segments_summary(user=request.user)


@router.get("/clv", response={200: AnalyticsClvOut, **ERRORS}, operation_id="analytics_clv")
@_snapshot_required
def clv(
    request,
    bins: int = Query(20, ge=2, le=100),
    top: int = Query(10, ge=1, le=100),
):
    """CLV distribution (histogram and percentiles) and the top customers by CLV."""
    return selectors.clv_overview(user=request.user, bins=bins, top=top)


class AtRiskParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-value_at_risk", description="value_at_risk, clv, churn_risk, revenue")
    min_churn_risk: float | None = Field(None, ge=0, le=1)
    min_revenue: float | None = Field(None, ge=0, le=1e13)


@router.get(
    "/at-risk", response={200: AnalyticsScorePage, **ERRORS}, operation_id="analytics_at_risk"
)
def at_risk(request, params: Query[AtRiskParams]):
    """High-value customers with a high churn risk, by value at risk. Without parameters:
    exactly the customers the last refresh flagged (its summary's `at_risk` count, those you
    can see); a parameter changes that threshold, the other keeps the refresh's."""
    qs = selectors.at_risk_list(
        user=request.user, min_churn_risk=params.min_churn_risk, min_revenue=params.min_revenue
    )
    page = keyset_page(
        qs, sort=params.sort, allowed=AT_RISK_SORTS, cursor=params.cursor, limit=params.limit
    )
    return page_response(page)


@router.get(
    "/cohorts", response={200: AnalyticsCohortsOut, **ERRORS}, operation_id="analytics_cohorts"
)
@_snapshot_required
def cohorts(request, months: int = Query(12, ge=1, le=60)):
    """Retention of monthly first-purchase cohorts."""
    return selectors.cohort_retention(user=request.user, months=months)


@router.get(
    "/retention-projection",
    response={200: AnalyticsRetentionProjectionOut, **ERRORS},
    operation_id="analytics_retention_projection",
)
@_snapshot_required
def retention_projection(request, periods: int = Query(12, ge=1, le=60)):
    """Contractual retention of accounts (a relationship ends when the account is closed) by
    first-purchase month: the shifted-beta-geometric model fitted to every cohort's survivor
    counts, its projection `periods` months ahead, and the actual retention beside it."""
    return selectors.retention_projection(user=request.user, periods=periods)


@router.get(
    "/bundles", response={200: AnalyticsBundlesOut, **ERRORS}, operation_id="analytics_bundles"
)
@_snapshot_required
def bundles(request, limit: int = Query(20, ge=1, le=100)):
    """Products frequently bought together (pairs, grown into triples), with support,
    confidence and lift, from the order lines of the last refresh."""
    return selectors.bundles_list(limit=limit)


class UpsellParams(Schema):
    account_id: int | None = Field(None, ge=1, le=2**63 - 1)
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1)


@router.get(
    "/upsell", response={200: AnalyticsUpsellOut, **ERRORS}, operation_id="analytics_upsell"
)
@_snapshot_required
def upsell(request, params: Query[UpsellParams]):
    """Up-sell for one customer you can see (`account_id`, or `contact_id` for a contact
    buying without an account): pricier products of the categories it buys, bought by
    customers with similar histories."""
    if (params.account_id is None) == (params.contact_id is None):
        raise ValidationError(
            {"account_id": [ValidationError("Give account_id or contact_id", code="required")]}
        )
    return selectors.upsell_for_customer(
        user=request.user, account_id=params.account_id, contact_id=params.contact_id
    )


@router.get("/kpis", response={200: AnalyticsKpisOut, **ERRORS}, operation_id="analytics_kpis")
@_snapshot_required
def kpis(request, months: int = Query(12, ge=1, le=60)):
    """Customer-base and CRM KPIs over the last `months` months of the snapshot."""
    return selectors.kpi_overview(user=request.user, months=months)


@router.get(
    "/model-fit",
    response={200: AnalyticsModelFitsOut, **ERRORS},
    operation_id="analytics_model_fit",
)
def model_fit(request):
    """The fit reports of the last successful refresh: parameters, log-likelihood and the
    holdout calibration (actual vs predicted repeat purchases per frequency bin)."""
    run, fits = selectors.model_fits_latest()
    return {
        "run_id": run.pk if run else None,
        "finished_at": run.finished_at if run else None,
        "fits": fits,
    }


class CubeParams(Schema):
    by: list[Dimension] = Field(default_factory=list, max_length=4)
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


@router.get("/cube", response={200: AnalyticsCubeOut, **ERRORS}, operation_id="analytics_cube")
@_snapshot_required
def cube(request, params: Query[CubeParams]):
    """Revenue, orders and customers by any of month, channel, category, segment, owner and
    territory, e.g. ?by=month&by=channel."""
    return selectors.cube(
        user=request.user, by=params.by, date_from=params.date_from, date_to=params.date_to
    )


def _scores_out(customer, score, *, account: bool) -> dict:
    out = {
        "account_id": customer.pk if account else None,
        "contact_id": None if account else customer.pk,
        "scored": score is not None,
    }
    if score is not None:
        for name in AnalyticsCustomerScoresOut.model_fields:
            if name not in out:
                out[name] = getattr(score, name)
    return out


@router.get(
    "/customers/{int:account_id}/scores",
    response={200: AnalyticsCustomerScoresOut, **ERRORS},
    operation_id="analytics_account_scores",
)
def account_scores(request, account_id: int):
    """Every score of an account you can see (404 otherwise); `scored` is false until a
    refresh has seen an order of it."""
    customer, score = selectors.customer_scores_get(user=request.user, account_id=account_id)
    return _scores_out(customer, score, account=True)


@router.get(
    "/contacts/{int:contact_id}/scores",
    response={200: AnalyticsCustomerScoresOut, **ERRORS},
    operation_id="analytics_contact_scores",
)
def contact_scores(request, contact_id: int):
    """Scores of a contact who buys without an account (orders with an account count for
    the account)."""
    customer, score = selectors.customer_scores_get(user=request.user, contact_id=contact_id)
    return _scores_out(customer, score, account=False)


@router.post(
    "/refresh", response={201: AnalyticsRunOut, **ERRORS}, operation_id="analytics_refresh"
)
def refresh(request, payload: AnalyticsRefreshIn):
    """Queue a refresh (managers and administrators); follow it with GET /runs/{id}."""
    run = services.analytics_refresh_request(actor=request.user, full=payload.full)
    run.refresh_from_db()
    return Status(201, run)


@router.get("/runs", response={200: list[AnalyticsRunOut], **ERRORS}, operation_id="analytics_runs")
def runs(request, limit: int = Query(20, ge=1, le=100)):
    return selectors.runs_recent(user=request.user, limit=limit)


@router.get(
    "/runs/{int:pk}", response={200: AnalyticsRunOut, **ERRORS}, operation_id="analytics_run_get"
)
def run_get(request, pk: int):
    return selectors.run_get_for_user(pk=pk, user=request.user)


@router.get(
    "/settings", response={200: AnalyticsSettingsOut, **ERRORS}, operation_id="analytics_settings"
)
def settings_get(request, response: HttpResponse):
    if not services.can_refresh(request.user):
        raise PermissionDenied("Only managers and administrators see analytics settings")
    obj = services.analytics_settings_get()
    set_etag(response, obj.version)
    return obj


@router.patch(
    "/settings",
    response={200: AnalyticsSettingsOut, **ERRORS},
    operation_id="analytics_settings_update",
)
def settings_update(request, payload: PatchDict[AnalyticsSettingsIn], response: HttpResponse):
    """Change cost rates and model settings (administrators); used from the next refresh."""
    services.analytics_settings_update(
        actor=request.user, fields=dict(payload), expected_version=expected_version(request)
    )
    obj = services.analytics_settings_get()
    set_etag(response, obj.version)
    return obj


# Call-centre metrics, demand forecast and staffing: /api/analytics/service/…
from rapport.analytics.service.api import router as service_router  # noqa: E402

router.add_router("/service", service_router)

# Sales reports: /api/analytics/sales
from rapport.analytics.sales.api import router as sales_router  # noqa: E402

router.add_router("", sales_router)

"""Attribution and ROI over the API (managers and administrators, like the pages)."""

from ninja import Router

from rapport.marketing import access, attribution
from rapport.marketing.schemas import MarketingRoiOut
from rapport.marketing.views import period_bounds
from rapport.records.api import ERRORS

router = Router(tags=["marketing"])


def _f(value):
    return float(value) if value is not None else None


@router.get("/roi", response={200: MarketingRoiOut, **ERRORS}, operation_id="marketing_roi")
def marketing_roi(request, model: str = "linear", period: str = "365"):
    """Per campaign: cost, attributed leads / opportunities / won deals / revenue, cost per
    lead, cost per sale and ROI; `model` first | last | linear, `period` 30 | 90 | 365 | all."""
    access.require_reports(request.user)
    if model not in attribution.MODELS:
        model = "linear"
    _, start, end = period_bounds(period)
    rows, org, result = attribution.campaign_roi(model=model, start=start, end=end)
    return {
        "model": model,
        "campaigns": [
            {
                "campaign_id": r.campaign.pk,
                "name": r.campaign.name,
                "cost": float(r.cost),
                "leads": r.leads,
                "opportunities": r.opportunities,
                "won": r.won,
                "revenue": float(r.revenue),
                "cost_per_lead": _f(r.cost_per_lead),
                "cost_per_sale": _f(r.cost_per_sale),
                "roi": r.roi,
            }
            for r in rows
        ],
        "organisation": {k: _f(v) for k, v in org.items()},
        "unattributed": {k: float(v) for k, v in result.unattributed.items()},
        "totals": {k: float(v) for k, v in result.totals.items()},
    }

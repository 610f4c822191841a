"""The Sales reports page (Analytics → Sales): thin over the same selector as the API, the
figures as tables and the charts drawn from them by static JS."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from rapport.analytics.sales.forms import SalesReportForm
from rapport.analytics.sales.metrics import sales_metrics
from rapport.web.decorators import ui_view


def _pct(value):
    return round(value * 100, 1) if value is not None else None


def chart_data(metrics: dict) -> dict:
    return {
        "funnel": {
            "labels": [r["stage"] for r in metrics["funnel"]],
            "values": [r["reached"] for r in metrics["funnel"]],
        },
        "stages": {
            "labels": [r["stage"] for r in metrics["time_in_stage"]],
            "values": [r["median_days"] for r in metrics["time_in_stage"]],
        },
        "reasons": {
            "labels": [r["reason"] for r in metrics["win_loss"]["lost_reasons"][:10]],
            "values": [r["deals"] for r in metrics["win_loss"]["lost_reasons"][:10]],
        },
        "reps": {
            "labels": [r["rep"] for r in metrics["activities"]["reps"][:15]],
            "values": [r["total"] for r in metrics["activities"]["reps"][:15]],
        },
    }


@ui_view
@require_safe
def sales_dashboard(request):
    form = SalesReportForm(request.GET or None)
    metrics = None
    if not request.GET or form.is_valid():
        if not request.GET:
            form = SalesReportForm({})
            form.is_valid()
        filters = form.filters()
        if filters.pipeline is not None:
            metrics = sales_metrics(user=request.user, filters=filters)
    context = {
        "tab": "sales",
        "form": form,
        "metrics": metrics,
        "chart": chart_data(metrics) if metrics else None,
        "win_rate_pct": _pct(metrics["win_loss"]["win_rate"]) if metrics else None,
    }
    return render(
        request,
        "analytics/sales/dashboard.html",
        context,
        status=200 if metrics or not request.GET else 400,
    )

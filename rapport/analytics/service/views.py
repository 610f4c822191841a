"""The Service dashboard page: thin over the same selectors as the API (metrics, forecast,
staffing), with the figures as tables and the charts drawn from them by static JS."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_safe

from rapport.analytics.service.forecast import service_forecast
from rapport.analytics.service.forms import ServiceDashboardForm
from rapport.analytics.service.metrics import (
    parse_filters,
    service_cases_for,
    service_filter_choices,
    service_metrics,
)
from rapport.analytics.service.staffing import service_staffing
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors


def _chart_data(metrics: dict, forecast: dict | None) -> dict[str, Any]:
    """What static/analytics/service.js draws (the same figures as the tables)."""
    volume = metrics["volume"]
    data: dict[str, Any] = {
        "weekday": {
            "labels": [r["label"] for r in volume["by_weekday"]],
            "values": [r["cases"] for r in volume["by_weekday"]],
        },
        "hour": {
            "labels": [f"{r['hour']:02d}" for r in volume["by_hour"]],
            "values": [r["cases"] for r in volume["by_hour"]],
        },
        "channel": {
            "labels": [r["label"] for r in volume["by_channel"]],
            "values": [r["cases"] for r in volume["by_channel"]],
        },
        "category": {
            "labels": [r["name"] for r in volume["by_category"][:12]],
            "values": [r["cases"] for r in volume["by_category"][:12]],
        },
        "backlog": {
            "labels": [b["label"] for b in metrics["backlog"]["buckets"]],
            "values": [b["cases"] for b in metrics["backlog"]["buckets"]],
        },
        "times": {
            "labels": ["First response", "Resolution"],
            "median": [
                _hours(metrics["first_response"]["median_minutes"]),
                _hours(metrics["resolution"]["median_minutes"]),
            ],
            "p90": [
                _hours(metrics["first_response"]["p90_minutes"]),
                _hours(metrics["resolution"]["p90_minutes"]),
            ],
        },
        "sla": {
            "labels": ["First response", "Resolution"],
            "values": [
                _pct(metrics["sla"]["first_response"]["attainment"]),
                _pct(metrics["sla"]["resolution"]["attainment"]),
            ],
        },
    }
    if forecast and forecast["status"] == "ok":
        history = forecast["history"]
        points = forecast["points"]
        data["forecast"] = {
            "labels": [h["date"].isoformat() for h in history]
            + [p["date"].isoformat() for p in points],
            "actual": [h["cases"] for h in history] + [None] * len(points),
            "mean": [None] * len(history) + [p["mean"] for p in points],
            "lower80": [None] * len(history) + [p["lower80"] for p in points],
            "upper80": [None] * len(history) + [p["upper80"] for p in points],
            "lower95": [None] * len(history) + [p["lower95"] for p in points],
            "upper95": [None] * len(history) + [p["upper95"] for p in points],
        }
    return data


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 2)


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


@ui_view
@require_safe
def service_dashboard(request):
    """Volume, times, SLA attainment, backlog, agents, forecast and staffing on one page."""
    user = request.user
    service_cases_for(user)  # 403 page with the reason for users without access
    form = ServiceDashboardForm(request.GET or None, choices=service_filter_choices(user))
    context: dict[str, Any] = {"tab": "service", "form": form}
    if request.GET and not form.is_valid():
        return render(request, "analytics/service/dashboard.html", context, status=422)
    values = form.cleaned_data if request.GET else {}
    try:
        filters = parse_filters(
            user=user,
            start=values.get("start"),
            end=values.get("end"),
            queue=values.get("queue"),
            category=values.get("category"),
            channel=values.get("channel") or None,
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render(request, "analytics/service/dashboard.html", context, status=422)
    metrics = service_metrics(user=user, filters=filters)
    forecast = service_forecast(
        user=user,
        queue_id=filters.queue_id,
        category_id=filters.category_id,
        channel=filters.channel,
        horizon_days=values.get("horizon") or 42,
    )
    target_share = values.get("target_share") or 80
    staffing = service_staffing(
        user=user,
        forecast=forecast,
        queue_id=filters.queue_id,
        category_id=filters.category_id,
        channel=filters.channel,
        aht_seconds=values.get("aht_seconds") or 300,
        target_share=target_share / 100,
        target_seconds=values.get("target_seconds")
        if values.get("target_seconds") is not None
        else 20,
    )
    if not request.GET:
        form = ServiceDashboardForm(
            initial={"start": filters.start, "end": filters.end},
            choices=service_filter_choices(user),
        )
    context.update(
        {
            "form": form,
            "filters": filters,
            "metrics": metrics,
            "forecast": forecast,
            "staffing": staffing,
            "service_chart_data": _chart_data(metrics, forecast),
        }
    )
    return render(request, "analytics/service/dashboard.html", context)

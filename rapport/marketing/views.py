"""Marketing pages under /marketing/: campaign ROI (with charts), attribution (first touch,
last touch, linear) and journeys (automation rules on marketing triggers, with presets)."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.marketing import access, attribution, journeys
from rapport.web.decorators import ui_view

PERIODS = {"30": "Last 30 days", "90": "Last 90 days", "365": "Last 12 months", "all": "All time"}


def period_bounds(key: str):
    if key not in PERIODS:
        key = "365"
    if key == "all":
        return key, None, None
    return key, timezone.now() - datetime.timedelta(days=int(key)), None


def _params(request):
    model = request.GET.get("model", "linear")
    if model not in attribution.MODELS:
        model = "linear"
    period, start, end = period_bounds(request.GET.get("period", "365"))
    return model, period, start, end


@ui_view
def index(request):
    return HttpResponseRedirect(reverse("marketing:roi"))


def _chart_data(rows) -> dict:
    shown = [r for r in rows if r.cost or r.leads or r.revenue][:12]
    return {
        "labels": [r.campaign.name for r in shown],
        "cost": [float(r.cost) for r in shown],
        "revenue": [float(r.revenue) for r in shown],
        "leads": [r.leads for r in shown],
        "cpl": [float(r.cost_per_lead) if r.cost_per_lead is not None else None for r in shown],
    }


@ui_view
def roi(request):
    access.require_reports(request.user)
    model, period, start, end = _params(request)
    rows, org, result = attribution.campaign_roi(model=model, start=start, end=end)
    return render(
        request,
        "marketing/roi.html",
        {
            "tab": "roi",
            "rows": rows,
            "org": org,
            "result": result,
            "model": model,
            "model_label": attribution.MODELS[model],
            "models": attribution.MODELS,
            "period": period,
            "periods": PERIODS,
            "chart_data": _chart_data(rows),
        },
    )


@ui_view
def attribution_page(request):
    access.require_reports(request.user)
    model, period, start, end = _params(request)
    by_model = {}
    for key in attribution.MODELS:
        by_model[key] = attribution.attribute(model=key, start=start, end=end)
    rows, _, _ = attribution.campaign_roi(model=model, start=start, end=end)
    table = []
    for r in rows:
        cells = []
        for key in attribution.MODELS:
            credit = by_model[key].by_campaign.get(r.campaign.pk)
            cells.append(credit or attribution.CampaignCredit())
        table.append({"campaign": r.campaign, "cells": cells})
    return render(
        request,
        "marketing/attribution.html",
        {
            "tab": "attribution",
            "table": table,
            "by_model": by_model,
            "models": attribution.MODELS,
            "model": model,
            "model_label": attribution.MODELS[model],
            "period": period,
            "periods": PERIODS,
            "touch_kinds": attribution.TOUCH_KINDS,
        },
    )


@ui_view
def journeys_page(request):
    access.require_reports(request.user)
    return render(
        request,
        "marketing/journeys.html",
        {
            "tab": "journeys",
            "rules": list(journeys.journeys()),
            "presets": journeys.PRESETS,
            "can_create": request.user.is_admin,
        },
    )


@ui_view
@require_POST
def journey_preset(request, key: str):
    try:
        rule = journeys.preset_create(key=key, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return HttpResponseRedirect(reverse("marketing:journeys"))
    messages.success(
        request, f"Journey “{rule.name}” created, switched off: review it and switch it on."
    )
    return HttpResponseRedirect(reverse("settings:automation_rule_edit", args=[rule.pk]))

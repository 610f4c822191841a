"""Analytics pages: the overview, segments, cohorts, model fit, customers at risk, cross-sell,
refresh runs and settings.

Thin, like the API (api.py): the same selectors read, scoped to what the user may see
(aggregates: the whole organisation for managers and administrators, else the visible
customers; per-customer rows: visible customers only), and the same services write.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from rapport.analytics import selectors, services
from rapport.analytics.columns import SCORE_COLUMNS
from rapport.analytics.forms import AnalyticsSettingsForm, RefreshForm
from rapport.analytics.models import RunStatus
from rapport.analytics.warehouse import NoSnapshot
from rapport.api.pagination import keyset_page
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.sales.selectors import product_list
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.listing import safe_next
from rapport.web.record_page import STALE_MESSAGE

AT_RISK_PREVIEW = 10
AT_RISK_PAGE = 50
AT_RISK_SORTS = {"value_at_risk", "clv", "churn_risk", "revenue"}
CROSS_SELL_CUSTOMERS = 50
CROSS_SELL_TALLY = 1000
COHORT_MONTHS = (6, 12, 24)
PROJECTION_PERIODS = 12
BUNDLES_SHOWN = 20
HEAT_STEPS = 10


# ----- shared pieces ---------------------------------------------------------------------


def _aggregate(read, **kwargs) -> dict[str, Any] | None:
    """An aggregate selector's answer, or None before the first refresh (the API's 409)."""
    try:
        return read(**kwargs)
    except NoSnapshot:
        return None


def _run_context(user) -> dict[str, Any]:
    """The refresh panel: managers and administrators see the runs (as GET /runs does)."""
    may_refresh = services.can_refresh(user)
    context: dict[str, Any] = {"may_refresh": may_refresh, "is_admin": user.is_admin}
    if may_refresh:
        context["active_run"] = services.active_run()
        context["last_run"] = services.last_succeeded_run()
        recent = selectors.runs_recent(user=user, limit=1)
        latest = recent[0] if recent else None
        context["failed_run"] = latest if latest and latest.status == RunStatus.FAILED else None
        context["refresh_form"] = RefreshForm()
    return context


def _page(request, template: str, context: dict[str, Any], status: int = 200):
    """An analytics page, with where the analysed history ends (stated on every page)."""
    context.setdefault("observation", selectors.observation_latest())
    return render(request, template, context, status=status)


def _currency(data: dict | None) -> str:
    return (data or {}).get("currency") or settings.RAPPORT_CURRENCY.upper()


def _score_rows(scores) -> list[dict[str, Any]]:
    """Score rows with their record's page (the score rows' account/contact are joined)."""
    rows = []
    for score in scores:
        if score.account_id:
            url = reverse("accounts:account_detail", args=[score.account_id])
            kind = "Account"
        else:
            url = reverse("accounts:contact_detail", args=[score.contact_id])
            kind = "Contact"
        rows.append({"score": score, "name": score.customer_name, "url": url, "kind": kind})
    return rows


def _segment_rows(segments: dict | None) -> list[dict[str, Any]]:
    if not segments:
        return []
    accounts = reverse("accounts:account_list") + f"?cols=name,industry,owner,{SCORE_COLUMNS}"
    contacts = reverse("accounts:contact_list") + f"?cols=name,account,email,owner,{SCORE_COLUMNS}"
    rows = []
    for seg in segments["segments"]:
        query = "&" + urlencode({"segment": seg["segment"], "sort": "-clv"})
        rows.append({**seg, "accounts_url": accounts + query, "contacts_url": contacts + query})
    return rows


def _heat(value: float | None) -> str:
    if value is None:
        return "heat-none"
    return f"heat-{min(HEAT_STEPS, max(0, round(value * HEAT_STEPS)))}"


def _cohort_table(cohorts: dict | None) -> dict[str, Any] | None:
    """Cohort rows padded to the same width, each cell with its heat class; the cell of the
    month the observation ends in is marked partial when that month is not over. Without
    new customers in the period: the activity of the earlier cohorts, per calendar month."""
    if not cohorts:
        return None
    earlier = cohorts.get("earlier") or {"customers": 0, "months": []}
    partial = cohorts.get("partial_month")
    base = {
        "period": cohorts.get("period"),
        "partial_month": partial,
        "earlier": earlier,
        "earlier_active": sum(m["active"] for m in earlier["months"]),
        "rows": [],
        "ages": [],
    }
    if not cohorts["cohorts"]:
        return base
    width = max(len(c["retention"]) for c in cohorts["cohorts"])
    rows = []
    for cohort in cohorts["cohorts"]:
        cells = []
        last = len(cohort["retention"]) - 1
        for age in range(width):
            if age <= last:
                share = cohort["retention"][age]
                cells.append(
                    {
                        "share": share,
                        "active": cohort["active"][age],
                        "css": _heat(share),
                        "partial": bool(partial) and age == last,
                    }
                )
            else:
                cells.append(None)
        rows.append({"cohort": cohort["cohort"], "customers": cohort["customers"], "cells": cells})
    return {**base, "ages": list(range(width)), "rows": rows}


def _fits(fits) -> dict[str, Any]:
    by_model = {fit.model: fit for fit in fits}
    bgnbd = by_model.get("bgnbd")
    calibration = list(bgnbd.calibration) if bgnbd else []
    return {"fits": fits, "by_model": by_model, "bgnbd": bgnbd, "calibration": calibration}


def _chart_data(segments, clv, fits) -> dict[str, Any]:
    """What static/analytics/analytics.js draws (the same figures as the tables)."""
    data: dict[str, Any] = {"currency": _currency(segments or clv)}
    if segments:
        rows = segments["segments"]
        data["segments"] = {
            "labels": [r["segment"].capitalize() for r in rows],
            "customers": [r["customers"] for r in rows],
            "customer_share": [round(r["share_of_customers"] * 100, 1) for r in rows],
            "revenue_share": [round(r["share_of_revenue"] * 100, 1) for r in rows],
        }
    if clv and clv["histogram"]:
        data["clv"] = {
            "labels": _bin_labels(clv["histogram"]),
            "customers": [b["customers"] for b in clv["histogram"]],
        }
    if fits and fits.get("projection") and fits["projection"].get("fitted"):
        curve = fits["projection"]["curve"]
        data["projection"] = {
            "labels": [f"M{p['age']}" for p in curve],
            "actual": [None if p["actual"] is None else round(p["actual"] * 100, 1) for p in curve],
            "projected": [round(p["projected"] * 100, 1) for p in curve],
        }
    if fits and fits.get("calibration"):
        data["calibration"] = {
            "labels": [str(row.get("bin")) for row in fits["calibration"]],
            "actual": [row.get("actual") for row in fits["calibration"]],
            "predicted": [row.get("predicted") for row in fits["calibration"]],
            "customers": [row.get("customers") for row in fits["calibration"]],
        }
    return data


def _projection_rows(projection: dict | None) -> list[dict[str, Any]]:
    """The curve's table: every observed age, then the projected ones."""
    if not projection or not projection.get("fitted"):
        return []
    return [
        {**p, "future": p["actual"] is None and p["cohorts_observed"] == 0}
        for p in projection["curve"]
    ]


def band_decimals(edges: list[float]) -> int:
    """The fewest decimals (0-6) that print every band edge distinctly and within a tenth of
    a band's width: CLV bands of 0.3 need one (0.0-0.3, 0.3-0.6), bands of 2,500 none."""
    values = sorted(set(edges))
    width = min((b - a for a, b in zip(values, values[1:], strict=False)), default=0.0)
    for digits in range(7):
        printed = [round(v, digits) for v in values]
        close = width <= 0 or max(abs(p - v) for p, v in zip(printed, values, strict=True)) <= (
            width / 10
        )
        if close and len(set(printed)) == len(values):
            return digits
    return 6


def _bin_labels(histogram: list[dict]) -> list[str]:
    edges = [b["low"] for b in histogram] + [b["high"] for b in histogram if b["high"] is not None]
    digits = band_decimals(edges)
    labels = []
    for b in histogram:
        if b["high"] is None:
            labels.append(f"≥ {b['low']:,.{digits}f}")
        else:
            labels.append(f"{b['low']:,.{digits}f}–{b['high']:,.{digits}f}")
    return labels


def _histogram(clv: dict | None) -> list[dict[str, Any]]:
    if not clv:
        return []
    labels = _bin_labels(clv["histogram"])
    return [{**b, "label": label} for b, label in zip(clv["histogram"], labels, strict=True)]


# ----- pages -----------------------------------------------------------------------------


@ui_view
@require_safe
def overview(request):
    """KPIs, RFM segments, the CLV distribution, cohort retention, the BG/NBD calibration,
    high-value customers at risk and the refresh panel, on one page."""
    user = request.user
    kpis = _aggregate(selectors.kpi_overview, user=user, months=12)
    segments = _aggregate(selectors.segments_summary, user=user)
    clv = _aggregate(selectors.clv_overview, user=user, bins=20, top=5)
    cohorts = _aggregate(selectors.cohort_retention, user=user, months=12)
    run, fit_list = selectors.model_fits_latest()
    fits = _fits(fit_list)
    at_risk = selectors.at_risk_list(user=user).order_by("-value_at_risk", "-id")
    context = {
        "tab": "overview",
        "snapshot": kpis,
        "kpis": kpis,
        "segments": segments,
        "segment_rows": _segment_rows(segments),
        "clv": clv,
        "histogram": _histogram(clv),
        "top_clv": _score_rows(clv["top"]) if clv else [],
        "cohort_table": _cohort_table(cohorts),
        "fit_run": run,
        **fits,
        "at_risk": _score_rows(at_risk[: AT_RISK_PREVIEW + 1]),
        "currency": _currency(kpis),
        "chart_data": _chart_data(segments, clv, fits),
        **_run_context(user),
    }
    context["at_risk_more"] = len(context["at_risk"]) > AT_RISK_PREVIEW
    context["at_risk"] = context["at_risk"][:AT_RISK_PREVIEW]
    context["marketing"] = _marketing_card(user)
    return _page(request, "analytics/overview.html", context)


def _marketing_card(user) -> dict | None:
    """Organisation-wide cost per lead and per sale over 12 months (linear attribution), for
    those who see the marketing reports."""
    from rapport.marketing.access import can_view_reports
    from rapport.marketing.attribution import campaign_roi

    if not can_view_reports(user):
        return None
    _, org, _ = campaign_roi(
        model="linear", start=timezone.now() - datetime.timedelta(days=365), end=None
    )
    return org


@ui_view
@require_safe
def segments(request):
    """Every RFM segment with its customers, revenue, CLV and churn risk, the 5x5 map of
    R x FM scores to segments, the rules and the quintile thresholds of the last refresh."""
    data = _aggregate(selectors.segments_summary, user=request.user)
    grid = []
    if data:
        grid = [
            {"r": row["r"], "cells": [{"fm": i + 1, "segment": s} for i, s in enumerate(row["fm"])]}
            for row in data["grid"]
        ]
    context = {
        "tab": "segments",
        "snapshot": data,
        "segments": data,
        "segment_rows": _segment_rows(data),
        "grid": grid,
        "currency": _currency(data),
        "chart_data": _chart_data(data, None, None),
        **_run_context(request.user),
    }
    return _page(request, "analytics/segments.html", context)


@ui_view
@require_safe
def cohorts(request):
    """Retention of monthly first-purchase cohorts as a heat map table."""
    months = request.GET.get("months", "12")
    months = int(months) if months.isdigit() and int(months) in COHORT_MONTHS else 12
    data = _aggregate(selectors.cohort_retention, user=request.user, months=months)
    projection = _aggregate(
        selectors.retention_projection, user=request.user, periods=PROJECTION_PERIODS
    )
    context = {
        "tab": "cohorts",
        "snapshot": data,
        "cohort_table": _cohort_table(data),
        "months": months,
        "month_choices": COHORT_MONTHS,
        "projection": projection,
        "projection_rows": _projection_rows(projection),
        "chart_data": _chart_data(None, None, {"projection": projection}),
        **_run_context(request.user),
    }
    return _page(request, "analytics/cohorts.html", context)


@ui_view
@require_safe
def model_fit(request):
    """The fit reports of the last successful refresh (readable by every user: no customer
    data)."""
    run, fit_list = selectors.model_fits_latest()
    fits = _fits(fit_list)
    context = {
        "tab": "model_fit",
        "fit_run": run,
        "fit_currency": settings.RAPPORT_CURRENCY.upper(),
        **fits,
        "chart_data": _chart_data(None, None, fits),
        **_run_context(request.user),
    }
    return _page(request, "analytics/model_fit.html", context)


@ui_view
@require_safe
def at_risk(request):
    """Visible high-value customers at risk, by value at risk (the API's /at-risk list)."""
    sort = request.GET.get("sort", "-value_at_risk")
    if sort.lstrip("-") not in AT_RISK_SORTS:
        sort = "-value_at_risk"
    page = keyset_page(
        selectors.at_risk_list(user=request.user),
        sort=sort,
        allowed=AT_RISK_SORTS,
        cursor=request.GET.get("cursor") or None,
        limit=AT_RISK_PAGE,
    )
    next_query = ""
    if page.next_cursor:
        params = request.GET.copy()
        params["cursor"] = page.next_cursor
        next_query = "?" + params.urlencode()
    context = {
        "tab": "at_risk",
        "rows": _score_rows(page.items),
        "count": page.count,
        "sort": sort,
        "next_query": next_query,
        "first_page": not request.GET.get("cursor"),
        "currency": settings.RAPPORT_CURRENCY.upper(),
        "settings_obj": services.analytics_settings_get(),
        "last_run": services.last_succeeded_run(),
        "may_refresh": services.can_refresh(request.user),
    }
    return _page(request, "analytics/at_risk.html", context)


@ui_view
@require_safe
def cross_sell(request):
    """Next-best products: what the visible customers with the highest CLV should be offered,
    and how often each product is recommended among the top customers."""
    visible = selectors.scores_visible_to(request.user).order_by("-clv", "-id")
    top = list(visible[:CROSS_SELL_CUSTOMERS])
    tally: Counter[int] = Counter()
    tallied = 0
    for products in visible.values_list("next_products", flat=True)[:CROSS_SELL_TALLY]:
        tally.update(int(p) for p in products or [])
        tallied += 1
    ids = {int(p) for s in top for p in s.next_products or []} | set(tally)
    names = {p.pk: p for p in product_list().filter(pk__in=ids)}
    upsell = selectors.upsell_products_of(top)
    rows = _score_rows(top)
    for row in rows:
        row["products"] = [
            names[int(p)] for p in row["score"].next_products or [] if int(p) in names
        ]
        row["upsell"] = upsell.get(row["score"].pk, [])
    run, fit_list = selectors.model_fits_latest()
    by_model = _fits(fit_list)["by_model"]
    bundles = _aggregate(selectors.bundles_list, limit=BUNDLES_SHOWN)
    context = {
        "tab": "cross_sell",
        "rows": rows,
        "tally": [(names[p], n) for p, n in tally.most_common(10) if p in names],
        "tallied": tallied,
        "fit": by_model.get("next_products"),
        "upsell_fit": by_model.get("upsell"),
        "bundles": bundles["bundles"] if bundles else [],
        "bundle_report": bundles["report"] if bundles else {},
        "currency": settings.RAPPORT_CURRENCY.upper(),
        "may_refresh": services.can_refresh(request.user),
    }
    return _page(request, "analytics/cross_sell.html", context)


# ----- refresh and runs ------------------------------------------------------------------


@ui_view
@require_POST
def refresh(request):
    """Queue a refresh (managers and administrators), as POST /api/analytics/refresh."""
    form = RefreshForm(request.POST)
    back = safe_next(request, request.POST.get("next"), reverse("analytics:overview"))
    full = form.is_valid() and form.cleaned_data["full"]
    try:
        run = services.analytics_refresh_request(actor=request.user, full=full)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Refresh #{run.pk} queued: the page follows its progress.")
    return HttpResponseRedirect(back)


@ui_view
@require_safe
def run_status(request, pk: int):
    """One run's progress (the refresh panel polls it with htmx while it is active)."""
    run = selectors.run_get_for_user(pk=pk, user=request.user)
    context = {"run": run, "active": run.status in (RunStatus.QUEUED, RunStatus.RUNNING)}
    if is_htmx(request):
        return render_fragment(request, "analytics/_run_status.html", context)
    return render(request, "analytics/run.html", context)


# ----- settings --------------------------------------------------------------------------


@ui_view
def settings_view(request):
    """Cost rates and model settings: managers read them, administrators change them (the
    API's GET and PATCH /settings)."""
    if not services.can_refresh(request.user):
        raise PermissionDenied("Only managers and administrators see analytics settings")
    obj = services.analytics_settings_get()
    form = AnalyticsSettingsForm(request.POST or None, instance=obj)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                diff = services.analytics_settings_update(
                    actor=request.user,
                    fields=form.changes(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except StaleVersion:
                form.add_error(None, STALE_MESSAGE)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                text = (
                    "Settings saved: they apply from the next refresh." if diff else "No changes."
                )
                messages.success(request, text)
                return HttpResponseRedirect(reverse("analytics:settings"))
        status = 422
    context = {
        "tab": "settings",
        "form": form,
        "may_edit": request.user.is_admin,
        "settings_obj": obj,
        "may_refresh": True,
        "currency": settings.RAPPORT_CURRENCY.upper(),
    }
    return _page(request, "analytics/settings.html", context, status=status)

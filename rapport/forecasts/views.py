"""Analytics → Forecast and the quota grid: thin over the same selectors and services as the
API; the charts are drawn from embedded JSON by static JS (tables carry the same figures)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.forecasts import selectors, services
from rapport.forecasts.access import (
    quotas_visible_q,
    require_quota_setter,
    resolve_scope,
    scope_choices,
)
from rapport.forecasts.forms import CommitForm, ForecastForm, period_choices
from rapport.forecasts.models import Category, Quota
from rapport.forecasts.periods import MONTH, QUARTER, parse_period, period_containing
from rapport.identity.models import Role, Team, User
from rapport.records.exceptions import PermissionDenied
from rapport.records.visibility import managed_team_ids
from rapport.sales.selectors import opportunity_get_for_user
from rapport.territories.access import managed_territory_ids
from rapport.territories.models import Territory
from rapport.web.decorators import ui_view


def _chart(data: dict, backtest: dict) -> dict:
    hist = data["histogram"]
    edges = hist["edges"]
    return {
        "histogram": {
            "labels": [round((a + b) / 2) for a, b in zip(edges, edges[1:], strict=False)],
            "values": hist["counts"],
            "p10": data["p10"],
            "p50": data["p50"],
            "p90": data["p90"],
        },
        "backtest": {
            "labels": [r["label"] for r in backtest["rows"]],
            "range": [[round(r["p10"]), round(r["p90"])] for r in backtest["rows"]],
            "p50": [round(r["p50"]) for r in backtest["rows"]],
            "naive": [round(r["naive"]) for r in backtest["rows"]],
            "actual": [round(r["actual"]) for r in backtest["rows"]],
        },
    }


def _back_to(request) -> str:
    query = QueryDict(mutable=True)
    for key in ("period", "scope"):
        if request.POST.get(key):
            query[key] = request.POST[key][:30]
    url = reverse("forecasts:forecast")
    return f"{url}?{query.urlencode()}" if query else url


@ui_view
@require_safe
def forecast_page(request):
    scopes = scope_choices(request.user)
    form = ForecastForm(request.GET or None, scopes=scopes)
    if request.GET and not form.is_valid():
        return render(
            request,
            "forecasts/forecast.html",
            {"tab": "forecast", "form": form, "data": None},
            status=400,
        )
    if request.GET:
        period, scope_key = form.cleaned_data["period"], form.cleaned_data["scope"]
    else:
        period, scope_key = period_containing(QUARTER, timezone.localdate()), "me"
    # Show what is shown: the defaults filled in.
    form = ForecastForm({"period": period.key, "scope": scope_key}, scopes=scopes)
    form.is_valid()
    try:
        scope = resolve_scope(request.user, scope_key)
    except ValidationError as exc:
        form.add_error("scope", " ".join(exc.messages))
        return render(
            request,
            "forecasts/forecast.html",
            {"tab": "forecast", "form": form, "data": None},
            status=400,
        )
    if scope.kind == "user" and scope.pk != request.user.pk:
        form.fields["scope"].widget.choices = [
            (k, scope.label if k == scope.key else label)
            for k, label in form.fields["scope"].widget.choices
        ]
    data = selectors.forecast(request.user, period, scope)
    backtest = selectors.forecast_backtest(request.user, period, scope)
    commits = selectors.commit_history(request.user, period)[:5]
    context = {
        "tab": "forecast",
        "form": form,
        "data": data,
        "backtest": backtest,
        "chart": _chart(data, backtest),
        "commit_form": CommitForm(),
        "my_commits": list(commits),
        "may_commit": not request.user.is_read_only,
        "categories": [(c.value, c.label) for c in Category],
        "category_labels": {c.value: c.label for c in Category},
        "may_set_quotas": request.user.is_admin
        or bool(managed_team_ids(request.user))
        or bool(managed_territory_ids(request.user)),
    }
    return render(request, "forecasts/forecast.html", context)


@ui_view
@require_POST
def commit_submit(request):
    form = CommitForm(request.POST)
    try:
        period = parse_period(request.POST.get("period", ""))
    except ValidationError:
        messages.error(request, "Choose a period first.")
        return redirect(_back_to(request))
    if not form.is_valid():
        messages.error(request, "Enter your forecast as an amount of at least 0.")
        return redirect(_back_to(request))
    try:
        services.commit_submit(
            actor=request.user,
            period=period,
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Your forecast for {period.label} is submitted.")
    return redirect(_back_to(request))


@ui_view
@require_POST
def category_set(request, pk: int):
    opportunity = opportunity_get_for_user(pk=pk, user=request.user)
    value = request.POST.get("category") or None
    try:
        services.opportunity_category_set(
            actor=request.user, opportunity=opportunity, category=value
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Forecast category of {opportunity.name} saved.")
    return redirect(_back_to(request))


def _grid_rows(user: User) -> list[dict]:
    """Targets whose quotas the user may set: users and teams below their teams, their
    territories; an admin gets everyone."""
    if user.is_admin:
        users = User.objects.filter(is_active=True).exclude(role=Role.READ_ONLY)
        teams = Team.objects.all()
        territories = Territory.objects.all()
    else:
        managed = managed_team_ids(user)
        users = (
            User.objects.filter(is_active=True, team_id__in=managed)
            .exclude(pk=user.pk)
            .exclude(role=Role.READ_ONLY)
        )
        teams = Team.objects.filter(pk__in=managed).exclude(manager_id=user.pk)
        territories = Territory.objects.filter(pk__in=managed_territory_ids(user))
    rows = [
        {"kind": "user", "obj": u, "label": u.get_full_name() or u.username}
        for u in users.order_by("first_name", "last_name", "username")
    ]
    rows += [{"kind": "team", "obj": t, "label": f"Team {t.name}"} for t in teams.order_by("name")]
    rows += [
        {"kind": "territory", "obj": t, "label": f"Territory {t.name}"}
        for t in territories.order_by("name")
    ]
    return rows


@ui_view
@require_http_methods(["GET", "HEAD", "POST"])
def quotas_page(request):
    kind = MONTH if (request.GET.get("kind") or request.POST.get("kind")) == MONTH else QUARTER
    periods = [
        parse_period(key)
        for key, _ in period_choices(kind, back=0, ahead=3 if kind == QUARTER else 5)
    ]
    rows = _grid_rows(request.user)
    errors: dict[str, str] = {}
    if request.method == "POST":
        saved = 0
        for row in rows:
            for period in periods:
                name = f"q-{row['kind']}-{row['obj'].pk}-{period.key}"
                if name not in request.POST:
                    continue
                raw = request.POST[name].strip().replace(",", "")
                try:
                    require_quota_setter(request.user, **{row["kind"]: row["obj"]})
                    services.quota_set(
                        actor=request.user,
                        period=period,
                        amount=raw if raw else None,
                        **{row["kind"]: row["obj"]},
                    )
                    saved += 1
                except ValidationError as exc:
                    errors[name] = " ".join(exc.messages)
                except PermissionDenied as exc:
                    errors[name] = str(exc)
        if not errors:
            messages.success(request, "Quotas saved.")
            return redirect(f"{reverse('forecasts:quotas')}?kind={kind}")
    existing = {}
    for q in Quota.objects.filter(
        quotas_visible_q(request.user),
        period_kind=kind,
        period_start__in=[p.start for p in periods],
    ):
        target = (
            ("user", q.user_id)
            if q.user_id
            else ("team", q.team_id)
            if q.team_id
            else ("territory", q.territory_id)
        )
        existing[(*target, q.period_start)] = q.amount
    grid = []
    for row in rows:
        cells = []
        for period in periods:
            name = f"q-{row['kind']}-{row['obj'].pk}-{period.key}"
            value = (
                request.POST.get(name)
                if request.method == "POST"
                else existing.get((row["kind"], row["obj"].pk, period.start))
            )
            cells.append(
                {
                    "name": name,
                    "value": value if value is not None else "",
                    "error": errors.get(name),
                    "label": f"{row['label']}, {period.label}",
                }
            )
        grid.append({"label": row["label"], "cells": cells})
    own = [(period, existing.get(("user", request.user.pk, period.start))) for period in periods]
    return render(
        request,
        "forecasts/quotas.html",
        {
            "tab": "forecast",
            "kind": kind,
            "periods": periods,
            "grid": grid,
            "own": own,
            "errors": errors,
            "currency": settings.RAPPORT_CURRENCY,
        },
        status=422 if errors else 200,
    )

"""The scoring page: the admin's rule points, the current models with their holdout metrics
beside the naive-Bayes baseline (and the stage defaults), reliability charts, retrain."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.scoring import services
from rapport.scoring.forms import ScoringRuleForm
from rapport.scoring.models import LeadScore, ScoringRule, Target
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors

# The reliability chart: a square plot, predicted (x) against observed (y).
_PLOT, _PAD = 200, 36


def _chart(series: list[tuple[str, str, list[dict]]]) -> dict:
    lines = []
    for label, css, bins in series:
        points = [
            {
                "x": round(_PAD + b["predicted"] * _PLOT, 1),
                "y": round(_PAD + (1 - b["observed"]) * _PLOT, 1),
                "r": 3 if b["n"] < 20 else 5,
                "title": f"{label}: predicted {b['predicted']:.0%}, observed {b['observed']:.0%} ({b['n']})",
            }
            for b in bins
        ]
        lines.append(
            {
                "label": label,
                "css": css,
                "points": points,
                "path": " ".join(f"{p['x']},{p['y']}" for p in points),
            }
        )
    ticks = [
        {"v": f"{v}%", "x": _PAD + v / 100 * _PLOT, "y": _PAD + (1 - v / 100) * _PLOT}
        for v in (0, 50, 100)
    ]
    return {
        "lines": lines,
        "size": _PLOT + 2 * _PAD,
        "plot": _PLOT,
        "lo": _PAD,
        "hi": _PAD + _PLOT,
        "ticks": ticks,
    }


def _model_view(model):
    if model is None:
        return None
    metrics = model.metrics or {}
    series = []
    if metrics.get("model"):
        series.append(("Model", "rel-model", metrics["model"]["reliability"]))
    if metrics.get("baseline"):
        series.append(("Naive Bayes", "rel-baseline", metrics["baseline"]["reliability"]))
    if metrics.get("stage_default"):
        series.append(("Stage default", "rel-stage", metrics["stage_default"]["reliability"]))
    rows = []
    for key, label in (
        ("model", "Calibrated logistic regression"),
        ("baseline", "Naive-Bayes frequencies (Odoo's method)"),
        ("stage_default", "Stage default probability"),
    ):
        if metrics.get(key):
            rows.append({"label": label, **metrics[key]})
    return {
        "model": model,
        "rows": rows,
        "chart": _chart(series) if series else None,
        "stages": sorted((metrics.get("stages") or {}).items()),
        "n_train": metrics.get("n_train"),
        "n_holdout": metrics.get("n_holdout"),
    }


@ui_view
def scoring_page(request):
    is_admin = request.user.is_admin
    form = ScoringRuleForm(request.POST or None) if is_admin else None
    if request.method == "POST":
        services._require_admin(request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.rule_save(
                    actor=request.user,
                    fields={**data, "operator": data["operator"] or "equals"},
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                services.score_leads()
                messages.success(request, "Rule added; open leads were rescored.")
                return HttpResponseRedirect(reverse("scoring:page"))
    lead_model = services.current_model(Target.LEAD)
    scored = LeadScore.objects.count()
    return render(
        request,
        "scoring/page.html",
        {
            "is_admin": is_admin,
            "form": form,
            "rules": ScoringRule.objects.all(),
            "lead": _model_view(lead_model),
            "opportunity": _model_view(services.current_model(Target.OPPORTUNITY)),
            "min_outcomes": services.min_outcomes(),
            "scored": scored,
        },
        status=422 if form is not None and form.errors else 200,
    )


@ui_view
@require_POST
def scoring_rule_delete(request, pk: int):
    rule = ScoringRule.objects.filter(pk=pk).first()
    if rule is not None:
        services.rule_delete(actor=request.user, rule=rule)
        messages.success(request, "Rule deleted.")
    return HttpResponseRedirect(reverse("scoring:page"))


@ui_view
@require_POST
def scoring_retrain(request):
    services._require_admin(request.user)
    from rapport.scoring.tasks import scoring_retrain_task

    transaction.on_commit(lambda: scoring_retrain_task.enqueue())
    messages.success(request, "Retraining queued; scores refresh when it finishes.")
    return HttpResponseRedirect(reverse("scoring:page"))

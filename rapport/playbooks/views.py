"""Playbook pages: the checklist card on an opportunity (htmx) and the settings section where
admins and managers write each stage's steps."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.playbooks import selectors, services
from rapport.playbooks.models import PlaybookStep
from rapport.records.visibility import can_edit
from rapport.sales.models import Pipeline, Stage
from rapport.sales.selectors import opportunity_get_for_user
from rapport.web.decorators import ui_view
from rapport.web.settings_views import _page as settings_page


def _card(request, opportunity, error: str = "", status: int = 200):
    return render(
        request,
        "playbooks/_card.html",
        {
            "opportunity": opportunity,
            "rows": selectors.playbook_for(opportunity),
            "can_edit": can_edit(opportunity, request.user),
            "error": error,
        },
        status=status,
    )


@ui_view
@require_safe
def card(request, pk: int):
    return _card(request, opportunity_get_for_user(pk=pk, user=request.user))


@ui_view
@require_POST
def toggle(request, pk: int, step_id: int):
    opportunity = opportunity_get_for_user(pk=pk, user=request.user)
    step = PlaybookStep.objects.filter(pk=step_id).first()
    if step is None:
        raise Http404("No such step")
    try:
        services.step_check(
            actor=request.user,
            opportunity=opportunity,
            step=step,
            done=request.POST.get("done") == "1",
        )
    except ValidationError as exc:
        return _card(request, opportunity, error=" ".join(exc.messages), status=422)
    if request.headers.get("HX-Request"):
        return _card(request, opportunity)
    return redirect("sales:opportunity_detail", pk=pk)


@ui_view
@require_http_methods(["GET", "POST"])
def settings_playbooks(request):
    if request.method == "POST":
        try:
            if request.POST.get("delete"):
                step = PlaybookStep.objects.filter(pk=request.POST["delete"]).first()
                if step is not None:
                    services.step_delete(actor=request.user, step=step)
            else:
                stage = Stage.objects.filter(pk=request.POST.get("stage")).first()
                if stage is None:
                    raise ValidationError({"stage": ["Choose a stage"]})
                services.step_add(
                    actor=request.user,
                    stage=stage,
                    text=request.POST.get("text", ""),
                    hint=request.POST.get("hint", ""),
                )
                messages.success(request, f"Step added to {stage.name}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("settings:playbooks")
    pipelines = list(
        Pipeline.objects.prefetch_related("stages__playbook").order_by("position", "id")
    )
    return settings_page(
        request,
        "playbooks",
        "playbooks/settings.html",
        {
            "pipelines": pipelines,
            "can_edit_playbooks": request.user.role in ("admin", "manager"),
        },
    )

"""Pages of territories (tree, one territory with its report, realignment preview and run)
and of assignment rules. Thin over the same services and selectors as the API."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.territories import selectors, services
from rapport.territories.forms import AssignmentRuleForm, TerritoryForm, parse_conditions
from rapport.territories.models import AssignmentRule, Realignment
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors


def _save_territory(request, form, territory=None):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        saved = services.territory_save(
            actor=request.user,
            territory=territory,
            fields={
                "name": data["name"],
                "parent": data["parent"],
                "priority": data["priority"],
                "description": data["description"],
            },
        )
        services.territory_set_rules(actor=request.user, territory=saved, rules=data["rules"])
        services.territory_set_members(
            actor=request.user,
            territory=saved,
            reps=list(data["reps"]),
            managers=list(data["managers"]),
        )
    except ValidationError as exc:
        add_service_errors(form, exc, {"parent_id": "parent"})
        return None
    messages.success(
        request,
        f"Saved “{saved.name}”. Records move at their next change, or preview a realignment.",
    )
    return HttpResponseRedirect(reverse("territories:detail", args=[saved.pk]))


@ui_view
def territory_list(request):
    is_admin = request.user.is_admin
    form = TerritoryForm(request.POST or None) if is_admin else None
    if request.method == "POST":
        services.require_admin(request.user)
        done = _save_territory(request, form)
        if done:
            return done
    counts = selectors.counts_by_territory()
    rows = [
        {"territory": t, "depth": min(depth, 4), "counts": counts.get(t.pk, {})}
        for t, depth in selectors.tree(selectors.territories_all())
    ]
    return render(
        request,
        "territories/list.html",
        {
            "rows": rows,
            "form": form,
            "is_admin": is_admin,
            "realignments": selectors.realignments() if is_admin else [],
        },
        status=422 if form is not None and form.errors else 200,
    )


@ui_view
def territory_detail(request, pk: int):
    territory = selectors.territory_get(pk)
    is_admin = request.user.is_admin
    form = None
    if is_admin:
        form = TerritoryForm(
            request.POST or None,
            territory=territory,
            initial=TerritoryForm.initial_for(territory),
        )
    if request.method == "POST":
        services.require_admin(request.user)
        done = _save_territory(request, form, territory)
        if done:
            return done
    report = selectors.territory_report(territory, request.user)
    members = list(territory.members.all())
    return render(
        request,
        "territories/detail.html",
        {
            "territory": territory,
            "form": form,
            "is_admin": is_admin,
            "report": report,
            "reps": [m.user for m in members if m.role == "rep"],
            "managers": [m.user for m in members if m.role == "manager"],
            "counts": selectors.counts_by_territory().get(territory.pk, {}),
        },
        status=422 if form is not None and form.errors else 200,
    )


@ui_view
@require_POST
def territory_delete(request, pk: int):
    territory = selectors.territory_get(pk)
    services.territory_delete(actor=request.user, territory=territory)
    messages.success(request, f"Deleted “{territory.name}”")
    return HttpResponseRedirect(reverse("territories:list"))


@ui_view
def realignment_preview(request):
    preview = services.realignment_preview(actor=request.user)
    return render(request, "territories/preview.html", {"preview": preview})


@ui_view
@require_POST
def realignment_start(request):
    run = services.realignment_start(actor=request.user)
    messages.success(request, f"Realignment #{run.pk} queued; it runs in the background.")
    return HttpResponseRedirect(reverse("territories:list"))


@ui_view
def realignment_status(request, pk: int):
    services.require_admin(request.user)
    run = Realignment.objects.filter(pk=pk).first()
    return render(request, "territories/_realignment.html", {"run": run})


# ----- assignment rules ----------------------------------------------------------------


def _conditions_text(rule: AssignmentRule) -> str:
    return "\n".join(f"{k}: {', '.join(map(str, v))}" for k, v in (rule.conditions or {}).items())


@ui_view
def assignment_rules(request):
    is_admin = request.user.is_admin
    form = AssignmentRuleForm(request.POST or None) if is_admin else None
    if request.method == "POST":
        services.require_admin(request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rule = services.assignment_rule_save(
                    actor=request.user,
                    fields={
                        "name": data["name"],
                        "object_type": data["object_type"],
                        "position": data["position"],
                        "conditions": data["conditions"],
                        "strategy": data["strategy"],
                        "user_id": data["user"].pk if data["user"] else None,
                        "team_id": data["team"].pk if data["team"] else None,
                        "is_active": data["is_active"],
                    },
                )
            except ValidationError as exc:
                add_service_errors(form, exc, {"user_id": "user", "team_id": "team"})
            else:
                messages.success(request, f"Added rule “{rule.name}”")
                return HttpResponseRedirect(reverse("territories:assignment"))
    rules = [{"rule": r, "conditions": _conditions_text(r)} for r in selectors.assignment_rules()]
    return render(
        request,
        "territories/assignment.html",
        {"rules": rules, "form": form, "is_admin": is_admin},
        status=422 if form is not None and form.errors else 200,
    )


@ui_view
@require_POST
def assignment_rule_delete(request, pk: int):
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is not None:
        services.assignment_rule_delete(actor=request.user, rule=rule)
        messages.success(request, f"Deleted rule “{rule.name}”")
    return HttpResponseRedirect(reverse("territories:assignment"))


__all__ = ["parse_conditions"]

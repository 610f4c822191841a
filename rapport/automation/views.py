"""Settings → Automation: rule list, builder, run history with step detail, replay.

Administrators change rules; managers may read them (like every settings section)."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.automation import selectors, services
from rapport.automation.actions import model_for, registry
from rapport.automation.conditions import OPERATORS
from rapport.automation.forms import (
    ActionFormSet,
    ConditionFormSet,
    RuleForm,
    editable_in_forms,
    initial_for,
    rule_data,
)
from rapport.automation.owners import rule_owner, rule_owners
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import StaleVersion
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.links import record_url
from rapport.web.settings_views import _page as settings_page

RUNS_SHOWN = 100
FIELD_MAP = {
    "trigger_config.cron": "cron",
    "trigger_config.field": "date_field",
    "trigger_config.offset_days": "offset_days",
    "trigger_config.match": "match",
}


@ui_view
def rules(request):
    rows = list(selectors.rules_for(request.user).order_by("name", "id"))
    owners = rule_owners(rule.pk for rule in rows)
    for rule in rows:
        rule.owner = owners.get(rule.pk)
    return settings_page(request, "automation", "automation/rules.html", {"rules": rows})


def _builder(request, rule=None):
    require_settings_admin(request.user)
    owner = rule_owner(rule.pk) if rule is not None else None
    if owner is not None:
        messages.warning(request, f"This rule runs {owner.label}: change it there.")
        return HttpResponseRedirect(reverse("settings:automation_rule", args=[rule.pk]))
    if rule is not None and not editable_in_forms(rule):
        messages.warning(
            request,
            "This rule has condition groups or an if/else with several conditions: change it through the API.",
        )
        return HttpResponseRedirect(reverse("settings:automation_rule", args=[rule.pk]))
    if request.method == "POST":
        form = RuleForm(request.POST)
        conditions = ConditionFormSet(request.POST, prefix="cond")
        actions = ActionFormSet(request.POST, prefix="act")
        if form.is_valid() and conditions.is_valid() and actions.is_valid():
            data = rule_data(form, conditions, actions)
            try:
                if rule is None:
                    saved = services.rule_create(actor=request.user, data=data)
                else:
                    saved = services.rule_update(
                        rule=rule,
                        actor=request.user,
                        data=data,
                        expected_version=int(request.POST.get("version") or rule.version),
                    )
            except StaleVersion:
                form.add_error(None, "Someone changed this rule meanwhile: reload it first.")
            except ValidationError as exc:
                add_service_errors(form, exc, FIELD_MAP)
            else:
                messages.success(request, f"Saved “{saved.name}”")
                return HttpResponseRedirect(reverse("settings:automation_rule", args=[saved.pk]))
    else:
        if rule is None:
            head, conds, rows = (
                {"is_active": True, "max_runs_per_hour": 10_000, "max_attempts": 3},
                [],
                [],
            )
        else:
            head, conds, rows = initial_for(rule)
        form = RuleForm(initial=head)
        conditions = ConditionFormSet(initial=conds, prefix="cond")
        actions = ActionFormSet(initial=rows, prefix="act")
    status = (
        400 if form.errors or conditions.total_error_count() or actions.total_error_count() else 200
    )
    return settings_page(
        request,
        "automation",
        "automation/builder.html",
        {"rule": rule, "form": form, "conditions": conditions, "actions": actions},
        status,
    )


@ui_view
def rule_new(request):
    return _builder(request)


@ui_view
def rule_edit(request, pk: int):
    return _builder(request, selectors.rule_get(request.user, pk))


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _describe(actions: list[dict], depth: int = 0) -> list[str]:
    """The actions in words, one line each, branches indented."""
    specs = registry()
    lines = []
    pad = "    " * depth
    for action in actions:
        spec = specs.get(action["type"])
        label = spec.label if spec else action["type"]
        params = {k: v for k, v in (action.get("params") or {}).items() if k != "conditions"}
        if action["type"] == "branch":
            items = (action["params"].get("conditions") or {}).get("items", [])
            text = " and ".join(
                f"{i.get('field')} {OPERATORS.get(i.get('operator'), '')} {i.get('value', '')}".strip()
                for i in items
                if "field" in i
            )
            lines.append(f"{pad}If {text or 'always'}:")
            lines += _describe(action.get("then") or [], depth + 1)
            if action.get("else"):
                lines.append(f"{pad}Otherwise:")
                lines += _describe(action["else"], depth + 1)
            continue
        detail = ", ".join(f"{k} {v}" for k, v in params.items())
        unavailable = "" if spec is None or spec.available else " — not available yet"
        lines.append(f"{pad}{label}{': ' + detail if detail else ''}{unavailable}")
    return lines


@ui_view
def rule_detail(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    runs = list(selectors.runs_of(request.user, rule)[:RUNS_SHOWN])
    conditions = [
        f"{i['field']} {OPERATORS.get(i['operator'], i['operator'])} {i.get('value', '')}".strip()
        for i in (rule.conditions or {}).get("items", [])
        if "field" in i
    ]
    return settings_page(
        request,
        "automation",
        "automation/rule.html",
        {
            "rule": rule,
            "owner": rule_owner(rule.pk),
            "runs": runs,
            "runs_shown": RUNS_SHOWN,
            "in_forms": editable_in_forms(rule),
            "action_lines": _describe(rule.actions),
            "condition_lines": conditions,
            "join_word": "any of" if (rule.conditions or {}).get("op") == "or" else "all of",
            "config_text": _pretty(rule.trigger_config) if rule.trigger_config else "",
        },
    )


@ui_view
@require_POST
def rule_delete(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    services.rule_delete(rule=rule, actor=request.user)
    messages.success(request, f"Deleted “{rule.name}” and its run history")
    return HttpResponseRedirect(reverse("settings:automation"))


@ui_view
def run_detail(request, pk: int):
    run = selectors.run_get(request.user, pk)
    steps = [(step, _pretty(step.input), _pretty(step.output)) for step in run.steps.order_by("id")]
    return settings_page(
        request,
        "automation",
        "automation/run.html",
        {
            "run": run,
            "rule": run.rule,
            "steps": steps,
            "input_text": _pretty(run.input),
            "record_link": _record_link(run),
        },
    )


def _record_link(run) -> tuple[str, str] | None:
    model = model_for(run.object_type)
    if model is None or not run.object_id:
        return None
    record = model._default_manager.filter(pk=run.object_id).first()
    if record is None:
        return ("", f"{run.object_type} #{run.object_id} (deleted)")
    return (record_url(record), str(record))


@ui_view
@require_POST
def run_replay(request, pk: int):
    run = selectors.run_get(request.user, pk)
    replay = services.run_replay(run=run, actor=request.user)
    messages.success(request, f"Replay started as run #{replay.pk}")
    return HttpResponseRedirect(reverse("settings:automation_run", args=[replay.pk]))


@ui_view
@require_POST
def run_cancel(request, pk: int):
    run = selectors.run_get(request.user, pk)
    services.run_cancel(run=run, actor=request.user)
    messages.success(request, f"Run #{run.pk} cancelled")
    return HttpResponseRedirect(reverse("settings:automation_run", args=[run.pk]))

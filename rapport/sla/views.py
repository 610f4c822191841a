"""Settings → SLA policies (list, create, edit, delete) and the SLA panel of a case page
(`/sla/case/<id>/panel/`, fetched by the case page with hx-get)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.identity.services import require_settings_admin
from rapport.sla import selectors
from rapport.sla.display import due_phrase, format_minutes, spec_for_calendar
from rapport.sla.forms import SlaPolicyForm
from rapport.sla.models import SlaEventKind, SlaMetric
from rapport.sla.policies import sla_policy_delete, sla_policy_save
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.settings_views import _page as settings_page


def _save(request, form, policy=None):
    if not form.is_valid():
        return None
    try:
        saved = sla_policy_save(
            actor=request.user,
            data=form.policy_data(),
            categories=list(form.cleaned_data["categories"]),
            escalations=form.escalations(),
            policy=policy,
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    messages.success(request, f"Saved “{saved.name}”; open cases are being recomputed")
    return HttpResponseRedirect(reverse("settings:sla_policy_edit", args=[saved.pk]))


@ui_view
def policies(request):
    rows = selectors.policies_for(request.user)
    form = SlaPolicyForm(request.POST or None) if request.user.is_admin else None
    if request.method == "POST":
        require_settings_admin(request.user)
        done = _save(request, form)
        if done:
            return done
    return settings_page(
        request,
        "sla",
        "sla/policies.html",
        {"policies": rows, "form": form},
        400 if form is not None and form.errors else 200,
    )


@ui_view
def policy_edit(request, pk: int):
    policy = selectors.policy_get(user=request.user, pk=pk)
    form = SlaPolicyForm(request.POST or None, initial=SlaPolicyForm.initial_for(policy))
    if request.method == "POST":
        require_settings_admin(request.user)
        done = _save(request, form, policy)
        if done:
            return done
    return settings_page(
        request,
        "sla",
        "sla/policy_edit.html",
        {"policy": policy, "form": form},
        400 if form.errors else 200,
    )


@ui_view
@require_POST
def policy_delete_view(request, pk: int):
    policy = selectors.policy_get(user=request.user, pk=pk)
    sla_policy_delete(actor=request.user, policy=policy)
    messages.success(request, f"Deleted “{policy.name}”")
    return HttpResponseRedirect(reverse("settings:sla"))


def _metric_rows(state) -> list[dict]:
    spec = spec_for_calendar(state.policy.calendar) if state.policy else None
    rows = []
    for clock in state.metrics:
        if clock.state == "met":
            phrase = f"met after {format_minutes(clock.elapsed)}" + (
                " (late)" if clock.breached else ""
            )
        elif clock.state == "paused":
            phrase = f"paused, {format_minutes(max(0, clock.target - clock.elapsed))} left"
        elif clock.state == "stopped":
            phrase = "stopped (case resolved)"
        else:
            phrase = due_phrase(clock.due_at, state.now, spec)
        label = SlaMetric(clock.metric).label
        if clock.metric == "next_response":
            label = f"{label} #{clock.cycle}"
        rows.append(
            {
                "label": label,
                "target": format_minutes(clock.target),
                "phrase": phrase,
                "state": clock.state,
                "breached": clock.breached,
                "due_at": clock.due_at,
                "elapsed": format_minutes(clock.elapsed),
            }
        )
    return rows


def _event_text(event) -> str:
    text = SlaEventKind(event.kind).label
    if event.metric:
        text += f" · {SlaMetric(event.metric).label.lower()}"
        if event.cycle:
            text += f" #{event.cycle}"
    if event.kind == SlaEventKind.STATUS:
        text += f" → {event.status.replace('_', ' ')}"
    if event.kind == SlaEventKind.POLICY_CHANGED:
        text += f" → {event.payload.get('to') or 'none'}"
    if event.kind == SlaEventKind.MET and event.payload.get("breached"):
        text += " (late)"
    return text


@ui_view
def case_panel(request, case_id: int):
    case = selectors.case_get_for_sla(user=request.user, case_id=case_id)
    state = selectors.case_sla(case=case, now=timezone.now(), events_limit=30)
    return render(
        request,
        "sla/_case_panel.html",
        {
            "case": case,
            "sla": state,
            "rows": _metric_rows(state),
            "events": [{"at": e.at, "text": _event_text(e)} for e in state.events],
            "can_recompute": request.user.is_admin,
        },
    )


@ui_view
@require_POST
def case_recompute(request, case_id: int):
    """The panel's "Recompute" button (administrators): answers with the panel again."""
    require_settings_admin(request.user)
    case = selectors.case_get_for_sla(user=request.user, case_id=case_id)
    from rapport.sla.services import sla_recompute

    sla_recompute(cases=type(case).objects.filter(pk=case.pk), actor=request.user)
    return case_panel(request, case_id)

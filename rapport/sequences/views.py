"""Sequence pages (namespace "sequences", under /sequences/): the list, the form, a
sequence's page with per-step statistics and its enrolments, the enrol card on contact and
lead pages, and pause / resume / stop."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rapport.accounts.selectors import contact_get_for_user
from rapport.leads.selectors import lead_get_for_user
from rapport.sequences import selectors, services
from rapport.sequences.forms import SequenceForm
from rapport.sequences.models import EnrolmentState, StepKind
from rapport.web.decorators import ui_view
from rapport.web.links import record_url
from rapport.web.listing import safe_next


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "message_dict"):
        return exc.message_dict
    return {"__all__": exc.messages}


def _field_name(key: str) -> str:
    """steps[2].template_id → the form's step_1_template (the form's rows count from 0)."""
    if key.startswith("steps[") and "]." in key:
        n, attr = key[6:].split("].", 1)
        short = {"template_id": "template", "wait_days": "days", "due_in_days": "days"}
        return f"step_{int(n) - 1}_{short.get(attr, attr)}"
    return {"calendar_id": "calendar_id", "name": "name"}.get(key, "__all__")


def _add_errors(form: SequenceForm, exc: ValidationError) -> None:
    for key, errors in _errors(exc).items():
        name = _field_name(key)
        for error in errors:
            form.add_error(None if name not in form.fields else name, error)


@ui_view
@require_safe
def sequence_list(request):
    rows = list(selectors.sequence_list(user=request.user))
    return render(
        request,
        "sequences/sequence_list.html",
        {"rows": rows, "can_create": not request.user.is_read_only},
    )


def _initial(sequence) -> dict:
    initial = {
        "name": sequence.name,
        "description": sequence.description,
        "is_active": sequence.is_active,
        "calendar_id": sequence.calendar_id,
    }
    for i, step in enumerate(sequence.steps.order_by("position")):
        initial[f"step_{i}_kind"] = step.kind
        initial[f"step_{i}_template"] = step.template_id or ""
        initial[f"step_{i}_subject"] = step.subject
        initial[f"step_{i}_days"] = (
            step.wait_days if step.kind == StepKind.WAIT else step.due_in_days
        )
    return initial


@ui_view
@require_http_methods(["GET", "HEAD", "POST"])
def sequence_form(request, pk: int | None = None):
    sequence = selectors.sequence_get(pk=pk, user=request.user) if pk else None
    if sequence is not None and not services.can_change(sequence, request.user):
        messages.error(request, "Only the sequence's author, managers and admins change it.")
        return redirect("sequences:detail", pk=sequence.pk)
    steps_fixed = sequence is not None and sequence.enrolments.exists()
    if request.method == "POST":
        form = SequenceForm(request.POST)
        if form.is_valid():
            try:
                if sequence is None:
                    sequence = services.sequence_create(
                        actor=request.user, fields=form.fields_data(), steps=form.steps()
                    )
                    messages.success(request, f"Sequence {sequence.name} created.")
                else:
                    sequence = services.sequence_update(
                        sequence=sequence,
                        actor=request.user,
                        fields=form.fields_data(),
                        steps=None if steps_fixed else form.steps(),
                    )
                    messages.success(request, "Sequence saved.")
                return redirect("sequences:detail", pk=sequence.pk)
            except ValidationError as exc:
                _add_errors(form, exc)
    else:
        form = SequenceForm(initial=_initial(sequence) if sequence else {"is_active": True})
    return render(
        request,
        "sequences/sequence_form.html",
        {"form": form, "sequence": sequence, "steps_fixed": steps_fixed},
    )


@ui_view
@require_safe
def sequence_detail(request, pk: int):
    sequence = selectors.sequence_get(pk=pk, user=request.user)
    state = request.GET.get("state") or ""
    enrolments = selectors.with_steps_done(
        selectors.enrolments_visible_to(request.user).filter(sequence=sequence)
    )
    if state:
        enrolments = enrolments.filter(state=state)
    return render(
        request,
        "sequences/sequence_detail.html",
        {
            "sequence": sequence,
            "stats": selectors.step_stats(sequence),
            "totals": selectors.sequence_totals(sequence),
            "enrolments": list(enrolments[:100]),
            "state": state,
            "state_choices": EnrolmentState.choices,
            "can_change": services.can_change(sequence, request.user),
            "can_write": not request.user.is_read_only,
        },
    )


def _person(request, object_type: str, pk: int):
    if object_type == "contact":
        return contact_get_for_user(pk=pk, user=request.user)
    return lead_get_for_user(pk=pk, user=request.user)


@ui_view
@require_safe
def person_card(request, object_type: str, pk: int):
    """The sequences card on a contact's or lead's page (loaded by htmx)."""
    record = _person(request, object_type, pk)
    return render(
        request,
        "sequences/_person_card.html",
        {
            "record": record,
            "object_type": object_type,
            "enrolments": list(
                selectors.enrolments_of_person(user=request.user, record=record)[:10]
            ),
            "sequences": list(selectors.sequences_visible_to(request.user).filter(is_active=True)),
            "can_write": not request.user.is_read_only,
            "back": record_url(record),
        },
    )


@ui_view
@require_POST
def person_enrol(request, object_type: str, pk: int):
    record = _person(request, object_type, pk)
    back = safe_next(request, request.POST.get("next"), request.path)
    raw = request.POST.get("sequence_id") or ""
    if not raw.isdigit():
        messages.error(request, "Choose a sequence.")
        return redirect(back)
    sequence = selectors.sequence_get(pk=int(raw), user=request.user)
    try:
        services.enrolment_create(sequence=sequence, actor=request.user, record=record)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Enrolled in {sequence.name}; the first step runs now.")
    return redirect(back)


@ui_view
@require_POST
def enrolment_action(request, pk: int, action: str):
    enrolment = selectors.enrolment_get(pk=pk, user=request.user)
    change = {
        "pause": services.enrolment_pause,
        "resume": services.enrolment_resume,
        "stop": services.enrolment_stop,
    }.get(action)
    if change is None:
        return redirect("sequences:detail", pk=enrolment.sequence_id)
    change(enrolment=enrolment, actor=request.user)
    messages.success(
        request, {"pause": "Paused.", "resume": "Resumed.", "stop": "Stopped."}[action]
    )
    back = safe_next(request, request.POST.get("next"), "")
    return redirect(back or "sequences:detail", **({} if back else {"pk": enrolment.sequence_id}))

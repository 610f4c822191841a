"""The composer on top of a record's timeline: log a call, add a note, schedule a task or
a meeting — inline with htmx (the timeline refreshes in place), or as a plain form post
without JavaScript. Every kind goes through `activity_log`, the API's service."""

import datetime
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone

from rapport.activities.models import CallOutcome, Direction, Priority
from rapport.activities.services import activity_log
from rapport.records.exceptions import Conflict
from rapport.web.forms import DATETIME_INPUT, add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.record_page import timeline_context


class _ComposerForm(forms.Form):
    kind = ""
    label = ""
    button = "Save"

    def activity_fields(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class CallForm(_ComposerForm):
    kind, label, button = "call", "Log a call", "Log call"
    subject = forms.CharField(max_length=200, required=False, label="Subject")
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.OUTBOUND)
    outcome = forms.ChoiceField(choices=[("", "—"), *CallOutcome.choices], required=False)
    duration_minutes = forms.IntegerField(
        min_value=0, max_value=24 * 60, required=False, label="Minutes"
    )
    occurred_at = forms.DateTimeField(
        required=False, label="When", widget=DATETIME_INPUT, help_text="Empty: now"
    )
    body = forms.CharField(
        max_length=20000, required=False, label="Notes", widget=forms.Textarea(attrs={"rows": 3})
    )

    def activity_fields(self) -> dict:
        fields = super().activity_fields()
        minutes = fields.pop("duration_minutes", None)
        if minutes is not None:
            fields["duration_seconds"] = minutes * 60
        return fields


class NoteForm(_ComposerForm):
    kind, label, button = "note", "Add a note", "Add note"
    body = forms.CharField(max_length=20000, label="Note", widget=forms.Textarea(attrs={"rows": 3}))


class TaskForm(_ComposerForm):
    kind, label, button = "task", "Schedule a task", "Add task"
    subject = forms.CharField(max_length=200, label="Task")
    due_at = forms.DateTimeField(required=False, label="Due", widget=DATETIME_INPUT)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    body = forms.CharField(
        max_length=20000, required=False, label="Details", widget=forms.Textarea(attrs={"rows": 2})
    )


class MeetingForm(_ComposerForm):
    kind, label, button = "meeting", "Schedule a meeting", "Add meeting"
    subject = forms.CharField(max_length=200, label="Meeting")
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME_INPUT)
    ends_at = forms.DateTimeField(required=False, label="Ends", widget=DATETIME_INPUT)
    location = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        max_length=20000, required=False, label="Agenda", widget=forms.Textarea(attrs={"rows": 2})
    )


COMPOSER_FORMS: dict[str, type[_ComposerForm]] = {
    f.kind: f for f in (CallForm, NoteForm, TaskForm, MeetingForm)
}


def composer_form(kind: str | None, data=None) -> _ComposerForm:
    form_class = COMPOSER_FORMS.get(kind or "call")
    if form_class is None:
        raise Http404("unknown activity kind")
    if data is None and form_class is TaskForm:
        tomorrow = timezone.localtime() + datetime.timedelta(days=1)
        return form_class(initial={"due_at": tomorrow.replace(hour=9, minute=0, second=0)})
    return form_class(data)


def composer_context(form: _ComposerForm, *, url: str) -> dict:
    return {
        "composer": form,
        "composer_url": url,
        "composer_kinds": [(f.kind, f.label) for f in COMPOSER_FORMS.values()],
    }


def composer_view(
    request,
    *,
    record,
    links: dict[str, int],
    url: str,
    timeline_url: str,
    record_page_url: str,
    full_page: Callable[[dict], object],
):
    """GET: the composer for `?kind=`; POST: log the activity on the record.

    `full_page(extra_context)` renders the whole record page (no-JavaScript errors).
    """
    if request.method == "GET":
        form = composer_form(request.GET.get("kind"))
        return render_fragment(
            request, "web/record/_composer.html", composer_context(form, url=url)
        )
    form = composer_form(request.POST.get("kind"), data=request.POST)
    logged = None
    if form.is_valid():
        try:
            logged, _ = activity_log(
                actor=request.user, kind=form.kind, fields=form.activity_fields(), links=links
            )
        except (ValidationError, Conflict) as exc:
            add_service_errors(
                form, exc, {"duration_seconds": "duration_minutes", "account_id": "__all__"}
            )
    if logged is None:
        context = composer_context(form, url=url)
        if is_htmx(request):
            return render_fragment(request, "web/record/_composer.html", context, status=422)
        return full_page(context)
    messages.success(request, f"{logged.get_kind_display()} saved.")
    if not is_htmx(request):
        return HttpResponseRedirect(record_page_url + "#timeline")
    context = composer_context(composer_form(form.kind), url=url)
    context.update(
        timeline_context(
            record,
            user=request.user,
            cursor=None,
            url=timeline_url,
            page_url=record_page_url,
        )
    )
    context["timeline_oob"] = True
    return render_fragment(request, "web/record/_composer.html", context)

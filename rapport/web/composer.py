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
from rapport.notifications.forms import ReminderField
from rapport.records.exceptions import Conflict
from rapport.web.forms import DATETIME_INPUT, add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.record_page import timeline_context


class _ComposerForm(forms.Form):
    kind = ""
    label = ""
    button = "Save"

    def activity_fields(self) -> dict:
        fields = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        if (
            "reminder_minutes" in self.cleaned_data
            and self.cleaned_data["reminder_minutes"] is None
        ):
            fields["reminder_minutes"] = None  # "No reminder"; "" (my default) is left out
        return fields


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


MENTIONS = {"data-mentions": "/notifications/mentions"}


class NoteForm(_ComposerForm):
    kind, label, button = "note", "Add a note", "Add note"
    body = forms.CharField(
        max_length=20000,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 3, **MENTIONS}),
        help_text="Type @ and a name to mention a colleague",
    )


class TaskForm(_ComposerForm):
    kind, label, button = "task", "Schedule a task", "Add task"
    subject = forms.CharField(max_length=200, label="Task")
    due_at = forms.DateTimeField(required=False, label="Due", widget=DATETIME_INPUT)
    reminder_minutes = ReminderField(with_default=True)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    body = forms.CharField(
        max_length=20000, required=False, label="Details", widget=forms.Textarea(attrs={"rows": 2})
    )


class MeetingForm(_ComposerForm):
    kind, label, button = "meeting", "Schedule a meeting", "Add meeting"
    subject = forms.CharField(max_length=200, label="Meeting")
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME_INPUT)
    ends_at = forms.DateTimeField(required=False, label="Ends", widget=DATETIME_INPUT)
    reminder_minutes = ReminderField(with_default=True)
    location = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        max_length=20000, required=False, label="Agenda", widget=forms.Textarea(attrs={"rows": 2})
    )


COMPOSER_FORMS: dict[str, type[_ComposerForm]] = {
    f.kind: f for f in (CallForm, NoteForm, TaskForm, MeetingForm)
}


def composer_form(kind: str | None, data=None, *, user=None, record=None, files=None, initial=None):
    if kind == "email" and user is not None and record is not None:
        from rapport.mail.forms import EmailComposerForm

        return EmailComposerForm(data, files, user=user, record=record, initial=initial)
    form_class = COMPOSER_FORMS.get(kind or "call")
    if form_class is None:
        raise Http404("unknown activity kind")
    if data is None and form_class is TaskForm:
        tomorrow = timezone.localtime() + datetime.timedelta(days=1)
        return form_class(initial={"due_at": tomorrow.replace(hour=9, minute=0, second=0)})
    return form_class(data)


def composer_context(form: _ComposerForm, *, url: str, record=None) -> dict:
    kinds = [(f.kind, f.label) for f in COMPOSER_FORMS.values()]
    context = {"composer": form, "composer_url": url, "composer_kinds": kinds}
    if record is not None:
        kinds.append(("email", "Email"))
        if form.kind == "email":
            from rapport.mail.selectors import deliveries_of_record

            context["outgoing"] = list(deliveries_of_record(record))
    return context


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
        kind = request.GET.get("kind")
        form = composer_form(
            kind,
            user=request.user,
            record=record,
            initial=email_initial(request) if kind == "email" else None,
        )
        return render_fragment(
            request, "web/record/_composer.html", composer_context(form, url=url, record=record)
        )
    if request.POST.get("kind") == "email":
        return _email_view(
            request,
            record=record,
            url=url,
            timeline_url=timeline_url,
            record_page_url=record_page_url,
            full_page=full_page,
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
        context = composer_context(form, url=url, record=record)
        if is_htmx(request):
            return render_fragment(request, "web/record/_composer.html", context, status=422)
        return full_page(context)
    messages.success(request, f"{logged.get_kind_display()} saved.")
    if not is_htmx(request):
        return HttpResponseRedirect(record_page_url + "#timeline")
    context = composer_context(composer_form(form.kind), url=url, record=record)
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


def email_initial(request) -> dict | None:
    """The Email tab re-drawn for a chosen template: its subject and body (merge fields are
    filled in when the message is sent), keeping what was already chosen. A reply
    (`reply_to`, a message id) keeps its "Re:" subject and takes only the template's body."""
    from rapport.mail.selectors import templates_active

    pk = request.GET.get("template")
    template = templates_active().filter(pk=pk).first() if pk and pk.isdigit() else None
    initial = {
        key: request.GET.get(key)
        for key in ("mailbox", "to_other", "cc", "bcc", "subject", "body", "body_format")
        if request.GET.get(key)
    }
    if request.GET.get("reply_to", "").isdigit():
        initial["reply_to"] = int(request.GET["reply_to"])
    for key in ("to_people", "record_files"):
        if request.GET.getlist(key):
            initial[key] = request.GET.getlist(key)
    if template is not None:
        initial.update(template=str(template.pk), body=template.body_text)
        if not (initial.get("reply_to") and initial.get("subject")):
            initial["subject"] = template.subject
    return initial or None


def _email_view(request, *, record, url, timeline_url, record_page_url, full_page):
    """Send from the Email tab: the outbox takes it (rapport.mail.config_services)."""
    from rapport.mail.config_services import send_from_record

    form = composer_form(
        "email", data=request.POST, files=request.FILES, user=request.user, record=record
    )
    message = None
    if form.is_valid():
        data = form.cleaned_data
        mailbox = data.get("mailbox")
        try:
            message = send_from_record(
                actor=request.user,
                record=record,
                to=data["to"],
                cc=data["cc_list"],
                bcc=data["bcc_list"],
                subject=data["subject"],
                text=data["body"],
                mailbox_id=int(mailbox) if mailbox else None,
                template=form.chosen_template(),
                uploads=data.get("attachments") or [],
                send_at=data.get("send_at"),
                in_reply_to=form.reply_message,
                files=form.chosen_files(),
                body_format=data.get("body_format") or "text",
            )
        except ValidationError as exc:
            add_service_errors(
                form,
                exc,
                {
                    "to": "to_other",
                    "cc": "cc",
                    "bcc": "bcc",
                    "text": "body",
                    "html": "body",
                    "mailbox_id": "mailbox",
                    "send_at": "send_at",
                    "body_format": "body_format",
                },
            )
            message = None
    if message is None:
        context = composer_context(form, url=url, record=record)
        if is_htmx(request):
            return render_fragment(request, "web/record/_composer.html", context, status=422)
        return full_page(context)
    when = "queued to send later" if form.cleaned_data.get("send_at") else "queued to send"
    messages.success(request, f"Email {when}: {message.subject}")
    if not is_htmx(request):
        return HttpResponseRedirect(record_page_url + "?compose=email#composer")
    fresh = composer_form("email", user=request.user, record=record)
    context = composer_context(fresh, url=url, record=record)
    context.update(
        timeline_context(
            record, user=request.user, cursor=None, url=timeline_url, page_url=record_page_url
        )
    )
    context["timeline_oob"] = True
    return render_fragment(request, "web/record/_composer.html", context)

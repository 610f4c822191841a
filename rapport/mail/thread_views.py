"""Pages of mail as people read it (namespace "mail_threads"): the thread view, a record's
emails (loaded into every record page), moving a message, downloads, the unfiled mail."""

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from rapport.mail import thread_selectors as selectors
from rapport.mail.inbound import may_auto_answer, message_move
from rapport.mail.models import MailThread, MessageAttachment
from rapport.records.exceptions import RecordNotFound
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.pickers import RecordPickerField

RECORD_LIST = 20
_TYPES = ("contact", "account", "opportunity", "lead")


def _record_url(object_type: str, pk: int) -> str:
    from django.urls import reverse

    namespace = {"contact": "accounts", "account": "accounts", "lead": "leads"}.get(
        object_type, "sales"
    )
    try:
        return reverse(f"{namespace}:{object_type}_detail", args=[pk])
    except Exception:  # noqa: BLE001 - a URL name we do not know: no link
        return ""


def _filed_on(message, user) -> list[dict]:
    """The records a message is filed on that the user may see, with names and links."""
    from rapport.records.visibility import owned_record_models, visible

    out, seen = [], set()
    models = owned_record_models()
    for link in message.links.all():
        for object_type in _TYPES:
            pk = getattr(link, f"{object_type}_id")
            if not pk or (object_type, pk) in seen:
                continue
            seen.add((object_type, pk))
            record = visible(models[object_type].objects.all(), user).filter(pk=pk).first()
            if record is not None:
                out.append(
                    {
                        "type": object_type,
                        "name": str(record),
                        "url": _record_url(object_type, pk),
                    }
                )
    return out


def _reply_url(message, filed_on: list[dict]) -> str:
    """Answer from the Email tab of the record the message is filed on (a person first: the
    composer offers that record's people), so the reply is filed there and threaded."""
    if message.is_bounce:
        return ""
    order = {t: i for i, t in enumerate(_TYPES)}
    for record in sorted(filed_on, key=lambda r: order.get(r["type"], 9)):
        if record["url"]:
            return f"{record['url']}?compose=email&reply_to={message.pk}#composer"
    return ""


@ui_view
@require_safe
def thread_detail(request, pk: int):
    thread, messages = selectors.thread_get_for_user(pk=pk, user=request.user)
    items = []
    for m in messages:
        filed_on = _filed_on(m, request.user)
        items.append(
            {
                "message": m,
                "filed_on": filed_on,
                "may_auto_answer": may_auto_answer(m),
                "delivery": getattr(m, "delivery", None) if m.direction == "out" else None,
                "reply_url": "" if request.user.is_read_only else _reply_url(m, filed_on),
            }
        )
    return render(
        request,
        "mail/thread.html",
        {"thread": thread, "items": items, "can_move": not request.user.is_read_only},
    )


class MoveForm(forms.Form):
    new_thread = forms.BooleanField(required=False, label="Move it into a thread of its own")
    thread = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Or into this thread"
    )

    def __init__(self, *args, user, message, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        candidates = (
            MailThread.objects.filter(
                pk__in=selectors.visible_messages(user)
                .filter(links__in=message.links.all().values("pk"))
                .values("thread_id")
            )
            .exclude(pk=message.thread_id)
            .order_by("-last_message_at")[:50]
        )
        related = set()
        for link in message.links.all():
            for object_type in _TYPES:
                pk = getattr(link, f"{object_type}_id")
                if pk:
                    related |= set(
                        selectors.threads_of_record(object_type=object_type, pk=pk, user=user)
                        .exclude(pk=message.thread_id)
                        .values_list("pk", flat=True)[:50]
                    )
        threads = MailThread.objects.filter(pk__in=related | {t.pk for t in candidates})
        self.fields["thread"].choices = [("", "—")] + [
            (t.pk, f"{t.subject or '(no subject)'} (#{t.pk})") for t in threads
        ]
        for object_type in _TYPES:
            field = RecordPickerField(
                object_type=object_type, required=False, label=f"File it on this {object_type}"
            )
            field.bind(user)
            self.fields[object_type] = field

    def clean(self):
        data = super().clean()
        chosen = [t for t in _TYPES if data.get(t)]
        if len(chosen) > 1:
            raise ValidationError("Choose one record to file the message on")
        if data.get("new_thread") and data.get("thread"):
            raise ValidationError("Choose a thread or a new thread, not both")
        if not chosen and not data.get("new_thread") and not data.get("thread"):
            raise ValidationError("Choose where to move the message")
        data["record_type"] = chosen[0] if chosen else None
        data["record_id"] = data.get(chosen[0]) if chosen else None
        return data


@ui_view
@require_http_methods(["GET", "POST"])
def message_move_view(request, pk: int):
    message = selectors.message_get_for_user(pk=pk, user=request.user)
    if request.user.is_read_only:
        from rapport.records.exceptions import PermissionDenied

        raise PermissionDenied("Read-only users cannot move messages")
    data = request.POST if request.method == "POST" else None
    form = MoveForm(data, user=request.user, message=message)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            moved = message_move(
                actor=request.user,
                message_id=message.pk,
                thread_id=data["thread"],
                new_thread=data["new_thread"],
                record_type=data["record_type"],
                record_id=data["record_id"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            flash.success(request, "The message was moved.")
            return redirect("mail_threads:thread", moved.thread_id)
    return render(request, "mail/move.html", {"form": form, "message": message})


@ui_view
@require_safe
def record_emails(request, object_type: str, pk: int):
    """The record's messages, newest first (a fragment the record page loads)."""
    if object_type not in selectors.RECORD_FIELDS:
        raise Http404("unknown record type")
    qs = selectors.messages_of_record(object_type=object_type, pk=pk, user=request.user)
    messages = list(qs[: RECORD_LIST + 1])
    return render(
        request,
        "mail/_record_emails.html",
        {"mail_messages": messages[:RECORD_LIST], "more": len(messages) > RECORD_LIST},
    )


def _download(stored, filename: str):
    if stored is None or not stored.file:
        raise Http404("no file")
    response = FileResponse(
        stored.file.open("rb"),
        as_attachment=True,
        filename=filename or stored.name,
        content_type=stored.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@ui_view
@require_safe
def attachment_download(request, pk: int):
    attachment = MessageAttachment.objects.select_related("file").filter(pk=pk).first()
    if attachment is None:
        raise RecordNotFound("attachment")
    selectors.message_get_for_user(pk=attachment.message_id, user=request.user)  # 404 if hidden
    return _download(attachment.file, attachment.file.name)


@ui_view
@require_safe
def message_raw(request, pk: int):
    message = selectors.message_get_for_user(pk=pk, user=request.user)
    return _download(message.raw, f"message-{message.pk}.eml")


@ui_view
@require_safe
def unfiled(request):
    from rapport.records.exceptions import PermissionDenied

    if not request.user.is_admin:
        raise PermissionDenied("Only admins see unfiled mail")
    messages = list(selectors.unfiled_messages(request.user).select_related("mailbox")[:100])
    return render(request, "mail/unfiled.html", {"mail_messages": messages})

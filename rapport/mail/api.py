"""REST endpoints of mail: mailboxes (admins: shared ones; everyone: their own; the secret is
write-only), connection tests, templates with preview, and sending from a record."""

import base64
import binascii
import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from ninja import Field, Router, Schema, Status

from rapport.api.patch import PatchDict
from rapport.mail import config_services as services
from rapport.mail import selectors
from rapport.mail.connection import check_mailbox, summary
from rapport.mail.models import Delivery, EmailTemplate, Mailbox
from rapport.mail.rendering import TemplateProblem
from rapport.records.api import ERRORS

router = Router(tags=["mail"])


class MailboxOut(Schema):
    id: int
    name: str
    email_address: str
    display_name: str
    signature: str
    shared: bool
    owner_id: int | None
    purpose: str
    auth_method: str
    imap_host: str
    imap_port: int
    imap_security: str
    imap_user: str
    imap_folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    has_secret: bool
    sync_enabled: bool
    create_leads_from_unknown: bool
    active: bool
    last_synced_at: datetime.datetime | None
    last_error: str

    @staticmethod
    def resolve_shared(obj: Mailbox) -> bool:
        return obj.owner_id is None


class MailboxChange(Schema):
    """What a PATCH may change: through PatchDict, so `null` clears a text (a required one,
    the address or a choice answers 422 naming the field) and is refused for a port or flag;
    a null secret keeps the stored one."""

    name: str = Field(..., max_length=100)
    email_address: str = Field(..., max_length=254)
    display_name: str = Field("", max_length=100)
    signature: str = Field("", max_length=5000)
    purpose: str = "general"
    auth_method: str = "password"
    imap_host: str = Field("", max_length=255)
    imap_port: int = 993
    imap_security: str = "ssl"
    imap_user: str = Field("", max_length=255)
    imap_folder: str = Field("INBOX", max_length=255)
    smtp_host: str = Field("", max_length=255)
    smtp_port: int = 465
    smtp_security: str = "ssl"
    smtp_user: str = Field("", max_length=255)
    secret: str | None = Field(
        None, description='Write-only; "" removes the stored secret', max_length=4000
    )
    sync_enabled: bool = True
    create_leads_from_unknown: bool = False
    active: bool = True


class MailboxIn(MailboxChange):
    shared: bool = Field(False, description="A shared mailbox (administrators only)")
    secret: str | None = Field(
        None, description="Password, app password or OAuth2 token; write-only", max_length=4000
    )


class ConnectionStageOut(Schema):
    protocol: str
    stage: str
    ok: bool
    detail: str


class ConnectionTestOut(Schema):
    ok: bool
    message: str
    stages: list[ConnectionStageOut]


@router.get("/mailboxes", response={200: list[MailboxOut], **ERRORS}, operation_id="mailboxes_list")
def mailboxes_list(request):
    """The mailboxes you manage: your own, and (administrators) the shared ones."""
    return list(selectors.mailboxes_managed_by(request.user))


@router.post("/mailboxes", response={201: MailboxOut, **ERRORS}, operation_id="mailbox_create")
def mailbox_create(request, payload: MailboxIn):
    data = payload.dict()
    shared, secret = data.pop("shared"), data.pop("secret") or ""
    mailbox = services.mailbox_create(actor=request.user, fields=data, shared=shared, secret=secret)
    return Status(201, mailbox)


@router.get(
    "/mailboxes/{int:mailbox_id}", response={200: MailboxOut, **ERRORS}, operation_id="mailbox_get"
)
def mailbox_get(request, mailbox_id: int):
    return selectors.mailbox_get_managed(pk=mailbox_id, user=request.user)


@router.patch(
    "/mailboxes/{int:mailbox_id}",
    response={200: MailboxOut, **ERRORS},
    operation_id="mailbox_update",
)
def mailbox_update(request, mailbox_id: int, payload: PatchDict[MailboxChange]):
    mailbox = selectors.mailbox_get_managed(pk=mailbox_id, user=request.user)
    data = dict(payload)
    secret = data.pop("secret", None)
    return services.mailbox_update(actor=request.user, mailbox=mailbox, fields=data, secret=secret)


@router.delete(
    "/mailboxes/{int:mailbox_id}", response={204: None, **ERRORS}, operation_id="mailbox_delete"
)
def mailbox_delete(request, mailbox_id: int):
    """Deactivates the mailbox (its messages stay)."""
    mailbox = selectors.mailbox_get_managed(pk=mailbox_id, user=request.user)
    services.mailbox_delete(actor=request.user, mailbox=mailbox)
    return Status(204, None)


@router.post(
    "/mailboxes/{int:mailbox_id}/test",
    response={200: ConnectionTestOut, **ERRORS},
    operation_id="mailbox_test",
)
def mailbox_test(request, mailbox_id: int):
    """Try the servers: DNS, TCP, TLS, login (and the IMAP folder); the first failing stage
    is named in `message`."""
    mailbox = selectors.mailbox_get_managed(pk=mailbox_id, user=request.user)
    stages = check_mailbox(mailbox)
    ok, message = summary(stages)
    return {"ok": ok, "message": message, "stages": [s.as_dict() for s in stages]}


# ----- templates -----------------------------------------------------------------------


class TemplateOut(Schema):
    id: int
    name: str
    purpose: str
    subject: str
    body_text: str
    body_html: str
    active: bool
    updated_at: datetime.datetime


class TemplateIn(Schema):
    name: str = Field(..., max_length=100)
    purpose: str = "transactional"
    subject: str = Field(..., max_length=998)
    body_text: str = Field("", max_length=100_000)
    body_html: str = Field("", max_length=200_000)
    active: bool = True


RecordType = Literal["contact", "account", "lead", "opportunity"]


class PreviewIn(Schema):
    record_type: RecordType | None = None
    record_id: int | None = None
    recipient: str = Field("", max_length=254)
    mailbox_id: int | None = None
    # Unsaved text to preview instead of the stored template (the editor's live preview).
    subject: str | None = Field(None, max_length=998)
    body_text: str | None = Field(None, max_length=100_000)
    body_html: str | None = Field(None, max_length=200_000)


class PreviewOut(Schema):
    subject: str
    text: str
    html: str


@router.get(
    "/templates", response={200: list[TemplateOut], **ERRORS}, operation_id="mail_templates_list"
)
def templates_list(request, active: bool | None = None):
    qs = EmailTemplate.objects.all()
    if active is not None:
        qs = qs.filter(active=active)
    return list(qs)


@router.post(
    "/templates", response={201: TemplateOut, **ERRORS}, operation_id="mail_template_create"
)
def template_create(request, payload: TemplateIn):
    return Status(201, services.template_create(actor=request.user, fields=payload.dict()))


@router.get(
    "/templates/{int:template_id}",
    response={200: TemplateOut, **ERRORS},
    operation_id="mail_template_get",
)
def template_get(request, template_id: int):
    return selectors.template_get(pk=template_id)


@router.patch(
    "/templates/{int:template_id}",
    response={200: TemplateOut, **ERRORS},
    operation_id="mail_template_update",
)
def template_update(request, template_id: int, payload: PatchDict[TemplateIn]):
    """Change the given fields: `null` clears a body and answers 422 naming the field for the
    name, the subject, the purpose and the active flag."""
    template = selectors.template_get(pk=template_id)
    return services.template_update(actor=request.user, template=template, fields=dict(payload))


@router.delete(
    "/templates/{int:template_id}",
    response={204: None, **ERRORS},
    operation_id="mail_template_delete",
)
def template_delete(request, template_id: int):
    template = selectors.template_get(pk=template_id)
    services.template_delete(actor=request.user, template=template)
    return Status(204, None)


def preview(user, template: EmailTemplate | None, payload: PreviewIn) -> dict:
    """Render strictly (a misspelt merge field is an error naming its line)."""
    record = None
    if payload.record_type and payload.record_id:
        record = selectors.record_get_visible(
            record_type=payload.record_type, pk=payload.record_id, user=user
        )
    mailbox = None
    if payload.mailbox_id:
        mailbox = selectors.mailboxes_to_send_from(user).filter(pk=payload.mailbox_id).first()
    source = {
        "subject": payload.subject
        if payload.subject is not None
        else getattr(template, "subject", ""),
        "text": payload.body_text
        if payload.body_text is not None
        else getattr(template, "body_text", ""),
        "html": payload.body_html
        if payload.body_html is not None
        else getattr(template, "body_html", ""),
    }
    context = selectors.template_context(record, user, recipient=payload.recipient, mailbox=mailbox)
    try:
        return services.render_for(source, context, strict=True)
    except TemplateProblem as exc:
        part, _, message = str(exc).partition(": ")
        field = {"text": "body_text", "html": "body_html"}.get(part, part)
        raise ValidationError({field: [message]}, code="template_error") from exc


@router.post(
    "/templates/{int:template_id}/preview",
    response={200: PreviewOut, **ERRORS},
    operation_id="mail_template_preview",
)
def template_preview(request, template_id: int, payload: PreviewIn):
    """Render the template (or the unsaved text in the body) against a record you can see."""
    return preview(request.user, selectors.template_get(pk=template_id), payload)


@router.post(
    "/templates/preview", response={200: PreviewOut, **ERRORS}, operation_id="mail_preview"
)
def unsaved_preview(request, payload: PreviewIn):
    return preview(request.user, None, payload)


# ----- sending --------------------------------------------------------------------------


class AttachmentIn(Schema):
    name: str = Field(..., max_length=255)
    content_type: str = Field("application/octet-stream", max_length=255)
    content_base64: str


class SendIn(Schema):
    record_type: RecordType
    record_id: int
    mailbox_id: int | None = Field(None, description="Empty: the server's default sender")
    to: list[str] = Field(..., max_length=100)
    cc: list[str] = Field([], max_length=100)
    bcc: list[str] = Field([], max_length=100)
    subject: str = Field("", max_length=998)
    text: str = Field("", max_length=200_000)
    html: str = Field("", max_length=400_000)
    template_id: int | None = Field(
        None, description="Fills subject/text/html when those are empty"
    )
    send_at: datetime.datetime | None = Field(None, description="Send later; empty: now")
    attachments: list[AttachmentIn] = Field([], max_length=20)
    body_format: Literal["text", "markdown"] = Field(
        "text",
        description="markdown: `text` is Markdown (CommonMark, raw HTML off); the HTML part is "
        "rendered from it after the merge fields and sanitised, the text part keeps the source",
    )
    file_ids: list[int] = Field(
        [],
        max_length=20,
        description="Files already stored on the record (its uploads and the attachments of "
        "the emails filed on it: GET /api/{type}/{id}/files), attached as they are",
    )


class MailDeliveryOut(Schema):
    message_id: int
    rfc_message_id: str
    thread_id: int
    state: str
    attempts: int
    next_attempt_at: datetime.datetime
    sent_at: datetime.datetime | None
    last_error: str
    skipped: dict


def delivery_out(delivery: Delivery) -> dict:
    message = delivery.message
    return {
        "message_id": message.pk,
        "rfc_message_id": message.message_id,
        "thread_id": message.thread_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "sent_at": delivery.sent_at,
        "last_error": delivery.last_error,
        "skipped": delivery.skipped,
    }


def _record_files_by_id(record, file_ids: list[int]) -> list:
    """The files `file_ids` names, each one of `record`'s own (the record was loaded through
    visibility, so its files are readable by the caller). Any other id — a file of another
    record, visible or not, a removed or missing one — is a 422 naming `file_ids[i]`, the
    same answer for all, so the error never tells that a hidden file exists."""
    from rapport.files.selectors import record_files

    if not file_ids:
        return []
    rows = {f.pk: f for f in record_files(record).filter(pk__in=set(file_ids))}
    for i, file_id in enumerate(file_ids):
        if file_id not in rows:
            raise ValidationError({f"file_ids[{i}]": ["no file of this record has this id"]})
    return [rows[file_id] for file_id in dict.fromkeys(file_ids)]


@router.post("/send", response={202: MailDeliveryOut, **ERRORS}, operation_id="mail_send")
def mail_send(request, payload: SendIn):
    """Queue a message from a record (outbox); the worker sends it. 422 names the field for a
    bad address or a line break in a header."""
    record = selectors.record_get_visible(
        record_type=payload.record_type, pk=payload.record_id, user=request.user
    )
    template = None
    subject, text, html = payload.subject, payload.text, payload.html
    if payload.template_id is not None:
        template = selectors.templates_active().filter(pk=payload.template_id).first()
        if template is None:
            raise ValidationError({"template_id": ["no such active template"]})
        subject = subject or template.subject
        if not (text or html):
            text, html = template.body_text, template.body_html
    if not subject.strip():
        raise ValidationError({"subject": ["required"]})
    uploads = []
    for i, attachment in enumerate(payload.attachments):
        try:
            content = base64.b64decode(attachment.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(
                {f"attachments[{i}].content_base64": ["not valid base64"]}
            ) from exc
        uploads.append(
            SimpleUploadedFile(attachment.name, content, content_type=attachment.content_type)
        )
    files = _record_files_by_id(record, payload.file_ids)
    message = services.send_from_record(
        actor=request.user,
        record=record,
        to=payload.to,
        cc=payload.cc,
        bcc=payload.bcc,
        subject=subject,
        text=text,
        html=html,
        mailbox_id=payload.mailbox_id,
        template=template,
        uploads=uploads,
        send_at=payload.send_at,
        files=files,
        body_format=payload.body_format,
    )
    return Status(
        202, delivery_out(Delivery.objects.select_related("message").get(message=message))
    )


@router.get(
    "/deliveries/{int:message_id}",
    response={200: MailDeliveryOut, **ERRORS},
    operation_id="mail_delivery_get",
)
def delivery_get(request, message_id: int):
    """The state of an outgoing message (queued, sending, sent, failed with the reason)."""
    delivery = Delivery.objects.select_related("message").filter(message_id=message_id).first()
    if (
        delivery is None
        or not selectors.messages_visible_to(request.user).filter(pk=message_id).exists()
    ):
        from rapport.records.exceptions import RecordNotFound

        raise RecordNotFound("delivery")
    return delivery_out(delivery)

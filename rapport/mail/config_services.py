"""Writing mail settings: mailboxes (admins: shared ones; everyone: their own) and templates,
and sending from a record (the composer's Email tab and POST /api/mail/send)."""

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from email_validator import EmailNotValidError, validate_email

from rapport.files.models import FileKind
from rapport.files.services import store_file
from rapport.mail.models import (
    AuthMethod,
    EmailTemplate,
    Mailbox,
    MailboxPurpose,
    Purpose,
    Security,
)
from rapport.mail.rendering import (
    TemplateProblem,
    check_template,
    markdown_to_html,
    render_template,
)
from rapport.mail.selectors import (
    is_mail_admin,
    mailboxes_to_send_from,
    record_links,
    template_context,
)
from rapport.mail.services import queue_email
from rapport.records.dates import check_date_range
from rapport.records.exceptions import PermissionDenied
from rapport.records.services import require_writer

MAILBOX_FIELDS = (
    "name",
    "email_address",
    "display_name",
    "signature",
    "purpose",
    "auth_method",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_user",
    "imap_folder",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
    "sync_enabled",
    "create_leads_from_unknown",
    "active",
)
_CHOICES = {
    "purpose": MailboxPurpose.values,
    "auth_method": AuthMethod.values,
    "imap_security": Security.values,
    "smtp_security": Security.values,
}
_NO_BREAKS = (
    "name",
    "display_name",
    "imap_host",
    "imap_user",
    "imap_folder",
    "smtp_host",
    "smtp_user",
)


def _clean_mailbox(fields: dict) -> dict:
    errors: dict[str, list[str]] = {}
    out = {k: v for k, v in fields.items() if k in MAILBOX_FIELDS}
    for name in _NO_BREAKS:
        if any(ch in str(out.get(name) or "") for ch in "\r\n\x00"):
            errors.setdefault(name, []).append("must not contain line breaks")
    for name, allowed in _CHOICES.items():
        if name in out and out[name] not in allowed:
            errors.setdefault(name, []).append(f"must be one of {', '.join(allowed)}")
    for name in ("imap_port", "smtp_port"):
        if name in out and not (0 < int(out[name] or 0) < 65536):
            errors.setdefault(name, []).append("must be a port between 1 and 65535")
    if "email_address" in out:
        try:
            out["email_address"] = validate_email(
                str(out["email_address"] or "").strip(), check_deliverability=False
            ).normalized
        except EmailNotValidError as exc:
            errors.setdefault("email_address", []).append(f"not a valid address: {exc}")
    if "name" in out and not str(out["name"] or "").strip():
        errors.setdefault("name", []).append("required")
    if errors:
        raise ValidationError(errors)
    return out


def _require_mailbox_rights(actor, *, shared: bool) -> None:
    if shared and not is_mail_admin(actor):
        raise PermissionDenied("Only administrators manage shared mailboxes")


def mailbox_create(*, actor, fields: dict, shared: bool = False, secret: str = "") -> Mailbox:
    _require_mailbox_rights(actor, shared=shared)
    cleaned = _clean_mailbox(fields)
    for required in ("name", "email_address"):
        if not cleaned.get(required):
            raise ValidationError({required: ["required"]})
    mailbox = Mailbox(owner=None if shared else actor, **cleaned)
    if secret:
        mailbox.set_secret(secret)
    mailbox.full_clean(exclude=["owner", "secret_encrypted"])
    mailbox.save()
    return mailbox


def mailbox_update(*, actor, mailbox: Mailbox, fields: dict, secret: str | None = None) -> Mailbox:
    """`secret`: None keeps the stored one, "" removes it, text replaces it."""
    _require_mailbox_rights(actor, shared=mailbox.owner_id is None)
    for name, value in _clean_mailbox(fields).items():
        setattr(mailbox, name, value)
    if secret is not None:
        mailbox.secret_encrypted = ""
        if secret:
            mailbox.set_secret(secret)
    mailbox.full_clean(exclude=["owner", "secret_encrypted"])
    mailbox.save()
    return mailbox


def mailbox_delete(*, actor, mailbox: Mailbox) -> None:
    """Deactivates: the messages and threads it carried stay (their mailbox is kept)."""
    _require_mailbox_rights(actor, shared=mailbox.owner_id is None)
    mailbox.active = False
    mailbox.sync_enabled = False
    mailbox.save(update_fields=["active", "sync_enabled", "updated_at"])


# ----- templates -----------------------------------------------------------------------


def require_template_manager(actor) -> None:
    """Email templates speak for the whole organisation: administrators write them, everyone
    who may send uses them (the identity app has roles, not finer permissions)."""
    if not is_mail_admin(actor):
        raise PermissionDenied(
            "Only administrators create, change or delete email templates", code="admin_only"
        )


_require_template_editor = require_template_manager


def _clean_template(fields: dict) -> dict:
    out = {
        k: fields[k]
        for k in ("name", "purpose", "subject", "body_text", "body_html", "active")
        if k in fields
    }
    errors: dict[str, list[str]] = {}
    if "name" in out and not str(out["name"] or "").strip():
        errors["name"] = ["required"]
    if "purpose" in out and out["purpose"] not in Purpose.values:
        errors["purpose"] = [f"must be one of {', '.join(Purpose.values)}"]
    if "subject" in out and any(ch in str(out["subject"]) for ch in "\r\n"):
        errors["subject"] = ["must not contain line breaks"]
    for name, html in (("subject", False), ("body_text", False), ("body_html", True)):
        if name in out:
            try:
                check_template(out[name] or "", html=html)
            except TemplateProblem as exc:
                errors.setdefault(name, []).append(str(exc))
    if errors:
        raise ValidationError(errors)
    return out


def template_create(*, actor, fields: dict) -> EmailTemplate:
    _require_template_editor(actor)
    cleaned = _clean_template(fields)
    for required in ("name", "subject"):
        if not cleaned.get(required):
            raise ValidationError({required: ["required"]})
    if EmailTemplate.objects.filter(name=cleaned["name"]).exists():
        raise ValidationError({"name": ["a template with this name exists"]})
    return EmailTemplate.objects.create(created_by=actor, **cleaned)


def template_update(*, actor, template: EmailTemplate, fields: dict) -> EmailTemplate:
    _require_template_editor(actor)
    cleaned = _clean_template(fields)
    if "subject" in cleaned and not str(cleaned["subject"] or "").strip():
        raise ValidationError({"subject": ["required"]})
    if "name" in cleaned and (
        EmailTemplate.objects.filter(name=cleaned["name"]).exclude(pk=template.pk).exists()
    ):
        raise ValidationError({"name": ["a template with this name exists"]})
    for name, value in cleaned.items():
        setattr(template, name, value)
    template.save()
    return template


def template_delete(*, actor, template: EmailTemplate) -> None:
    _require_template_editor(actor)
    template.delete()


def render_for(template_source: dict, context: dict, *, strict: bool) -> dict:
    """{subject, text, html} rendered; TemplateProblem names the part in its message."""
    out = {}
    for key, html in (("subject", False), ("text", False), ("html", True)):
        try:
            out[key] = render_template(
                template_source.get(key) or "", context, html=html, strict=strict
            )
        except TemplateProblem as exc:
            raise TemplateProblem(f"{key}: {exc}") from exc
    out["subject"] = " ".join(out["subject"].split())  # a subject is one line
    return out


# ----- sending from a record ------------------------------------------------------------


def send_from_record(
    *,
    actor,
    record,
    to: Iterable[str],
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
    subject: str,
    text: str = "",
    html: str = "",
    mailbox_id: int | None = None,
    template: EmailTemplate | None = None,
    uploads: Iterable = (),
    send_at: datetime.datetime | None = None,
    in_reply_to=None,
    files: Iterable = (),
    body_format: str = "text",
):
    """Queue a message from `record` (which `actor` can see): rendered with the record's
    context when it has merge fields, filed on the record and its account, attachments
    stored first. `in_reply_to`: a MailMessage the caller loaded through the message
    visibility selector (the reply joins its thread with In-Reply-To/References). `files`:
    StoredFile rows of the record the caller loaded through visibility, attached as they are.
    `body_format="markdown"`: `text` is Markdown; the HTML part is made from it (sanitised).
    Raises ValidationError naming the field."""
    require_writer(actor)
    mailbox = None
    if mailbox_id:
        mailbox = mailboxes_to_send_from(actor).filter(pk=mailbox_id).first()
        if mailbox is None:
            raise ValidationError({"mailbox_id": ["not a mailbox you may send from"]})
    check_date_range(send_at, "send_at")
    if send_at is not None and send_at < timezone.now() - datetime.timedelta(minutes=5):
        raise ValidationError({"send_at": ["must not be in the past"]})
    if any(ch in (subject or "") for ch in "\r\n\x00"):
        raise ValidationError(
            {"subject": ["must not contain line breaks (CR/LF) or NUL"]}, code="header_injection"
        )
    to, cc, bcc = list(to or ()), list(cc or ()), list(bcc or ())
    first = next(iter(to + cc + bcc), "")
    context = template_context(record, actor, recipient=first, mailbox=mailbox)
    try:
        rendered = render_for(
            {"subject": subject, "text": text, "html": html}, context, strict=False
        )
    except TemplateProblem as exc:
        field = str(exc).split(":", 1)[0]
        raise ValidationError(
            {field if field in ("subject", "text", "html") else "text": [str(exc)]}
        ) from exc
    if body_format not in ("text", "markdown"):
        raise ValidationError({"body_format": ["must be text or markdown"]})
    if body_format == "markdown" and rendered["text"].strip():
        rendered["html"] = markdown_to_html(rendered["text"])
    links = record_links(record)
    with transaction.atomic():
        stored = [
            store_file(
                upload,
                name=getattr(upload, "name", "attachment"),
                content_type=getattr(upload, "content_type", "") or "",
                kind=FileKind.MAIL_ATTACHMENT,
                uploaded_by=actor,
            )
            for upload in uploads
        ]
        stored += list(files or ())
        return queue_email(
            to=to,
            cc=cc,
            bcc=bcc,
            subject=rendered["subject"] or subject,
            text=rendered["text"],
            html=rendered["html"],
            mailbox=mailbox,
            links=links,
            purpose=template.purpose if template is not None else Purpose.TRANSACTIONAL,
            send_at=send_at,
            actor=actor,
            attachments=stored,
            template=template,
            in_reply_to=in_reply_to,
            consent_purpose=template.consent_purpose if template is not None else None,
        )

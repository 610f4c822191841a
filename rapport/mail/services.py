"""Writing mail: `queue_email` is the one way an outgoing message enters the outbox.

Every module that sends (a reply from a record, campaigns, case replies, sequences,
notifications) calls it inside its own transaction: the message row, its links and its
Delivery row commit with the business change or not at all. The worker (rapport.mail.tasks)
claims the delivery after commit and sends it.
"""

import datetime
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from email_validator import EmailNotValidError, validate_email

from rapport.mail.models import (
    Delivery,
    Direction,
    Mailbox,
    MailMessage,
    MailThread,
    MatchReason,
    MessageAttachment,
    MessageLink,
    Purpose,
)
from rapport.mail.tokens import make_message_id, new_thread_token

_LINK_FIELDS = ("account_id", "contact_id", "lead_id", "opportunity_id")


def _no_line_breaks(value: str, field: str) -> str:
    if any(ch in (value or "") for ch in "\r\n\x00"):
        raise ValidationError(
            {field: ["must not contain line breaks (CR/LF) or NUL"]}, code="header_injection"
        )
    return value or ""


def clean_addresses(values: Iterable[str], field: str) -> list[str]:
    """Validated, normalised addresses; a CR/LF or an invalid address names the field."""
    cleaned: list[str] = []
    for raw in values or ():
        value = _no_line_breaks(str(raw), field).strip()
        if not value:
            continue
        try:
            normalized = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError({field: [f"{value!r} is not a valid address: {exc}"]}) from exc
        if normalized.lower() not in (a.lower() for a in cleaned):
            cleaned.append(normalized)
    return cleaned


def link_message(message: MailMessage, links: Iterable[dict]) -> None:
    """File `message` on each record in `links` (dicts of account_id/contact_id/lead_id/
    opportunity_id); duplicate dicts are written once."""
    seen = set()
    rows = []
    for link in links or ():
        key = tuple(link.get(f) for f in _LINK_FIELDS)
        if not any(key) or key in seen:
            continue
        seen.add(key)
        rows.append(MessageLink(message=message, **{f: link.get(f) for f in _LINK_FIELDS}))
    MessageLink.objects.bulk_create(rows)


def queue_email(
    *,
    to: Sequence[str],
    subject: str,
    text: str = "",
    html: str = "",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    mailbox: Mailbox | None = None,
    from_name: str = "",
    thread: MailThread | None = None,
    in_reply_to: MailMessage | None = None,
    links: Iterable[dict] = (),
    purpose: str = Purpose.TRANSACTIONAL,
    send_at: datetime.datetime | None = None,
    actor=None,
    attachments: Iterable = (),
    template=None,
    consent_purpose=None,
) -> MailMessage:
    """Write one outgoing message and its delivery row (the outbox) in the caller's
    transaction. `attachments` are StoredFile rows (rapport.files.services.store_file).
    `consent_purpose` (a rapport.consent ConsentPurpose) is what a marketing message needs
    consent for; the sender's gate refuses marketing without it.

    Raises ValidationError naming the field for a bad address or a CR/LF in a header."""
    to_list = clean_addresses(to, "to")
    cc_list = clean_addresses(cc, "cc")
    bcc_list = clean_addresses(bcc, "bcc")
    if not (to_list or cc_list or bcc_list):
        raise ValidationError({"to": ["at least one recipient is required"]}, code="required")
    subject = _no_line_breaks(subject, "subject")
    from_name = _no_line_breaks(from_name, "from_name")
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": [f"must be one of {', '.join(Purpose.values)}"]})
    now = timezone.now()
    with transaction.atomic():
        if in_reply_to is not None:
            thread = in_reply_to.thread
        if thread is None:
            thread = MailThread.objects.create(
                token=new_thread_token(), subject=subject, mailbox=mailbox
            )
        references = ""
        reply_to_id = ""
        if in_reply_to is not None:
            reply_to_id = in_reply_to.message_id
            references = " ".join(p for p in (in_reply_to.references, reply_to_id) if p)
        message = MailMessage.objects.create(
            thread=thread,
            mailbox=mailbox,
            direction=Direction.OUTBOUND,
            in_reply_to=reply_to_id,
            references=references,
            from_address=(mailbox.email_address if mailbox else ""),
            from_name=from_name or (mailbox.display_name if mailbox else ""),
            to=to_list,
            cc=cc_list,
            bcc=bcc_list,
            subject=subject,
            text_body=text or "",
            html_body=html or "",
            match_reason=MatchReason.SENT,
            purpose=purpose,
            template=template,
            received_at=now,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        message.message_id = make_message_id(message.pk, thread.token)
        message.save(update_fields=["message_id"])
        link_message(message, links)
        MessageAttachment.objects.bulk_create(
            MessageAttachment(message=message, file=stored) for stored in attachments or ()
        )
        Delivery.objects.create(
            message=message,
            purpose=purpose,
            consent_purpose=consent_purpose,
            next_attempt_at=send_at or now,
        )
        MailThread.objects.filter(pk=thread.pk).update(last_message_at=now)
        transaction.on_commit(_wake_sender)
    return message


def _wake_sender() -> None:
    """Ask the worker to send what is due now (the scheduler's sweep catches anything missed)."""
    try:
        from rapport.mail.tasks import send_due_task
    except ImportError:  # the sender is not installed yet
        return
    send_due_task.enqueue()

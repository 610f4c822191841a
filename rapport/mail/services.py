"""Writing mail: `queue_email` is the one way an outgoing message enters the outbox.

Every module that sends (a reply from a record, campaigns, case replies, sequences,
notifications) calls it inside its own transaction: the message row, its links and its
Delivery row commit with the business change or not at all. The worker (rapport.mail.tasks)
claims the delivery after commit and sends it.
"""

import dataclasses
import datetime
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import connection, transaction
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
    MessageLink.objects.bulk_create(_link_rows(message, links))


def _link_rows(message: MailMessage, links: Iterable[dict]) -> list[MessageLink]:
    seen = set()
    rows = []
    for link in links or ():
        key = tuple(link.get(f) for f in _LINK_FIELDS)
        if not any(key) or key in seen:
            continue
        seen.add(key)
        rows.append(MessageLink(message=message, **{f: link.get(f) for f in _LINK_FIELDS}))
    return rows


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
    return queue_emails(
        [
            OutgoingEmail(
                to=to,
                subject=subject,
                text=text,
                html=html,
                cc=cc,
                bcc=bcc,
                mailbox=mailbox,
                from_name=from_name,
                thread=thread,
                in_reply_to=in_reply_to,
                links=links,
                purpose=purpose,
                send_at=send_at,
                actor=actor,
                attachments=attachments,
                template=template,
                consent_purpose=consent_purpose,
            )
        ]
    )[0]


@dataclasses.dataclass
class OutgoingEmail:
    """One message for `queue_emails`: the arguments of `queue_email`."""

    to: Sequence[str]
    subject: str
    text: str = ""
    html: str = ""
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    mailbox: Mailbox | None = None
    from_name: str = ""
    thread: MailThread | None = None
    in_reply_to: MailMessage | None = None
    links: Iterable[dict] = ()
    purpose: str = Purpose.TRANSACTIONAL
    send_at: datetime.datetime | None = None
    actor: object = None
    attachments: Iterable = ()
    template: object = None
    consent_purpose: object = None


def queue_emails(emails: Sequence[OutgoingEmail]) -> list[MailMessage]:
    """Write many outgoing messages and their delivery rows in the caller's transaction, with
    a fixed number of queries for the whole list (a campaign batch); all or none.

    Raises ValidationError naming the field for a bad address or a CR/LF in a header."""
    now = timezone.now()
    prepared = []
    for email in emails:
        to_list = clean_addresses(email.to, "to")
        cc_list = clean_addresses(email.cc, "cc")
        bcc_list = clean_addresses(email.bcc, "bcc")
        if not (to_list or cc_list or bcc_list):
            raise ValidationError({"to": ["at least one recipient is required"]}, code="required")
        subject = _no_line_breaks(email.subject, "subject")
        from_name = _no_line_breaks(email.from_name, "from_name")
        if email.purpose not in Purpose.values:
            raise ValidationError({"purpose": [f"must be one of {', '.join(Purpose.values)}"]})
        prepared.append((email, to_list, cc_list, bcc_list, subject, from_name))
    if not prepared:
        return []
    # The importers' multi-row insert (no per-value ORM compilation): a campaign batch's
    # rows cost a fraction of `bulk_create`'s (bench/bench_campaign_send.py).
    from rapport.imports.services.bulk_sql import BulkInsert

    with transaction.atomic():
        threads = []
        new_threads = []
        for email, *_, subject, _from_name in prepared:
            thread = email.in_reply_to.thread if email.in_reply_to is not None else email.thread
            if thread is None:
                thread = MailThread(
                    token=new_thread_token(),
                    subject=subject,
                    mailbox=email.mailbox,
                    last_message_at=now,
                )
                new_threads.append(thread)
            threads.append(thread)
        BulkInsert(MailThread).insert_objects(new_threads)
        messages = []
        for (email, to_list, cc_list, bcc_list, subject, from_name), thread in zip(
            prepared, threads, strict=True
        ):
            in_reply_to, mailbox, actor = email.in_reply_to, email.mailbox, email.actor
            references = ""
            reply_to_id = ""
            if in_reply_to is not None:
                reply_to_id = in_reply_to.message_id
                references = " ".join(p for p in (in_reply_to.references, reply_to_id) if p)
            messages.append(
                MailMessage(
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
                    text_body=email.text or "",
                    html_body=email.html or "",
                    match_reason=MatchReason.SENT,
                    purpose=email.purpose,
                    template=email.template,
                    received_at=now,
                    created_by=actor if actor is not None and actor.is_authenticated else None,
                )
            )
        BulkInsert(MailMessage).insert_objects(messages)
        for message, thread in zip(messages, threads, strict=True):
            message.message_id = make_message_id(message.pk, thread.token)
        _set_message_ids(messages)
        link_rows = []
        attachment_rows = []
        for (email, *_), message in zip(prepared, messages, strict=True):
            link_rows.extend(_link_rows(message, email.links))
            attachment_rows.extend(
                MessageAttachment(message=message, file=stored)
                for stored in email.attachments or ()
            )
        MessageLink.objects.bulk_create(link_rows)
        MessageAttachment.objects.bulk_create(attachment_rows)
        BulkInsert(Delivery).insert_objects(
            [
                Delivery(
                    message=message,
                    purpose=email.purpose,
                    consent_purpose=email.consent_purpose,
                    next_attempt_at=email.send_at or now,
                )
                for (email, *_), message in zip(prepared, messages, strict=True)
            ]
        )
        created = {id(t) for t in new_threads}
        existing = {t.pk for t in threads if id(t) not in created}
        if existing:
            MailThread.objects.filter(pk__in=existing).update(last_message_at=now)
        # One wake-up per transaction, however many messages it queues.
        if not any(hook[1] is _wake_sender for hook in connection.run_on_commit):
            transaction.on_commit(_wake_sender)
    return messages


def _set_message_ids(messages: list[MailMessage]) -> None:
    """Write each new message's Message-ID (it signs the pk, known only after the insert):
    one `UPDATE … FROM (VALUES …)` per 400 rows (PostgreSQL, SQLite ≥ 3.33) instead of the
    ORM's CASE with a WHEN per row, which cost about a millisecond a message to compile."""
    table = connection.ops.quote_name(MailMessage._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(messages), 400):  # 800 parameters: under SQLite's 999
            part = messages[start : start + 400]
            values = ", ".join(["(%s, %s)"] * len(part))
            # Only the quoted table name and placeholders are formatted in.
            cursor.execute(
                f"UPDATE {table} SET message_id = v.column2 "  # noqa: S608
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                [x for m in part for x in (m.pk, m.message_id)],
            )


def _wake_sender() -> None:
    """Ask the worker to send what is due now (the scheduler's sweep catches anything missed)."""
    try:
        from rapport.mail.tasks import send_due_task
    except ImportError:  # the sender is not installed yet
        return
    send_due_task.enqueue()

"""REST endpoints for received and sent mail as people read it: messages and threads per
record, a thread with its messages, moving a message, and (admins) the unfiled mail.

Mounted under /api/mail. Every read goes through rapport.mail.thread_selectors (a message is
visible with any record it is filed on); not visible is 404.
"""

import datetime

from django.urls import reverse
from ninja import Field, Query, Router, Schema

from rapport.api.pagination import keyset_page
from rapport.mail import thread_selectors as selectors
from rapport.mail.inbound import may_auto_answer, message_move
from rapport.records.api import ERRORS, page_response

router = Router(tags=["mail"])


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    inline: bool
    download_url: str


class LinkOut(Schema):
    account_id: int | None
    contact_id: int | None
    lead_id: int | None
    opportunity_id: int | None


class MessageOut(Schema):
    id: int
    thread_id: int
    direction: str
    message_id: str
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    subject: str
    sent_at: datetime.datetime | None
    received_at: datetime.datetime | None
    text_body: str
    html_body: str = Field(description="Sanitised with nh3")
    parse_warnings: list[str]
    match_reason: str
    match_reason_label: str
    is_auto_reply: bool
    is_bounce: bool
    may_auto_answer: bool
    delivery_state: str | None = None
    delivery_error: str = ""
    attachments: list[AttachmentOut]
    links: list[LinkOut]


class MessageSummaryOut(Schema):
    id: int
    thread_id: int
    direction: str
    from_address: str
    subject: str
    received_at: datetime.datetime | None
    match_reason: str
    is_auto_reply: bool
    is_bounce: bool


class MessagePage(Schema):
    items: list[MessageSummaryOut]
    next_cursor: str | None
    count: int | None


class ThreadOut(Schema):
    id: int
    subject: str
    last_message_at: datetime.datetime | None
    messages: list[MessageOut]


class ThreadSummaryOut(Schema):
    id: int
    subject: str
    last_message_at: datetime.datetime | None


class ThreadPage(Schema):
    items: list[ThreadSummaryOut]
    next_cursor: str | None
    count: int | None


class RecordParams(Schema):
    record_type: str = Field(..., description="account, contact, lead or opportunity")
    record_id: int
    cursor: str | None = None
    limit: int = 50


class PageParams(Schema):
    cursor: str | None = None
    limit: int = 50


class MoveIn(Schema):
    thread_id: int | None = Field(None, description="Move into this thread")
    new_thread: bool = Field(False, description="Move into a new thread of its own")
    record_type: str | None = Field(None, description="File it on this record instead")
    record_id: int | None = None


def message_out(message) -> dict:
    delivery = getattr(message, "delivery", None) if message.direction == "out" else None
    return {
        "id": message.pk,
        "thread_id": message.thread_id,
        "direction": message.direction,
        "message_id": message.message_id,
        "from_address": message.from_address,
        "from_name": message.from_name,
        "to": message.to or [],
        "cc": message.cc or [],
        "subject": message.subject,
        "sent_at": message.sent_at,
        "received_at": message.received_at,
        "text_body": message.text_body,
        "html_body": message.html_body,
        "parse_warnings": message.parse_warnings or [],
        "match_reason": message.match_reason,
        "match_reason_label": message.get_match_reason_display() if message.match_reason else "",
        "is_auto_reply": message.is_auto_reply,
        "is_bounce": message.is_bounce,
        "may_auto_answer": may_auto_answer(message),
        "delivery_state": delivery.state if delivery else None,
        "delivery_error": delivery.last_error if delivery else "",
        "attachments": [
            {
                "id": a.pk,
                "name": a.file.name,
                "content_type": a.file.content_type,
                "size": a.file.size,
                "inline": a.inline,
                "download_url": reverse("mail_threads:attachment", args=[a.pk]),
            }
            for a in message.attachments.all()
        ],
        "links": list(
            message.links.values("account_id", "contact_id", "lead_id", "opportunity_id")
        ),
    }


def _check_type(record_type: str) -> None:
    from django.core.exceptions import ValidationError

    if record_type not in selectors.RECORD_FIELDS:
        raise ValidationError(
            {"record_type": [f"must be one of {', '.join(sorted(selectors.RECORD_FIELDS))}"]}
        )


@router.get("/messages", response={200: MessagePage, **ERRORS}, operation_id="mail_messages_list")
def messages_list(request, filters: Query[RecordParams]):
    """Messages filed on a record, newest first."""
    _check_type(filters.record_type)
    qs = selectors.messages_of_record(
        object_type=filters.record_type, pk=filters.record_id, user=request.user
    )
    page = keyset_page(
        qs, sort="-received_at", allowed={"received_at"}, cursor=filters.cursor, limit=filters.limit
    )
    return page_response(page)


@router.get("/threads", response={200: ThreadPage, **ERRORS}, operation_id="mail_threads_list")
def threads_list(request, filters: Query[RecordParams]):
    """Threads with a message filed on a record, the latest first."""
    _check_type(filters.record_type)
    qs = selectors.threads_of_record(
        object_type=filters.record_type, pk=filters.record_id, user=request.user
    )
    page = keyset_page(
        qs,
        sort="-last_message_at",
        allowed={"last_message_at"},
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get("/threads/{int:pk}", response={200: ThreadOut, **ERRORS}, operation_id="mail_thread")
def thread_get(request, pk: int):
    thread, messages = selectors.thread_get_for_user(pk=pk, user=request.user)
    return {
        "id": thread.pk,
        "subject": thread.subject,
        "last_message_at": thread.last_message_at,
        "messages": [message_out(m) for m in messages],
    }


@router.get("/messages/{int:pk}", response={200: MessageOut, **ERRORS}, operation_id="mail_message")
def message_get(request, pk: int):
    return message_out(selectors.message_get_for_user(pk=pk, user=request.user))


@router.post(
    "/messages/{int:pk}/move",
    response={200: MessageOut, **ERRORS},
    operation_id="mail_message_move",
    summary="Move a message to another thread (or a new one) and/or file it on a record",
)
def message_move_endpoint(request, pk: int, payload: MoveIn):
    message = message_move(actor=request.user, message_id=pk, **payload.dict())
    return message_out(selectors.message_get_for_user(pk=message.pk, user=request.user))


@router.get(
    "/unfiled",
    response={200: MessagePage, **ERRORS},
    operation_id="mail_unfiled",
    summary="Received messages filed on no record (admins only)",
)
def unfiled(request, filters: Query[PageParams]):
    qs = selectors.unfiled_messages(request.user)
    page = keyset_page(
        qs, sort="-received_at", allowed={"received_at"}, cursor=filters.cursor, limit=filters.limit
    )
    return page_response(page)

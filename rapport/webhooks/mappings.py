"""The ready inbound mappings: each kind's payload schema and how it becomes a record on the
matched contact (telephony call → call activity, chat transcript → chat interaction, POS
sale → order). Documented with curl examples in docs/webhooks.md."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from rapport.accounts.models import Contact
from rapport.activities.models import ActivityKind, Direction
from rapport.activities.services import activity_log
from rapport.orders.services import order_create
from rapport.sales.models import Product
from rapport.webhooks.models import InboundKind, InboundSource


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Customer(_Strict):
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    external_id: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)


class CallEvent(_Strict):
    event_id: str = Field(..., min_length=1, max_length=200)
    occurred_at: datetime.datetime | None = None
    direction: Literal["inbound", "outbound"]
    from_: str = Field("", alias="from", max_length=40)
    to: str = Field("", max_length=40)
    duration_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    outcome: Literal["connected", "no_answer", "voicemail", "busy"] | None = None
    recording_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")
    ivr_path: list[str] = Field(default_factory=list, max_length=50)
    agent: str | None = Field(None, max_length=200)
    customer: Customer | None = None


class ChatMessage(_Strict):
    at: datetime.datetime | None = None
    sender: Literal["customer", "agent", "bot"] = "customer"
    name: str | None = Field(None, max_length=100)
    text: str = Field(..., max_length=20_000)


class ChatEvent(_Strict):
    event_id: str = Field(..., min_length=1, max_length=200)
    occurred_at: datetime.datetime | None = None
    subject: str | None = Field(None, max_length=200)
    customer: Customer
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=2000)


class SaleLine(_Strict):
    sku: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=200)
    quantity: Decimal = Field(Decimal("1"), gt=0, le=Decimal("1e9"))
    unit_price: Decimal = Field(..., ge=0, le=Decimal("1e12"))


class SaleEvent(_Strict):
    event_id: str = Field(..., min_length=1, max_length=200)
    occurred_at: datetime.datetime | None = None
    sale_id: str | None = Field(None, max_length=100)
    store: str | None = Field(None, max_length=100)
    currency: str | None = Field(None, min_length=3, max_length=3)
    customer: Customer
    lines: list[SaleLine] = Field(..., min_length=1, max_length=500)


SCHEMAS = {
    InboundKind.TELEPHONY_CALL: CallEvent,
    InboundKind.CHAT_TRANSCRIPT: ChatEvent,
    InboundKind.POS_SALE: SaleEvent,
}


def _when(value: datetime.datetime | None) -> datetime.datetime:
    if value is None:
        return timezone.now()
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _links(contact: Contact) -> dict[str, int | None]:
    return {"contact_id": contact.pk, "account_id": contact.account_id}


def _map_call(source: InboundSource, event: CallEvent, contact: Contact) -> dict[str, Any]:
    other = event.from_ if event.direction == "inbound" else event.to
    subject = f"{event.direction.capitalize()} call" + (f" {other}" if other else "")
    lines = []
    if event.ivr_path:
        lines.append("IVR path: " + " › ".join(step[:100] for step in event.ivr_path))
    if event.recording_url:
        lines.append(f"Recording: {event.recording_url}")
    if event.agent:
        lines.append(f"Agent: {event.agent}")
    if event.from_ or event.to:
        lines.append(f"From {event.from_ or '?'} to {event.to or '?'}")
    activity, _ = activity_log(
        actor=source.user,
        kind=ActivityKind.CALL,
        fields={
            "subject": subject[:200],
            "body": "\n".join(lines),
            "occurred_at": _when(event.occurred_at),
            "direction": Direction(event.direction),
            "duration_seconds": event.duration_seconds,
            "outcome": event.outcome or "",
        },
        links=_links(contact),
        external_id=event.event_id[:100],
        source=source.source_key,
    )
    return {"activity": activity}


def _map_chat(source: InboundSource, event: ChatEvent, contact: Contact) -> dict[str, Any]:
    transcript = []
    for message in event.messages:
        who = message.name or message.sender.capitalize()
        stamp = f"[{_when(message.at):%Y-%m-%d %H:%M}] " if message.at else ""
        transcript.append(f"{stamp}{who}: {message.text}")
    activity, _ = activity_log(
        actor=source.user,
        kind=ActivityKind.INTERACTION,
        fields={
            "subject": (event.subject or f"Chat ({len(event.messages)} messages)")[:200],
            "body": "\n".join(transcript)[:100_000],
            "occurred_at": _when(event.occurred_at or event.messages[0].at),
            "channel": "chat",
            "direction": Direction.INBOUND,
        },
        links=_links(contact),
        external_id=event.event_id[:100],
        source=source.source_key,
    )
    return {"activity": activity}


def _map_sale(source: InboundSource, event: SaleEvent, contact: Contact) -> dict[str, Any]:
    skus = {line.sku for line in event.lines if line.sku}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk")) if skus else {}
    lines = []
    for line in event.lines:
        product_id = products.get(line.sku) if line.sku else None
        description = line.description or ""
        if line.sku and product_id is None:
            description = f"{line.sku} {description}".strip()
        lines.append(
            {
                "product_id": product_id,
                "description": description[:200],
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
        )
    order = order_create(
        actor=source.user,
        fields={
            "external_id": (event.sale_id or event.event_id)[:100],
            "source": source.source_key,
            "ordered_at": _when(event.occurred_at),
            "channel": "store",
            "status": "paid",
            "currency": event.currency,
        },
        lines=lines,
        contact=contact,
        account=contact.account,
    )
    return {"order": order}


MAPPINGS = {
    InboundKind.TELEPHONY_CALL: (
        _map_call,
        lambda e: e.from_ if e.direction == "inbound" else e.to,
    ),
    InboundKind.CHAT_TRANSCRIPT: (_map_chat, lambda e: ""),
    InboundKind.POS_SALE: (_map_sale, lambda e: ""),
}

"""Inbound webhooks: sources, matching a payload to exactly one contact, and receiving an
event (the ready mappings per kind are in `mappings.py`).

A payload lands on a contact only when every identifier it carries (external id, email,
phone) that matches anyone points to the same single contact. No match, several contacts,
or identifiers that disagree → the event is stored as `unmatched` for review; nothing is
guessed. Every event is logged (`InboundEvent`) once per (source, event_id): a re-sent event
is answered from the log without writing again; an invalid or failed one is processed again
when re-sent (the sender may have fixed it).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import BaseModel
from pydantic import ValidationError as SchemaError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from rapport.accounts.contact_methods import PhoneProblem, email_normalise, phone_e164
from rapport.accounts.models import Contact, ContactEmail, ContactPhone
from rapport.identity.models import User
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import Conflict, PermissionDenied, field_path
from rapport.webhooks.mappings import MAPPINGS, SCHEMAS, Customer
from rapport.webhooks.models import InboundEvent, InboundKind, InboundOutcome, InboundSource

_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


# ----- sources ----------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return "rih_" + secrets.token_urlsafe(32)


def _field_error(name: str, message: str, code: str) -> ValidationError:
    return ValidationError({name: [ValidationError(message, code=code)]})


def _check_source_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            raise _field_error("name", "Give the source a name", "required")
        out["name"] = name[:120]
    if "kind" in fields:
        if fields["kind"] not in InboundKind.values:
            raise _field_error("kind", "Unknown kind", "invalid_choice")
        out["kind"] = fields["kind"]
    if "user" in fields:
        user = fields["user"]
        if user is None or not user.is_active or user.is_read_only:
            raise _field_error(
                "user_id", "Choose an active user who may write activities", "invalid_user"
            )
        out["user"] = user
    if "external_id_field" in fields:
        key = (fields["external_id_field"] or "").strip()
        if key and not _CUSTOM_KEY.match(key):
            raise _field_error(
                "external_id_field", "A custom field key like customer_no", "invalid_key"
            )
        out["external_id_field"] = key
    if "is_active" in fields and fields["is_active"] is not None:
        out["is_active"] = bool(fields["is_active"])
    if "verify_signature" in fields and fields["verify_signature"] is not None:
        out["verify_signature"] = bool(fields["verify_signature"])
    return out


@dataclass
class SourceSecrets:
    """What the creator sees once: the URL token and (when signatures are on) the secret."""

    token: str
    signing_secret: str = ""


def inbound_source_create(
    *,
    actor: User,
    name: str,
    kind: str,
    user: User,
    external_id_field: str = "",
    verify_signature: bool = False,
) -> tuple[InboundSource, SourceSecrets]:
    """A source with a new secret URL token (and signing secret when asked); both are
    returned here only."""
    from rapport.webhooks.services import new_secret

    require_settings_admin(actor)
    clean = _check_source_fields(
        {"name": name, "kind": kind, "user": user, "external_id_field": external_id_field}
    )
    token = _new_token()
    signing = new_secret() if verify_signature else ""
    source = InboundSource.objects.create(
        token_digest=_token_digest(token),
        token_prefix=token[:10],
        signing_secret=signing,
        **clean,
    )
    return source, SourceSecrets(token=token, signing_secret=signing)


def inbound_source_update(
    *, actor: User, source: InboundSource, fields: dict[str, Any]
) -> tuple[InboundSource, SourceSecrets | None]:
    """Change name, user, external id field, active flag; turning signature checks on makes
    a signing secret (returned once), turning them off forgets it."""
    from rapport.webhooks.services import new_secret

    require_settings_admin(actor)
    clean = _check_source_fields(fields)
    clean.pop("kind", None)  # a source keeps its kind: its log would read otherwise
    shown = None
    verify = clean.pop("verify_signature", None)
    if verify is True and not source.signing_secret:
        clean["signing_secret"] = new_secret()
        shown = SourceSecrets(token="", signing_secret=clean["signing_secret"])
    elif verify is False:
        clean["signing_secret"] = ""
    for key, value in clean.items():
        setattr(source, key, value)
    if clean:
        source.save(update_fields=list(clean))
    return source, shown


def inbound_source_rotate(*, actor: User, source: InboundSource) -> SourceSecrets:
    """A new URL token (the old URL stops working at once) and, when signatures are on, a
    new signing secret."""
    from rapport.webhooks.services import new_secret

    require_settings_admin(actor)
    token = _new_token()
    source.token_digest = _token_digest(token)
    source.token_prefix = token[:10]
    fields = ["token_digest", "token_prefix"]
    if source.signing_secret:
        source.signing_secret = new_secret()
        fields.append("signing_secret")
    source.save(update_fields=fields)
    return SourceSecrets(token=token, signing_secret=source.signing_secret)


def inbound_source_delete(*, actor: User, source: InboundSource) -> None:
    require_settings_admin(actor)
    source.delete()


def source_for_token(token: str) -> InboundSource | None:
    if not token or len(token) > 200:
        return None
    return (
        InboundSource.objects.select_related("user")
        .filter(token_digest=_token_digest(token), is_active=True)
        .first()
    )


# ----- matching ---------------------------------------------------------------------------


@dataclass
class Match:
    contact: Contact | None
    how: str = ""
    reason: str = ""


def _contacts_with_email(raw: str) -> set[int]:
    try:
        email = email_normalise(raw)
    except ValidationError:
        return set()
    variants = {email, email.lower()}
    ids = set(
        ContactEmail.objects.filter(
            email__in=variants, contact__deleted_at__isnull=True
        ).values_list("contact_id", flat=True)
    )
    ids |= set(Contact.objects.filter(email__in=variants).values_list("pk", flat=True))
    return ids


def _contacts_with_phone(e164: str) -> set[int]:
    ids = set(
        ContactPhone.objects.filter(number=e164, contact__deleted_at__isnull=True).values_list(
            "contact_id", flat=True
        )
    )
    ids |= set(Contact.objects.filter(phone=e164).values_list("pk", flat=True))
    return ids


def contact_match(
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    external_id_field: str = "",
) -> Match:
    """The one contact every given identifier points to, or None with the reason. Searches
    all contacts (not only those some user sees): a narrower search could hide the other
    holder of a shared phone and so attach the event to the wrong person."""
    found: dict[str, set[int]] = {}
    given: list[str] = []
    if external_id and external_id_field:
        given.append("external id")
        ids = set(
            Contact.objects.filter(
                **{f"custom__{external_id_field}": str(external_id)}
            ).values_list("pk", flat=True)[:5]
        )
        if ids:
            found["external id"] = ids
    if email:
        given.append("email")
        ids = _contacts_with_email(email)
        if ids:
            found["email"] = ids
    if phone:
        given.append("phone")
        try:
            e164 = phone_e164(phone)
        except PhoneProblem:
            e164 = ""
        ids = _contacts_with_phone(e164) if e164 else set()
        if ids:
            found["phone"] = ids
    if not given:
        return Match(None, reason="The event names no phone, email or external id")
    if not found:
        return Match(None, reason=f"No contact has this {' or '.join(given)}")
    common = set.intersection(*found.values())
    how = "+".join(found)
    if len(common) == 1:
        return Match(Contact.objects.get(pk=common.pop()), how=how)
    if not common:
        return Match(
            None, reason=f"The {' and '.join(found)} belong to different contacts: not guessed"
        )
    return Match(
        None, reason=f"{len(common)} contacts share this {' and '.join(found)}: not guessed"
    )


def _customer_match(source: InboundSource, customer: Customer | None, phone: str = "") -> Match:
    customer = customer or Customer()
    return contact_match(
        email=customer.email,
        phone=customer.phone or phone or None,
        external_id=customer.external_id,
        external_id_field=source.external_id_field,
    )


# ----- receiving --------------------------------------------------------------------------


@dataclass
class Received:
    status: int
    body: dict[str, Any]
    event: InboundEvent | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _errors(exc: SchemaError) -> list[dict[str, Any]]:
    return [
        {
            "detail": err.get("msg", "invalid"),
            "code": err.get("type", "invalid"),
            "field": field_path([str(p) for p in err.get("loc", ())]) or None,
        }
        for err in exc.errors()
    ]


def _answer(event: InboundEvent, *, duplicate: bool = False) -> Received:
    status = {
        InboundOutcome.CREATED: 201,
        InboundOutcome.UNMATCHED: 202,
        InboundOutcome.INVALID: 422,
        InboundOutcome.FAILED: 503,
    }[event.outcome]
    if duplicate and event.outcome in (InboundOutcome.CREATED, InboundOutcome.UNMATCHED):
        status = 200
    body = {
        "event_id": event.event_id,
        "outcome": event.outcome,
        "detail": event.detail,
        "duplicate": duplicate,
        "contact_id": event.contact_id,
        "activity_id": event.activity_id,
        "order_id": event.order_id,
    }
    if event.outcome == InboundOutcome.INVALID:
        body["code"] = "invalid_payload"
        body["field"] = None
    return Received(status=status, body=body, event=event)


def _apply(
    source: InboundSource, event: InboundEvent, parsed: BaseModel, contact: Contact | None
) -> None:
    """Run the mapping for `event` (on `contact`, or the matched one) and fill the event's
    outcome. The writes happen in a savepoint: a refusal leaves nothing half-written."""
    mapper, phone_of = MAPPINGS[source.kind]
    how = "manual"
    if contact is None:
        match = _customer_match(source, getattr(parsed, "customer", None), phone_of(parsed))
        if match.contact is None:
            event.outcome, event.detail, event.contact = (
                InboundOutcome.UNMATCHED,
                match.reason,
                None,
            )
            return
        contact, how = match.contact, match.how
    try:
        with transaction.atomic():
            written = mapper(source, parsed, contact)
    except ValidationError as exc:
        event.outcome = InboundOutcome.INVALID
        event.detail = "; ".join(
            f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
            for k, v in getattr(exc, "message_dict", {"__all__": exc.messages}).items()
        )[:2000]
        return
    except (PermissionDenied, Conflict) as exc:
        event.outcome = InboundOutcome.FAILED
        event.detail = (
            f"{exc} (the source writes as {source.user.username}; give that user the right to "
            "change this contact, or choose another user)"
        )[:2000]
        return
    event.outcome, event.detail = InboundOutcome.CREATED, ""
    event.contact, event.matched_by = contact, how
    event.activity = written.get("activity")
    event.order = written.get("order")
    # Rules on "inbound webhook received" (filterable by source kind) see it, in this
    # transaction, like any other trigger.
    from rapport.automation.outbox import emit

    emit(
        "webhook.received",
        subject=contact,
        payload={
            "source": source.kind,
            "source_id": source.pk,
            "event_id": event.event_id,
            "activity_id": getattr(event.activity, "pk", None),
            "order_id": getattr(event.order, "pk", None),
        },
        actor=source.user,
    )


def inbound_receive(*, source: InboundSource, body: bytes, headers: dict[str, str]) -> Received:
    """Verify, parse, log and map one delivery of a source. The answer's status tells the
    sender what to do: 201/202/200 done (202: kept for review), 422 fix the payload, 503 try
    later (our configuration refused the write), 401 bad signature."""
    if source.signing_secret:
        try:
            Webhook(source.signing_secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            return Received(
                401,
                {
                    "detail": f"Signature check failed: {exc}",
                    "code": "bad_signature",
                    "field": None,
                },
            )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Received(
            400, {"detail": "The body is not JSON", "code": "invalid_json", "field": None}
        )
    if not isinstance(payload, dict):
        return Received(
            400,
            {"detail": "The body must be a JSON object", "code": "invalid_body", "field": None},
        )
    if _has_nul(payload):
        return Received(
            422, {"detail": "NUL characters are not accepted", "code": "invalid", "field": None}
        )
    if not payload.get("event_id") and headers.get("webhook-id"):
        payload["event_id"] = headers["webhook-id"]
    schema = SCHEMAS[source.kind]
    try:
        parsed = schema.model_validate(payload)
    except SchemaError as exc:
        errors = _errors(exc)
        event_id = str(payload.get("event_id") or "")[:200]
        if event_id:
            _log_invalid(source, event_id, payload, errors)
        return Received(422, {**errors[0], "errors": errors})
    return _receive_parsed(source, parsed, payload)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _log_invalid(source, event_id, payload, errors) -> None:
    detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)[:2000]
    with transaction.atomic():
        existing = (
            InboundEvent.objects.select_for_update()
            .filter(source=source, event_id=event_id)
            .first()
        )
        if existing is not None:
            if existing.outcome in (InboundOutcome.INVALID, InboundOutcome.FAILED):
                existing.payload, existing.detail = payload, detail
                existing.outcome = InboundOutcome.INVALID
                existing.attempts += 1
                existing.received_at = timezone.now()
                existing.save(
                    update_fields=["payload", "detail", "outcome", "attempts", "received_at"]
                )
            return
        try:
            with transaction.atomic():
                InboundEvent.objects.create(
                    source=source,
                    event_id=event_id,
                    received_at=timezone.now(),
                    outcome=InboundOutcome.INVALID,
                    detail=detail,
                    payload=payload,
                )
        except IntegrityError:
            pass


def _receive_parsed(source: InboundSource, parsed: BaseModel, payload: dict) -> Received:
    event_id = parsed.event_id
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update()
            .filter(source=source, event_id=event_id)
            .first()
        )
        if event is not None and event.outcome in (
            InboundOutcome.CREATED,
            InboundOutcome.UNMATCHED,
        ):
            return _answer(event, duplicate=True)
        if event is None:
            event = InboundEvent(source=source, event_id=event_id, attempts=0)
            try:
                with transaction.atomic():
                    event.received_at = timezone.now()
                    event.outcome = InboundOutcome.FAILED
                    event.payload = payload
                    event.save()
            except IntegrityError:
                # The same event is being received right now by another request.
                event = InboundEvent.objects.get(source=source, event_id=event_id)
                return _answer(event, duplicate=True)
        event.payload = payload
        event.received_at = timezone.now()
        event.attempts += 1
        _apply(source, event, parsed, None)
        event.save()
    return _answer(event)


def inbound_event_assign(*, actor: User, event: InboundEvent, contact: Contact) -> InboundEvent:
    """Record an unmatched (or failed) event on the contact a person chose for it."""
    require_settings_admin(actor)
    if event.outcome == InboundOutcome.CREATED:
        raise Conflict("This event is already recorded", code="already_recorded")
    source = event.source
    schema = SCHEMAS[source.kind]
    try:
        parsed = schema.model_validate(event.payload)
    except SchemaError as exc:
        raise ValidationError({"payload": [ValidationError(str(_errors(exc)[0]["detail"]))]})
    with transaction.atomic():
        _apply(source, event, parsed, contact)
        if event.outcome == InboundOutcome.CREATED:
            event.detail = f"Assigned by {actor.username}"
        event.save()
    return event

"""Writes for accounts and contacts. Views, API, importers and tasks call these."""

import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.accounts.contact_methods import email_normalise, methods_clean, phone_normalise
from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.identity.models import User
from rapport.records.exceptions import Conflict
from rapport.records.iso_codes import normalise_codes
from rapport.records.services import (
    record_create,
    record_edit,
    record_restore,
    record_soft_delete,
    require_editable,
    versioned_update,
)
from rapport.territories.assignment import assign
from rapport.territories.placement import PLACEMENT_FIELDS, place_record
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

CLOSE_REASON_MAX = 200
# Closing and reopening have their own services (with their timeline event).
LIFECYCLE_FIELDS = ("closed_at", "close_reason")


def _domain_of(website: str) -> str:
    if not website:
        return ""
    try:
        host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    except ValueError:  # "http://[x": not an address, so no domain
        return ""
    return host.lower().removeprefix("www.")


def _account_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = normalise_codes(
        fields, countries=("country", "shipping_country"), currencies=("currency",)
    )
    if "website" in fields and not fields.get("domain"):
        fields["domain"] = _domain_of(fields["website"] or "")
    if fields.get("domain"):
        fields["domain"] = fields["domain"].lower().removeprefix("www.")
    return fields


def account_create(
    *,
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
) -> Account:
    """Create an account (domain derived from the website) and log it."""
    with transaction.atomic():
        account = record_create(
            model=Account,
            actor=actor,
            fields=_account_fields(fields),
            owner=owner,
            tags=tags,
            custom=custom,
        )
        place_record(account, actor=actor, created=True)
        if owner is None:
            assign(account, actor=actor)
        return account


def account_update(
    *,
    account: Account,
    actor: User,
    fields: dict[str, Any],
    tags: list[str] | None = None,
    custom: dict | None = None,
    owner: User | None = None,
    expected_version: int | None = None,
) -> dict:
    """Versioned partial update; stale `expected_version` changes nothing."""
    if set(fields) & set(LIFECYCLE_FIELDS):
        raise ValueError("close or reopen an account with account_close / account_reopen")
    if "parent" in fields and fields["parent"] is not None and fields["parent"].pk == account.pk:
        raise ValidationError(
            {"parent_id": [ValidationError("An account cannot be its own parent", code="invalid")]}
        )
    with transaction.atomic():
        out = record_edit(
            record=account,
            actor=actor,
            fields=_account_fields(fields),
            tags=tags,
            custom=custom,
            owner=owner,
            expected_version=expected_version,
        )
        if set(fields) & PLACEMENT_FIELDS:
            place_record(account, actor=actor)
        return out


def account_delete(*, account: Account, actor: User, expected_version: int | None = None) -> None:
    record_soft_delete(record=account, actor=actor, expected_version=expected_version)


def account_restore(*, account: Account, actor: User) -> None:
    record_restore(record=account, actor=actor)


def account_close(
    *,
    account: Account,
    actor: User,
    closed_at: datetime.date,
    reason: str = "",
    expected_version: int | None = None,
) -> Account:
    """Record that the relationship with the account ended on `closed_at` (today or earlier;
    a day before the record's creation is fine, history is often entered late). Closing a
    closed account is a conflict (409 `account_closed`); the timeline gets the event."""
    require_editable(account, actor)
    reason = (reason or "").strip()
    if closed_at is None:
        raise ValidationError(
            {"closed_at": [ValidationError("Give the day the account closed", code="required")]}
        )
    if closed_at > timezone.localdate():
        raise ValidationError(
            {"closed_at": [ValidationError("The closing day cannot be in the future", "future")]}
        )
    if len(reason) > CLOSE_REASON_MAX:
        raise ValidationError(
            {
                "reason": [
                    ValidationError(f"At most {CLOSE_REASON_MAX} characters", code="max_length")
                ]
            }
        )
    if account.closed_at is not None:
        raise Conflict(
            f"The account is already closed (since {account.closed_at.isoformat()})",
            code="account_closed",
        )
    with transaction.atomic():
        diff = versioned_update(
            instance=account,
            changes={"closed_at": closed_at, "close_reason": reason},
            expected_version=expected_version,
        )
        timeline_record(
            subject=account,
            kind=EventKind.UPDATED,
            actor=actor,
            summary=f"Closed the account on {closed_at.isoformat()}"
            + (f": {reason}" if reason else ""),
            payload={"action": "closed", "changes": diff},
        )
    return account


def account_reopen(
    *, account: Account, actor: User, expected_version: int | None = None
) -> Account:
    """Clear the closing day and reason of a closed account (a conflict if it is open)."""
    require_editable(account, actor)
    if account.closed_at is None:
        raise Conflict("The account is not closed", code="account_not_closed")
    with transaction.atomic():
        diff = versioned_update(
            instance=account,
            changes={"closed_at": None, "close_reason": ""},
            expected_version=expected_version,
        )
        timeline_record(
            subject=account,
            kind=EventKind.UPDATED,
            actor=actor,
            summary="Reopened the account",
            payload={"action": "reopened", "changes": diff},
        )
    return account


def _contact_methods(
    emails: list[dict] | None, phones: list[dict] | None, fields: dict[str, Any]
) -> tuple[list[dict] | None, list[dict] | None]:
    # `email` / `phone` on the contact are a shorthand for a one-entry list.
    if emails is None and fields.get("email") is not None:
        emails = [{"email": fields["email"], "is_primary": True}] if fields["email"] else []
    if phones is None and fields.get("phone") is not None:
        phones = [{"number": fields["phone"], "is_primary": True}] if fields["phone"] else []
    fields.pop("email", None)
    fields.pop("phone", None)
    if emails is not None:
        emails = methods_clean(emails, value_key="email", field="emails", normalise=email_normalise)
    if phones is not None:
        phones = methods_clean(
            phones, value_key="number", field="phones", normalise=phone_normalise
        )
    return emails, phones


def _store_methods(contact: Contact, emails: list[dict] | None, phones: list[dict] | None) -> None:
    if emails is not None:
        contact.emails.all().delete()
        ContactEmail.objects.bulk_create([ContactEmail(contact=contact, **e) for e in emails])
    if phones is not None:
        contact.phones.all().delete()
        ContactPhone.objects.bulk_create([ContactPhone(contact=contact, **p) for p in phones])


def contact_create(
    *,
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    emails: list[dict] | None = None,
    phones: list[dict] | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
) -> Contact:
    """Create a contact with normalised emails and phones (one primary each) and log it; the
    `created` event carries the account too, so it shows on the account's timeline."""
    fields = dict(fields)
    emails, phones = _contact_methods(emails, phones, fields)
    fields = normalise_codes(fields, countries=("country",))
    fields["email"] = emails[0]["email"] if emails else ""
    fields["phone"] = phones[0]["number"] if phones else ""
    with transaction.atomic():
        contact = record_create(
            model=Contact, actor=actor, fields=fields, owner=owner, tags=tags, custom=custom
        )
        _store_methods(contact, emails, phones)
    return contact


def contact_update(
    *,
    contact: Contact,
    actor: User,
    fields: dict[str, Any],
    emails: list[dict] | None = None,
    phones: list[dict] | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
    owner: User | None = None,
    expected_version: int | None = None,
) -> dict:
    """Versioned partial update; replacing emails/phones keeps the primaries denormalised."""
    fields = dict(fields)
    emails, phones = _contact_methods(emails, phones, fields)
    fields = normalise_codes(fields, countries=("country",))
    if emails is not None:
        fields["email"] = emails[0]["email"] if emails else ""
    if phones is not None:
        fields["phone"] = phones[0]["number"] if phones else ""
    with transaction.atomic():
        diff = record_edit(
            record=contact,
            actor=actor,
            fields=fields,
            tags=tags,
            custom=custom,
            owner=owner,
            expected_version=expected_version,
        )
        _store_methods(contact, emails, phones)
    return diff


def contact_delete(*, contact: Contact, actor: User, expected_version: int | None = None) -> None:
    record_soft_delete(record=contact, actor=actor, expected_version=expected_version)


def contact_restore(*, contact: Contact, actor: User) -> None:
    record_restore(record=contact, actor=actor)

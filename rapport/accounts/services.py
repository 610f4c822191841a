"""Writes for accounts and contacts. Views, API, importers and tasks call these."""

from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from rapport.accounts.contact_methods import email_normalise, methods_clean, phone_normalise
from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.identity.models import User
from rapport.records.services import record_create, record_edit, record_restore, record_soft_delete


def _domain_of(website: str) -> str:
    if not website:
        return ""
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    return host.lower().removeprefix("www.")


def _account_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    for key in ("country", "shipping_country"):
        if fields.get(key):
            fields[key] = fields[key].upper()
    if fields.get("currency"):
        fields["currency"] = fields["currency"].upper()
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
        return record_create(
            model=Account,
            actor=actor,
            fields=_account_fields(fields),
            owner=owner,
            tags=tags,
            custom=custom,
        )


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
    if "parent" in fields and fields["parent"] is not None and fields["parent"].pk == account.pk:
        from django.core.exceptions import ValidationError

        raise ValidationError(
            {"parent_id": [ValidationError("An account cannot be its own parent", code="invalid")]}
        )
    return record_edit(
        record=account,
        actor=actor,
        fields=_account_fields(fields),
        tags=tags,
        custom=custom,
        owner=owner,
        expected_version=expected_version,
    )


def account_delete(*, account: Account, actor: User, expected_version: int | None = None) -> None:
    record_soft_delete(record=account, actor=actor, expected_version=expected_version)


def account_restore(*, account: Account, actor: User) -> None:
    record_restore(record=account, actor=actor)


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
    if fields.get("country"):
        fields["country"] = fields["country"].upper()
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
    if fields.get("country"):
        fields["country"] = fields["country"].upper()
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

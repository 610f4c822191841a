"""Normalising contact methods: emails (email-validator) and phones (phonenumbers, E.164)."""

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email


def emails_upper(addresses) -> dict[str, str]:
    """Each address upper-cased as the database's UPPER() does it, the form the functional
    indexes on UPPER(email) hold (email-validator keeps the local part's case; addresses
    compare case-insensitively): Python's rules for ASCII (the same everywhere), one query
    for the non-ASCII ones (SQLite's UPPER only folds ASCII, PostgreSQL's every letter)."""
    from django.db import connection

    upper = {a: a.upper() for a in addresses if a.isascii()}
    others = sorted({a for a in addresses if not a.isascii()})
    if others:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(["UPPER(%s)"] * len(others)), others)
            upper.update(zip(others, cursor.fetchone(), strict=True))
    return upper


def email_normalise(raw: str, *, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, AttributeError) as exc:
        raise ValidationError(
            {field: [ValidationError(f"Not a valid email address: {exc}", code="invalid_email")]}
        )


class PhoneProblem(ValueError):
    """Not a phone number anyone can dial; the message says why."""


# International call prefixes people type instead of "+": 00 (most of the world, ITU) and
# 011 (North America; phonenumbers knows it only for those regions).
_INTERNATIONAL_PREFIX = re.compile(r"^\s*(?:00|\+\s*00)(?=\s*[1-9])")


def phone_e164(raw: str, region: str | None = None) -> str:
    """E.164 form of a phone number. "00" before the country code counts as "+" whatever
    the region; a number without a country code is in `region` (default
    RAPPORT_PHONE_REGION). Refuses what cannot be a full number there: too short or too
    long, or a local number without its area code (`5559932`), which would otherwise be
    stored as a wrong international one (`+15559932`)."""
    text = str(raw).strip()
    text = _INTERNATIONAL_PREFIX.sub("+", text)
    try:
        number = phonenumbers.parse(text, region or settings.RAPPORT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise PhoneProblem(f"Not a phone number: {exc}")
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise PhoneProblem("A local number without its area code: add the area code")
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        what = {
            phonenumbers.ValidationResult.TOO_SHORT: "too short",
            phonenumbers.ValidationResult.TOO_LONG: "too long",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "an unknown country code",
        }.get(reason, "the wrong length")
        raise PhoneProblem(f"Not a possible phone number ({what})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_normalise(raw: str, *, field: str = "phone", region: str | None = None) -> str:
    """phone_e164, its refusal as a ValidationError on `field` (code invalid_phone)."""
    try:
        return phone_e164(raw, region)
    except PhoneProblem as exc:
        raise ValidationError({field: [ValidationError(str(exc), code="invalid_phone")]})


def methods_clean(entries: list[dict], *, value_key: str, field: str, normalise) -> list[dict]:
    """Validate a list of {value, kind, is_primary}: normalised, deduplicated, exactly one
    primary (the first one when none is marked)."""
    from rapport.accounts.models import ContactMethodKind

    clean: list[dict] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        value = normalise(entry.get(value_key) or "", field=f"{field}[{i}].{value_key}")
        kind = entry.get("kind") or ContactMethodKind.WORK
        if kind not in ContactMethodKind.values:
            raise ValidationError(
                {f"{field}[{i}].kind": [ValidationError("Unknown kind", code="invalid_choice")]}
            )
        if value in seen:
            continue
        seen.add(value)
        clean.append({value_key: value, "kind": kind, "is_primary": bool(entry.get("is_primary"))})
    primaries = [e for e in clean if e["is_primary"]]
    if len(primaries) > 1:
        raise ValidationError(
            {field: [ValidationError("Only one can be primary", code="several_primary")]}
        )
    if clean and not primaries:
        clean[0]["is_primary"] = True
    clean.sort(key=lambda e: not e["is_primary"])
    return clean

"""Normalising contact methods: emails (email-validator) and phones (phonenumbers, E.164)."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email


def email_normalise(raw: str, *, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except (EmailNotValidError, AttributeError) as exc:
        raise ValidationError(
            {field: [ValidationError(f"Not a valid email address: {exc}", code="invalid_email")]}
        )


def phone_normalise(raw: str, *, field: str = "phone", region: str | None = None) -> str:
    """E.164 form of a phone number; numbers without a country code use the default region."""
    try:
        number = phonenumbers.parse(str(raw).strip(), region or settings.RAPPORT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            {field: [ValidationError(f"Not a phone number: {exc}", code="invalid_phone")]}
        )
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(
            {field: [ValidationError("Not a possible phone number", code="invalid_phone")]}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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

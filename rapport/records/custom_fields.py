"""Validation of custom field values against their admin-made definitions."""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from rapport.records.models import CustomFieldDefinition, FieldType


def definitions_for(object_type: str) -> dict[str, CustomFieldDefinition]:
    return {d.key: d for d in CustomFieldDefinition.objects.filter(object_type=object_type)}


def _clean_value(definition: CustomFieldDefinition, value: Any) -> Any:
    kind = definition.field_type
    if value is None or value == "":
        return None
    if kind == FieldType.TEXT:
        if not isinstance(value, str | int | float):
            raise ValueError("must be text")
        text = str(value)
        if len(text) > 2000:
            raise ValueError("must be at most 2000 characters")
        return text
    if kind in (FieldType.NUMBER, FieldType.MONEY):
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("must be a number")
        if not number.is_finite():
            raise ValueError("must be a finite number")
        if kind == FieldType.MONEY:
            return float(number.quantize(Decimal("0.01")))
        return float(number) if number != number.to_integral_value() else int(number)
    if kind == FieldType.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD")
    if kind == FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "1", "yes"}:
            return True
        if str(value).lower() in {"false", "0", "no"}:
            return False
        raise ValueError("must be true or false")
    if kind == FieldType.CHOICE:
        if value not in definition.choices:
            raise ValueError(f"must be one of {', '.join(map(str, definition.choices))}")
        return value
    if kind == FieldType.MULTI_CHOICE:
        if not isinstance(value, list) or any(v not in definition.choices for v in value):
            raise ValueError(f"must be a list of {', '.join(map(str, definition.choices))}")
        return sorted(set(value), key=definition.choices.index)
    raise ValueError("has an unknown type")


def custom_fields_clean(
    *, object_type: str, values: dict | None, current: dict | None = None
) -> dict:
    """Return the merged, validated custom values; raise ValidationError naming the field.

    Unknown keys are refused (typos must not be stored silently); `None` clears a value.
    """
    if values is not None and not isinstance(values, dict):
        raise ValidationError("custom must be an object", code="invalid")
    definitions = definitions_for(object_type)
    merged = dict(current or {})
    errors: dict[str, list[ValidationError]] = {}
    for key, value in (values or {}).items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"custom.{key}"] = [
                ValidationError("is not a defined custom field", code="unknown_field")
            ]
            continue
        try:
            cleaned = _clean_value(definition, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = [ValidationError(str(exc), code="invalid")]
            continue
        if cleaned is None:
            merged.pop(key, None)
        else:
            merged[key] = cleaned
    for key, definition in definitions.items():
        if definition.required and merged.get(key) in (None, "", []):
            errors.setdefault(f"custom.{key}", [ValidationError("is required", code="required")])
    if errors:
        raise ValidationError(errors)
    return merged


def custom_filter_kwargs(object_type: str, expressions: list[str]) -> dict[str, Any]:
    """Turn `key=value`, `key__gte=value` … into ORM lookups on the JSON column.

    Values are typed by the definition so that numbers compare as numbers.
    """
    definitions = definitions_for(object_type)
    lookups: dict[str, Any] = {}
    allowed_ops = {"", "gt", "gte", "lt", "lte", "contains"}
    for expression in expressions:
        if "=" not in expression:
            raise ValidationError(
                f"custom filter '{expression}' must look like key=value", code="invalid_filter"
            )
        left, raw = expression.split("=", 1)
        key, _, op = left.partition("__")
        definition = definitions.get(key)
        if definition is None or op not in allowed_ops:
            raise ValidationError(f"unknown custom filter '{left}'", code="invalid_filter")
        try:
            if definition.field_type == FieldType.MULTI_CHOICE:
                value = _clean_value(definition, [raw])[0]
            else:
                value = _clean_value(definition, raw)
        except ValueError as exc:
            raise ValidationError(f"custom filter {key} {exc}", code="invalid_filter")
        if definition.field_type == FieldType.MULTI_CHOICE:
            # JSON array membership: portable across SQLite and PostgreSQL via a text match.
            lookups[f"custom__{key}__icontains"] = f'"{value}"'
        elif op == "contains":
            lookups[f"custom__{key}__icontains"] = value
        else:
            lookups[f"custom__{key}" + (f"__{op}" if op else "")] = value
    return lookups


def custom_field_define(
    *,
    object_type: str,
    key: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    required: bool = False,
    position: int = 0,
) -> CustomFieldDefinition:
    """Create a custom field definition; choice types need at least one choice."""
    choices = [c for c in (choices or []) if str(c).strip()]
    if field_type in (FieldType.CHOICE, FieldType.MULTI_CHOICE) and not choices:
        raise ValidationError(
            {"choices": [ValidationError("A choice field needs choices", code="required")]}
        )
    if CustomFieldDefinition.objects.filter(object_type=object_type, key=key).exists():
        raise ValidationError(
            {"key": [ValidationError("This key is already defined", code="unique")]}
        )
    return CustomFieldDefinition.objects.create(
        object_type=object_type,
        key=key,
        label=label,
        field_type=field_type,
        choices=choices,
        required=required,
        position=position,
    )

"""Rule conditions: field comparisons on the record and its parents, AND/OR groups, and
"field changed (to / from)" against the triggering event's changes.

Shape: {"op": "and" | "or", "items": [condition | group, ...]}; a condition is
{"field": "account.industry", "operator": "equals", "value": "Retail"}. Fields: a model field
("email", "amount"), through foreign keys ("account.name", "owner.username", "stage.kind"),
custom fields ("custom.tier"), "tags". An empty group is true.
"""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model

OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of (comma separated)",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "changed": "changed",
    "changed_to": "changed to",
    "changed_from": "changed from",
}
NO_VALUE = {"is_empty", "is_not_empty", "changed"}
MAX_DEPTH = 4
MAX_ITEMS = 50

_MISSING = object()


def validate(conditions: Any, *, field: str = "conditions", depth: int = 0) -> dict:
    """The conditions normalised, or ValidationError naming the part that is wrong."""
    if conditions in (None, {}, []):
        return {}
    if not isinstance(conditions, dict):
        raise _error(field, "Conditions must be an object with op and items")
    op = conditions.get("op", "and")
    if op not in ("and", "or"):
        raise _error(f"{field}.op", "Use and / or")
    items = conditions.get("items", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise _error(f"{field}.items", f"A list of at most {MAX_ITEMS} conditions")
    if depth > MAX_DEPTH:
        raise _error(field, f"At most {MAX_DEPTH} nested groups")
    out = []
    for i, item in enumerate(items):
        where = f"{field}.items[{i}]"
        if isinstance(item, dict) and "items" in item:
            out.append(validate(item, field=where, depth=depth + 1))
            continue
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("field"), str)
            or not item["field"]
        ):
            raise _error(f"{where}.field", "Name the field to compare")
        operator = item.get("operator", "equals")
        if operator not in OPERATORS:
            raise _error(f"{where}.operator", f"Unknown operator {operator!r}")
        value = item.get("value", "")
        if operator not in NO_VALUE and value is None:
            value = ""
        if not isinstance(value, str | int | float | bool):
            raise _error(f"{where}.value", "A value is text, a number or true/false")
        out.append({"field": item["field"].strip(), "operator": operator, "value": value})
    return {"op": op, "items": out}


def _error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code="invalid_condition")]})


def resolve(record: Model | None, path: str) -> Any:
    """The value at `path` on the record (through FKs, custom values, tags); _MISSING when a
    link on the way is empty or the name unknown."""
    if record is None:
        return _MISSING
    obj: Any = record
    parts = path.split(".")
    for i, part in enumerate(parts):
        if obj is None:
            return None
        if part == "custom" and isinstance(getattr(obj, "custom", None), dict):
            rest = ".".join(parts[i + 1 :])
            return obj.custom.get(rest)
        if part == "tags" and hasattr(obj, "tags"):
            return sorted(t.name for t in obj.tags.all())
        if isinstance(obj, dict):
            obj = obj.get(part, _MISSING)
            if obj is _MISSING:
                return _MISSING
            continue
        try:
            obj = getattr(obj, part)
        except (AttributeError, Model.DoesNotExist):
            return _MISSING
    if isinstance(obj, Model):
        return obj.pk
    return obj


def _coerce(expected: Any, actual: Any) -> Any:
    """The rule's value (usually text from a form) in the type of the record's value."""
    if actual is None or expected is None:
        return expected
    try:
        if isinstance(actual, bool):
            return str(expected).strip().lower() in ("1", "true", "yes", "on")
        if isinstance(actual, int | float | Decimal):
            return Decimal(str(expected))
        if isinstance(actual, datetime.datetime):
            return datetime.datetime.fromisoformat(str(expected))
        if isinstance(actual, datetime.date):
            return datetime.date.fromisoformat(str(expected)[:10])
    except (ValueError, InvalidOperation):
        return expected
    return expected


def _norm(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, str):
        return value.strip().casefold()
    return value


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    if operator == "is_empty":
        return actual in (None, "", [], {}, _MISSING)
    if operator == "is_not_empty":
        return actual not in (None, "", [], {}, _MISSING)
    if actual is _MISSING:
        return False
    if isinstance(actual, list):  # tags
        names = {_norm(v) for v in actual}
        wanted = _norm(str(expected))
        if operator in ("contains", "equals"):
            return wanted in names
        if operator in ("not_contains", "not_equals"):
            return wanted not in names
        return False
    a, e = _norm(actual), _norm(_coerce(expected, actual))
    try:
        if operator == "equals":
            return a == e or str(a) == str(e)
        if operator == "not_equals":
            return not (a == e or str(a) == str(e))
        if operator == "contains":
            return str(e) in str(a or "").casefold()
        if operator == "not_contains":
            return str(e) not in str(a or "").casefold()
        if operator == "starts_with":
            return str(a or "").casefold().startswith(str(e))
        if operator == "in":
            options = {_norm(v) for v in str(expected).split(",")}
            return a in options or str(a) in {str(o) for o in options}
        if a is None or e is None:
            return False
        if operator == "gt":
            return a > e
        if operator == "gte":
            return a >= e
        if operator == "lt":
            return a < e
        if operator == "lte":
            return a <= e
    except TypeError:
        return False
    return False


def _change_of(changes: dict, path: str) -> dict | None:
    if path in changes:
        return changes[path]
    if path.endswith("_id") is False and f"{path}_id" in changes:
        return changes[f"{path}_id"]
    if path.startswith("custom.") and "custom" in changes:
        key = path.split(".", 1)[1]
        old = (changes["custom"].get("old") or {}).get(key)
        new = (changes["custom"].get("new") or {}).get(key)
        return {"old": old, "new": new} if old != new else None
    return None


def _changed(operator: str, changes: dict, path: str, expected: Any) -> bool:
    change = _change_of(changes, path)
    if change is None:
        return False
    if operator == "changed":
        return True
    side = change.get("new") if operator == "changed_to" else change.get("old")
    if isinstance(side, list):
        return _compare("contains", side, expected)
    return _compare("equals", side, expected)


def evaluate(conditions: dict | None, *, record: Model | None, event: dict | None = None) -> bool:
    """Whether the record (and the triggering event's changes) satisfy the conditions."""
    if not conditions or not conditions.get("items"):
        return True
    changes = ((event or {}).get("payload") or {}).get("changes") or {}
    results = []
    for item in conditions["items"]:
        if "items" in item:
            results.append(evaluate(item, record=record, event=event))
            continue
        operator = item["operator"]
        if operator.startswith("changed"):
            results.append(_changed(operator, changes, item["field"], item.get("value")))
        else:
            results.append(_compare(operator, resolve(record, item["field"]), item.get("value")))
    return all(results) if conditions.get("op", "and") == "and" else any(results)

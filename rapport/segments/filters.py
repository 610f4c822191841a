"""The segment filter language: validation, the field catalogue, and compilation to ONE query.

Shape (the same as automation conditions): {"op": "and" | "or", "items": [condition | group]};
a condition is {"field": "account.industry", "operator": "equals", "value": "Retail"}; groups
nest up to MAX_DEPTH. An empty group matches every contact.

`compile_filter(tree)` gives a Q over `Contact` made of joins, `Exists` and scalar
`Subquery`s, so counting or listing a segment is one SQL statement on either backend, never
a Python loop. `topics(tree)` says what the filter reads, so a write re-evaluates only the
segments that can depend on it.

A contact's orders are its own orders and its account's orders that name no contact;
cancelled and refunded orders do not count. Analytics scores are the contact's own (a
contact who buys without an account) or else its account's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    DecimalField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

from rapport.segments.models import LifecycleStage

MAX_DEPTH = 4
MAX_ITEMS = 50
MAX_DAYS = 36_500

OPERATORS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "in": "is one of",
    "gt": "is more than / after",
    "gte": "is at least / on or after",
    "lt": "is less than / before",
    "lte": "is at most / on or before",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "within_days": "in the last N days",
    "not_within_days": "not in the last N days",
}
NO_VALUE = {"is_empty", "is_not_empty"}

TYPE_OPERATORS = {
    "text": [
        "equals",
        "not_equals",
        "contains",
        "not_contains",
        "starts_with",
        "in",
        "is_empty",
        "is_not_empty",
    ],
    "choice": ["equals", "not_equals", "in", "is_empty", "is_not_empty"],
    "number": ["equals", "not_equals", "gt", "gte", "lt", "lte", "is_empty", "is_not_empty"],
    "date": [
        "gt",
        "gte",
        "lt",
        "lte",
        "within_days",
        "not_within_days",
        "is_empty",
        "is_not_empty",
    ],
    "tags": ["equals", "not_equals", "is_empty", "is_not_empty"],
    "product": ["equals", "not_equals"],
    "activity": ["within_days", "not_within_days", "is_not_empty", "is_empty"],
    "aggregate": ["equals", "not_equals", "gt", "gte", "lt", "lte"],
}

# Topics: what a write can change (see membership.topics_of_events).
CONTACT, ACCOUNT, ORDERS, ACTIVITIES, SCORES, LIFECYCLE = (
    "contact",
    "account",
    "orders",
    "activities",
    "scores",
    "lifecycle",
)

COUNTED = ("placed", "paid", "shipped")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    group: str
    type: str
    topic: str
    path: str = ""  # ORM path for plain fields
    choices: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _text(key, label, group, topic, path):
    return FieldSpec(key, label, group, "text", topic, path)


def _static_fields() -> list[FieldSpec]:
    from rapport.accounts.models import CompanySize
    from rapport.activities.models import ActivityKind
    from rapport.analytics.numeric.rfm import SEGMENT_RULES

    contact = [
        _text("first_name", "First name", "Contact", CONTACT, "first_name"),
        _text("last_name", "Last name", "Contact", CONTACT, "last_name"),
        _text("title", "Job title", "Contact", CONTACT, "title"),
        _text("email", "Email", "Contact", CONTACT, "email"),
        _text("phone", "Phone", "Contact", CONTACT, "phone"),
        _text("city", "City", "Contact", CONTACT, "city"),
        _text("region", "Region", "Contact", CONTACT, "region"),
        _text("postal_code", "Postal code", "Contact", CONTACT, "postal_code"),
        _text("country", "Country (ISO code)", "Contact", CONTACT, "country"),
        FieldSpec("owner", "Owner (user id)", "Contact", "number", CONTACT, "owner_id"),
        FieldSpec("team", "Team (team id)", "Contact", "number", CONTACT, "team_id"),
        FieldSpec("created_at", "Created", "Contact", "date", CONTACT, "created_at"),
        FieldSpec("tags", "Tags", "Contact", "tags", CONTACT, "tags__name"),
    ]
    account = [
        _text("account.name", "Account name", "Account", ACCOUNT, "account__name"),
        _text("account.industry", "Industry", "Account", ACCOUNT, "account__industry"),
        FieldSpec(
            "account.size",
            "Company size",
            "Account",
            "choice",
            ACCOUNT,
            "account__size",
            tuple(CompanySize.choices),
        ),
        _text("account.city", "Account city", "Account", ACCOUNT, "account__city"),
        _text("account.country", "Account country", "Account", ACCOUNT, "account__country"),
        _text("account.domain", "Account domain", "Account", ACCOUNT, "account__domain"),
        FieldSpec(
            "account.annual_revenue",
            "Annual revenue",
            "Account",
            "number",
            ACCOUNT,
            "account__annual_revenue",
        ),
        FieldSpec(
            "account.tags", "Account tags", "Account", "tags", ACCOUNT, "account__tags__name"
        ),
    ]
    orders = [
        FieldSpec("orders.product", "Bought product (id)", "Orders", "product", ORDERS),
        FieldSpec("orders.total_spend", "Total spend", "Orders", "aggregate", ORDERS),
        FieldSpec("orders.count", "Number of orders", "Orders", "aggregate", ORDERS),
        FieldSpec("orders.ordered_at", "An order placed", "Orders", "date", ORDERS),
    ]
    activities = [
        FieldSpec("activity.any", "Any activity", "Activities", "activity", ACTIVITIES)
    ] + [
        FieldSpec(f"activity.{value}", f"{label} activity", "Activities", "activity", ACTIVITIES)
        for value, label in ActivityKind.choices
    ]
    scores = [
        FieldSpec(
            "score.segment",
            "RFM segment",
            "Analytics",
            "choice",
            SCORES,
            choices=tuple((r.segment, r.segment.capitalize()) for r in SEGMENT_RULES),
        ),
        FieldSpec("score.clv", "Customer lifetime value", "Analytics", "number", SCORES),
        FieldSpec("score.churn_risk", "Churn risk (0–1)", "Analytics", "number", SCORES),
        FieldSpec(
            "lifecycle",
            "Lifecycle stage",
            "Lifecycle",
            "choice",
            LIFECYCLE,
            choices=tuple(LifecycleStage.choices),
        ),
    ]
    return contact + account + orders + activities + scores


def _custom_fields() -> list[FieldSpec]:
    from rapport.records.models import CustomFieldDefinition, FieldType

    out = []
    kinds = {
        FieldType.NUMBER: "number",
        FieldType.MONEY: "number",
        FieldType.DATE: "date",
        FieldType.CHOICE: "choice",
        FieldType.MULTI_CHOICE: "tags",
        FieldType.BOOLEAN: "choice",
    }
    for d in CustomFieldDefinition.objects.filter(object_type__in=("contact", "account")):
        prefix = "" if d.object_type == "contact" else "account."
        orm = "custom__" if d.object_type == "contact" else "account__custom__"
        kind = kinds.get(d.field_type, "text")
        choices = tuple((str(c), str(c)) for c in d.choices or ())
        if d.field_type == FieldType.BOOLEAN:
            choices = (("true", "Yes"), ("false", "No"))
        out.append(
            FieldSpec(
                f"{prefix}custom.{d.key}",
                d.label,
                "Contact custom fields" if not prefix else "Account custom fields",
                kind,
                CONTACT if not prefix else ACCOUNT,
                f"{orm}{d.key}",
                choices,
            )
        )
    return out


def field_catalogue() -> dict[str, FieldSpec]:
    """Every field a filter may use, by key (custom fields read from their definitions)."""
    return {f.key: f for f in _static_fields() + _custom_fields()}


# ----- validation ----------------------------------------------------------------------


def _error(where: str, message: str) -> ValidationError:
    return ValidationError({where: [ValidationError(message, code="invalid_filter")]})


def _parse_value(spec: FieldSpec, operator: str, value: Any, where: str) -> Any:
    if operator in NO_VALUE:
        return None
    if operator in ("within_days", "not_within_days"):
        try:
            days = int(str(value).strip())
        except ValueError:
            raise _error(where, "Give a number of days")
        if not 0 < days <= MAX_DAYS:
            raise _error(where, f"Days between 1 and {MAX_DAYS}")
        return days
    if operator == "in":
        items = [v.strip() for v in str(value).split(",") if v.strip()]
        if not items:
            raise _error(where, "Give one or more values, separated by commas")
        for item in items:
            _check_choice(spec, item, where)
        return items
    if spec.type in ("number", "aggregate") or spec.type == "product":
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise _error(where, "Give a number")
        if not number.is_finite():
            raise _error(where, "Give a finite number")
        if spec.type == "product" or spec.key in ("owner", "team", "orders.count"):
            if number != number.to_integral_value():
                raise _error(where, "Give a whole number")
            return int(number)
        return number
    if spec.type == "date":
        try:
            return datetime.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise _error(where, "Give a date as YYYY-MM-DD")
    text = str(value).strip()
    if not text:
        raise _error(where, "Give a value")
    if len(text) > 200:
        raise _error(where, "At most 200 characters")
    _check_choice(spec, text, where)
    return text


def _check_choice(spec: FieldSpec, value: str, where: str) -> None:
    if spec.type == "choice" and spec.choices and value not in {c for c, _ in spec.choices}:
        raise _error(where, "Choose one of: " + ", ".join(c for c, _ in spec.choices))


def validate(tree: Any, *, where: str = "filter", depth: int = 0, catalogue=None) -> dict:
    """The filter normalised (values as text/numbers), or ValidationError naming the part."""
    catalogue = catalogue if catalogue is not None else field_catalogue()
    if tree in (None, {}, []):
        return {"op": "and", "items": []}
    if not isinstance(tree, dict):
        raise _error(where, "A filter is an object with op and items")
    if depth > MAX_DEPTH:
        raise _error(where, f"At most {MAX_DEPTH} nested groups")
    op = tree.get("op", "and")
    if op not in ("and", "or"):
        raise _error(f"{where}.op", "Use and / or")
    items = tree.get("items", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise _error(f"{where}.items", f"A list of at most {MAX_ITEMS} conditions")
    out: list[dict] = []
    for i, item in enumerate(items):
        here = f"{where}.items[{i}]"
        if isinstance(item, dict) and "items" in item:
            out.append(validate(item, where=here, depth=depth + 1, catalogue=catalogue))
            continue
        if not isinstance(item, dict):
            raise _error(here, "A condition is an object with field, operator and value")
        spec = catalogue.get(str(item.get("field", "")).strip())
        if spec is None:
            raise _error(f"{here}.field", f"Unknown field {item.get('field')!r}")
        operator = item.get("operator", "equals")
        if operator not in TYPE_OPERATORS[spec.type]:
            raise _error(f"{here}.operator", f"“{spec.label}” cannot use {operator!r}")
        value = item.get("value", "")
        if value is not None and not isinstance(value, str | int | float):
            raise _error(f"{here}.value", "A value is text or a number")
        _parse_value(spec, operator, value, f"{here}.value")
        out.append(
            {
                "field": spec.key,
                "operator": operator,
                "value": "" if operator in NO_VALUE or value is None else value,
            }
        )
    return {"op": op, "items": out}


def topics(tree: dict) -> set[str]:
    """What the filter reads ("contact", "account", "orders", …)."""
    catalogue = field_catalogue()
    found: set[str] = set()

    def walk(node):
        for item in node.get("items", []):
            if "items" in item:
                walk(item)
            elif item.get("field") in catalogue:
                found.add(catalogue[item["field"]].topic)

    walk(tree or {})
    return found


# ----- compilation ---------------------------------------------------------------------


def orders_of(kind: str):
    """Orders of the outer contact: its own ("own") or its account's without a contact."""
    from rapport.orders.models import Order

    counted = Order.objects.filter(status__in=COUNTED).order_by()
    if kind == "own":
        return counted.filter(contact_id=OuterRef("pk"))
    return counted.filter(contact__isnull=True, account_id=OuterRef("account_id"))


def _order_lines(kind: str):
    from rapport.orders.models import OrderLine

    lines = OrderLine.objects.filter(order__status__in=COUNTED).order_by()
    if kind == "own":
        return lines.filter(order__contact_id=OuterRef("pk"))
    return lines.filter(order__contact__isnull=True, order__account_id=OuterRef("account_id"))


def order_aggregate(function: str, column: str, output) -> Any:
    """The sum / count over the contact's orders as a scalar (0 without orders)."""
    parts = []
    for kind in ("own", "account"):
        sub = orders_of(kind).annotate(v=Func(F(column), function=function)).values("v")
        parts.append(Coalesce(Subquery(sub, output_field=output), Value(0), output_field=output))
    return parts[0] + parts[1]


def _any_order(**filters) -> Q:
    return Q(Exists(orders_of("own").filter(**filters))) | Q(
        Exists(orders_of("account").filter(**filters))
    )


def _compare(expr, operator: str, value) -> Q:
    lookup = {
        "equals": Exact,
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "lte": LessThanOrEqual,
    }
    if operator == "not_equals":
        return ~Q(Exact(expr, value))
    if operator == "in":
        return Q(In(expr, value))
    if operator == "is_empty":
        return Q(IsNull(expr, True))
    if operator == "is_not_empty":
        return Q(IsNull(expr, False))
    return Q(lookup[operator](expr, value))


def _since(days: int, now) -> datetime.datetime:
    return now - datetime.timedelta(days=days)


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _path_q(spec: FieldSpec, operator: str, value, now) -> Q:
    path = spec.path
    is_custom = "custom__" in path
    if spec.type == "tags" and is_custom:  # a multiple-choice custom field: a JSON array
        if operator in ("equals", "not_equals"):
            q = Q(**{f"{path}__icontains": f'"{value}"'})
            return q if operator == "equals" else ~q
        q = Q(**{f"{path}__isnull": False}) & ~Q(**{path: []})
        return ~q if operator == "is_empty" else q
    if spec.type == "tags":
        # Exists over the tag table, not a join: no duplicate rows under OR groups.
        from rapport.accounts.models import Account, Contact

        if path.startswith("account__"):
            links = Account.tags.through.objects.filter(account_id=OuterRef("account_id"))
        else:
            links = Contact.tags.through.objects.filter(contact_id=OuterRef("pk"))
        if operator in ("equals", "not_equals"):
            q = Q(Exists(links.filter(tag__name__iexact=value)))
            return q if operator == "equals" else ~q
        q = Q(Exists(links))
        return ~q if operator == "is_empty" else q
    if spec.type == "date":
        if operator in ("within_days", "not_within_days"):
            q = Q(**{f"{path}__gte": _since(value, now)})
            return q if operator == "within_days" else ~q
        if operator in NO_VALUE:
            q = Q(**{f"{path}__isnull": True})
            return q if operator == "is_empty" else ~q
        if is_custom:  # ISO dates compare as text
            return Q(**{f"{path}__{operator}": value.isoformat()})
        bound = _start_of(value + datetime.timedelta(days=1 if operator in ("gt", "lte") else 0))
        return Q(**{f"{path}__{'gte' if operator in ('gt', 'gte') else 'lt'}": bound})
    if operator in NO_VALUE:
        empty = Q(**{f"{path}__isnull": True})
        if spec.type in ("text", "choice") and not is_custom or is_custom:
            empty |= Q(**{path: ""})
        return empty if operator == "is_empty" else ~empty
    if spec.type in ("number",):
        number = float(value) if is_custom else value
        if operator == "not_equals":
            return ~Q(**{path: number})
        lookup = "" if operator == "equals" else f"__{operator}"
        return Q(**{f"{path}{lookup}": number})
    if is_custom and spec.choices == (("true", "Yes"), ("false", "No")):
        values = [v == "true" for v in (value if operator == "in" else [value])]
        q = Q(**{f"{path}__in": values}) if len(values) > 1 else Q(**{path: values[0]})
        return ~q if operator == "not_equals" else q
    if operator == "in":
        q = Q()
        for item in value:
            q |= Q(**{f"{path}__iexact": item})
        return q
    suffix = {
        "equals": "iexact",
        "not_equals": "iexact",
        "contains": "icontains",
        "not_contains": "icontains",
        "starts_with": "istartswith",
    }[operator]
    q = Q(**{f"{path}__{suffix}": value})
    return ~q if operator.startswith("not_") else q


def score_of(name: str, output):
    return Coalesce(
        F(f"customer_score__{name}"), F(f"account__customer_score__{name}"), output_field=output
    )


def _condition(spec: FieldSpec, operator: str, value, now) -> Q:
    from rapport.activities.models import Activity

    key = spec.key
    if spec.path:
        return _path_q(spec, operator, value, now)
    if key == "orders.product":
        q = Q(Exists(_order_lines("own").filter(product_id=value))) | Q(
            Exists(_order_lines("account").filter(product_id=value))
        )
        return q if operator == "equals" else ~q
    if key == "orders.total_spend":
        money = DecimalField(max_digits=18, decimal_places=2)
        return _compare(order_aggregate("SUM", "total", money), operator, value)
    if key == "orders.count":
        return _compare(order_aggregate("COUNT", "id", IntegerField()), operator, value)
    if key == "orders.ordered_at":
        if operator in NO_VALUE:
            q = _any_order()
            return ~q if operator == "is_empty" else q
        if operator in ("within_days", "not_within_days"):
            q = _any_order(ordered_at__gte=_since(value, now))
            return q if operator == "within_days" else ~q
        if operator in ("gt", "gte"):
            bound = _start_of(value + datetime.timedelta(days=1 if operator == "gt" else 0))
            return _any_order(ordered_at__gte=bound)
        bound = _start_of(value + datetime.timedelta(days=1 if operator == "lte" else 0))
        return _any_order(ordered_at__lt=bound)
    if key.startswith("activity."):
        kind = key.split(".", 1)[1]
        acts = Activity.objects.filter(contact_id=OuterRef("pk")).order_by()
        if kind != "any":
            acts = acts.filter(kind=kind)
        if operator in ("within_days", "not_within_days"):
            q = Q(Exists(acts.filter(occurred_at__gte=_since(value, now))))
            return q if operator == "within_days" else ~q
        q = Q(Exists(acts))
        return q if operator == "is_not_empty" else ~q
    if key == "score.segment":
        expr = Coalesce(
            F("customer_score__segment"), F("account__customer_score__segment"), Value("")
        )
        if operator in NO_VALUE:
            q = Q(Exact(expr, ""))
            return q if operator == "is_empty" else ~q
        return _compare(expr, operator, value)
    if key in ("score.clv", "score.churn_risk"):
        output = (
            DecimalField(max_digits=16, decimal_places=2) if key == "score.clv" else FloatField()
        )
        expr = score_of(key.split(".", 1)[1], output)
        if key == "score.churn_risk" and operator not in NO_VALUE:
            value = float(value)
        return _compare(expr, operator, value)
    if key == "lifecycle":
        expr = Coalesce(F("lifecycle__stage"), Value(LifecycleStage.PROSPECT))
        if operator in NO_VALUE:  # every contact has a stage (prospect by default)
            return Q(pk__isnull=True) if operator == "is_empty" else Q()
        return _compare(expr, operator, value)
    raise ValueError(f"no compiler for {key}")


def _cost_rank(spec: FieldSpec) -> int:
    """How dear a condition is per contact: 0 a column of the row or a join, 1 an EXISTS
    probe, 2 an aggregate over related rows."""
    if spec.type == "aggregate":
        return 2
    if spec.topic in (ORDERS, ACTIVITIES) or spec.type == "tags":
        return 1
    return 0


def compile_filter(tree: dict, *, now: datetime.datetime | None = None) -> Q:
    """The validated filter as one Q over Contact (joins, Exists and scalar subqueries)."""
    now = now or timezone.now()
    catalogue = field_catalogue()

    def walk(node, where: str) -> Q:
        ranked = []
        for i, item in enumerate(node.get("items", [])):
            here = f"{where}.items[{i}]"
            if "items" in item:
                ranked.append((1, walk(item, here)))
                continue
            spec = catalogue.get(item["field"])
            if spec is None:  # a custom field deleted since: matches nobody
                ranked.append((0, Q(pk__isnull=True)))
                continue
            value = _parse_value(spec, item["operator"], item.get("value"), f"{here}.value")
            ranked.append((_cost_rank(spec), _condition(spec, item["operator"], value, now)))
        if not ranked:
            return Q()
        if node.get("op", "and") == "and":
            # Same result in any order; SQLite tests the terms of a WHERE in the order
            # written, so the row's own columns first, then EXISTS probes, then the
            # aggregates (a SUM per row is the dearest test; at 1M contacts it ran for the
            # 100k rows of a city instead of the few hundred that pass the others).
            ranked.sort(key=lambda pair: pair[0])
        parts = [q for _rank, q in ranked]
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined & part) if node.get("op", "and") == "and" else (combined | part)
        return combined

    return walk(tree or {}, "filter")

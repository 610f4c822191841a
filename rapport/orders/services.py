"""Writes for orders: single orders and the idempotent bulk import.

The total is always the sum of the lines, never a client's number. Every new order writes
an ORDER_PLACED event (at the order's time) on its account's and contact's timelines.
Deleting is a hard delete (mistakes, test imports); a cancelled order keeps its row with
status=cancelled, which is what analytics should see for a real cancellation.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError as SchemaError

from rapport.accounts.models import Account, Contact
from rapport.assets.services import assets_for_order, assets_for_orders
from rapport.identity.models import User
from rapport.orders.models import Order, OrderLine
from rapport.orders.schemas import OrderBulkRow
from rapport.orders.selectors import ORDER_PARENTS, order_parents_editable
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion, field_path
from rapport.records.external_ids import own_external_ids
from rapport.records.iso_codes import validate_currency
from rapport.records.services import versioned_update
from rapport.records.visibility import editable, visible, visible_through_parents
from rapport.sales.models import Product
from rapport.timeline.hooks import as_columns, events_written
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.services import timeline_record

MAX_BULK = 500
CENT = Decimal("0.01")
MAX_TOTAL = Decimal("1e14")  # Order.total is a DecimalField(max_digits=16, decimal_places=2)
# Perfect order (the Seven R's): promised/shipped/delivered dates and the paperwork flag.
DELIVERY_FIELDS = ("promised_date", "shipped_date", "delivered_date", "documentation_complete")
ORDER_FIELDS = (
    "external_id",
    "source",
    "ordered_at",
    "channel",
    "status",
    "currency",
    *DELIVERY_FIELDS,
)
PATCHABLE = ("ordered_at", "channel", "status", "lines", *DELIVERY_FIELDS)
LINE_DELIVERY = ("quantity_delivered", "quantity_damaged", "quantity_returned")
NULLABLE = ("promised_date", "shipped_date", "delivered_date")
_BULK_RETRIES = 3


def _error(field: str | None, detail: str, code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code, "field": field}


def _raise(errors: list[dict[str, Any]]) -> None:
    by_field: dict[str, list[ValidationError]] = {}
    for e in errors:
        by_field.setdefault(e["field"] or "__all__", []).append(
            ValidationError(e["detail"], code=e["code"])
        )
    raise ValidationError(by_field)


def _require_writer(actor: User) -> None:
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot create or change orders", code="read_only")


def _aware(value: datetime.datetime) -> datetime.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _product_names(lines: list[dict[str, Any]]) -> dict[int, str]:
    ids = {line["product_id"] for line in lines if line.get("product_id") is not None}
    if not ids:
        return {}
    return dict(Product.objects.filter(pk__in=ids).values_list("pk", "name"))


def _lines_check(
    lines: list[dict[str, Any]], products: dict[int, str]
) -> tuple[list[dict[str, Any]], Decimal, list[dict[str, Any]]]:
    """Clean lines, their total and the errors (field `lines[<i>].<name>`)."""
    clean, errors, total = [], [], Decimal("0")
    if not lines:
        errors.append(_error("lines", "An order needs at least one line", "lines_required"))
    for i, line in enumerate(lines):
        product_id = line.get("product_id")
        # Stored with cents: round first, so the total is the sum of the stored lines.
        quantity = Decimal(line.get("quantity", 1)).quantize(CENT, ROUND_HALF_UP)
        unit_price = Decimal(line["unit_price"]).quantize(CENT, ROUND_HALF_UP)
        if product_id is not None and product_id not in products:
            errors.append(_error(f"lines[{i}].product_id", "No such product", "invalid_product"))
        if quantity <= 0:
            errors.append(
                _error(f"lines[{i}].quantity", "Must be greater than 0", "invalid_quantity")
            )
        if unit_price < 0:
            errors.append(_error(f"lines[{i}].unit_price", "Must not be negative", "invalid_price"))
        description = line.get("description") or products.get(product_id, "")
        delivery = {}
        for name in LINE_DELIVERY:
            value = line.get(name)
            if value is None:
                delivery[name] = None if name == "quantity_delivered" else Decimal("0")
                continue
            value = Decimal(value).quantize(CENT, ROUND_HALF_UP)
            if value < 0:
                errors.append(_error(f"lines[{i}].{name}", "Must not be negative", "invalid"))
            delivery[name] = value
        clean.append(
            {
                "product_id": product_id,
                "description": description[:200],
                "quantity": quantity,
                "unit_price": unit_price,
                **delivery,
            }
        )
        total += (quantity * unit_price).quantize(CENT)
    if total >= MAX_TOTAL:
        errors.append(_error("lines", "The order total is too large", "total_too_large"))
    return clean, total, errors


def _customer_errors(
    *, account_id: int | None, contact_id: int | None, contact_account_id: int | None
) -> list[dict[str, Any]]:
    if not account_id and not contact_id:
        return [_error("account_id", "An order needs an account or a contact", "customer_required")]
    if account_id and contact_id and contact_account_id != account_id:
        return [
            _error("contact_id", "The contact does not belong to this account", "contact_mismatch")
        ]
    return []


def _line_json(line: dict[str, Any]) -> dict[str, Any]:
    out = {
        "product_id": line["product_id"],
        "description": line["description"],
        "quantity": str(line["quantity"]),
        "unit_price": str(line["unit_price"]),
    }
    for name in LINE_DELIVERY:
        value = line.get(name)
        out[name] = None if value is None else str(value)
    return out


def _line_key(line: dict[str, Any]) -> tuple:
    return (
        line["product_id"],
        line["description"],
        line["quantity"],
        line["unit_price"],
        *(line.get(name) for name in LINE_DELIVERY),
    )


def _label(order: Order) -> str:
    return f"Order {order.external_id}" if order.external_id else f"Order #{order.pk}"


def _placed_event(order: Order, actor: User, contact_account_id: int | None) -> TimelineEvent:
    """The ORDER_PLACED event (unsaved): on the account's timeline, or the contact's account's
    for a contact-only order, and on the contact's."""
    return TimelineEvent(
        kind=EventKind.ORDER_PLACED,
        actor=actor,
        occurred_at=order.ordered_at,
        summary=f"{_label(order)} placed: {order.total} {order.currency}",
        payload={
            "order": order.pk,
            "external_id": order.external_id,
            "total": str(order.total),
            "currency": order.currency,
            "channel": order.channel,
            "status": order.status,
        },
        account_id=order.account_id or contact_account_id,
        contact_id=order.contact_id,
        order_id=order.pk,
    )


def _order_clean(order: Order) -> None:
    order.clean_fields(exclude=["account", "contact", "created_by", "total"])


def order_create(
    *,
    actor: User,
    fields: dict[str, Any],
    lines: list[dict[str, Any]],
    account: Account | None = None,
    contact: Contact | None = None,
) -> Order:
    """Create an order (total = sum of lines) for a customer the actor may change, with its
    ORDER_PLACED event. The caller has checked that account and contact are visible."""
    _require_writer(actor)
    errors = _customer_errors(
        account_id=account.pk if account else None,
        contact_id=contact.pk if contact else None,
        contact_account_id=contact.account_id if contact else None,
    )
    if errors:
        _raise(errors)
    if not order_parents_editable(
        user=actor,
        account_id=account.pk if account else None,
        contact_id=contact.pk if contact else None,
    ):
        raise PermissionDenied("You may not add orders to this customer")
    clean, total, errors = _lines_check(lines, _product_names(lines))
    if errors:
        _raise(errors)
    values = {k: fields[k] for k in ORDER_FIELDS if fields.get(k) is not None}
    values["ordered_at"] = _aware(values["ordered_at"])
    values["currency"] = (
        values.get("currency") or (account.currency if account else "") or "EUR"
    ).upper()
    order = Order(account=account, contact=contact, total=total, created_by=actor, **values)
    _order_clean(order)
    with transaction.atomic():
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError:
            # Only the actor's own orders share the key (created_by, source, external_id).
            raise Conflict(
                "You already sent an order with this external_id",
                code="duplicate",
                field="external_id",
            )
        OrderLine.objects.bulk_create([OrderLine(order=order, **line) for line in clean])
        placed = _placed_event(order, actor, contact.account_id if contact else None)
        placed.save()
        events_written([as_columns(placed)])
        # Installed base: one asset per unit of a tracked product, with the order.
        assets_for_order(order, actor=actor)
    return order


def _require_order_editable(order: Order, actor: User) -> None:
    _require_writer(actor)
    if not order_parents_editable(
        user=actor, account_id=order.account_id, contact_id=order.contact_id
    ):
        raise PermissionDenied("You may not change this customer's orders")


def order_update(
    *,
    order: Order,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Versioned change of ordered_at, channel, status and lines (replaced as a whole, total
    recomputed); one UPDATED event on the customer's timelines. Returns the diff."""
    _require_order_editable(order, actor)
    if expected_version is not None and order.version != expected_version:
        raise StaleVersion(order.version)
    unknown = set(fields) - set(PATCHABLE)
    if unknown:
        raise ValueError(f"order_update cannot change {', '.join(sorted(unknown))}")
    nulls = [
        _error(k, "This field cannot be null", "null")
        for k, v in fields.items()
        if v is None and k not in NULLABLE
    ]
    if nulls:
        _raise(nulls)
    changes = {
        k: fields[k] for k in ("channel", "status", "ordered_at", *DELIVERY_FIELDS) if k in fields
    }
    if "ordered_at" in changes:
        changes["ordered_at"] = _aware(changes["ordered_at"])
    new_lines = old_lines = None
    if "lines" in fields:
        clean, total, errors = _lines_check(fields["lines"], _product_names(fields["lines"]))
        if errors:
            _raise(errors)
        old_lines = [
            {
                f: getattr(line, f)
                for f in ("product_id", "description", "quantity", "unit_price", *LINE_DELIVERY)
            }
            for line in order.lines.all()
        ]
        if [_line_key(x) for x in old_lines] != [_line_key(x) for x in clean]:
            new_lines = clean
            changes["total"] = total
            # Lines live in their own table: touching updated_at makes the version move
            # even when the total stays the same.
            changes["updated_at"] = timezone.now()
    probe = Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields})
    for name, value in changes.items():
        setattr(probe, name, value)
    _order_clean(probe)
    with transaction.atomic():
        diff = versioned_update(instance=order, changes=changes, expected_version=order.version)
        diff.pop("updated_at", None)
        if new_lines is not None:
            order.lines.all().delete()
            OrderLine.objects.bulk_create([OrderLine(order=order, **line) for line in new_lines])
            diff["lines"] = {
                "old": [_line_json(x) for x in old_lines],
                "new": [_line_json(x) for x in new_lines],
            }
        if diff:
            contact_account_id = order.contact.account_id if order.contact_id else None
            timeline_record(
                kind=EventKind.UPDATED,
                actor=actor,
                summary=f"{_label(order)} changed: " + ", ".join(sorted(diff)),
                payload={"order": order.pk, "changes": diff},
                account_id=order.account_id or contact_account_id,
                contact_id=order.contact_id,
                order_id=order.pk,
            )
    return diff


def order_delete(*, order: Order, actor: User, expected_version: int | None = None) -> None:
    """Hard-delete the order and its lines. Its ORDER_PLACED event stays (the order link
    cleared) and a DELETED event on the customer's timelines says who removed it."""
    _require_order_editable(order, actor)
    version = order.version if expected_version is None else expected_version
    contact_account_id = order.contact.account_id if order.contact_id else None
    with transaction.atomic():
        deleted, _ = Order.objects.filter(pk=order.pk, version=version).delete()
        if not deleted:
            current = Order.objects.filter(pk=order.pk).values_list("version", flat=True)
            raise StaleVersion(next(iter(current), version))
        timeline_record(
            kind=EventKind.DELETED,
            actor=actor,
            summary=f"{_label(order)} deleted ({order.total} {order.currency})",
            payload={"order": order.pk, "external_id": order.external_id},
            account_id=order.account_id or contact_account_id,
            contact_id=order.contact_id,
        )


# ----- bulk import -----------------------------------------------------------------------


def _schema_errors(exc: SchemaError) -> list[dict[str, Any]]:
    return [_error(field_path(err["loc"]) or None, err["msg"], err["type"]) for err in exc.errors()]


def _result(
    index: int, external_id: str | None, status: str, pk: int | None = None, errors=None
) -> dict[str, Any]:
    return {
        "index": index,
        "external_id": external_id,
        "status": status,
        "id": pk,
        "errors": errors or [],
    }


def _parse_rows(rows: list[Any], results: list) -> dict[int, OrderBulkRow]:
    """Shape-validate every row; later repeats of an external_id in the batch are errors."""
    parsed: dict[int, OrderBulkRow] = {}
    first_index: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(rows):
        raw_ext = raw.get("external_id") if isinstance(raw, dict) else None
        external_id = raw_ext if isinstance(raw_ext, str) else None
        if not isinstance(raw, dict):
            error = _error(None, "Each order must be a JSON object", "invalid_row")
            results[i] = _result(i, None, "error", errors=[error])
            continue
        try:
            row = OrderBulkRow.model_validate(raw)
        except SchemaError as exc:
            results[i] = _result(i, external_id, "error", errors=_schema_errors(exc))
            continue
        if _key(row) in first_index:
            detail = f"Repeats the external_id of row {first_index[_key(row)]}"
            results[i] = _result(
                i, row.external_id, "error", errors=[_error("external_id", detail, "duplicate")]
            )
            continue
        first_index[_key(row)] = i
        parsed[i] = row
    return parsed


def _key(row) -> tuple[str, str]:
    """What makes an order unique: its external id within its source."""
    return (row.source or "", row.external_id)


def _existing_ids(actor: User, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The actor's own orders with these keys: external ids are their writer's key
    (rapport/records/external_ids.py), so another person's order is never matched."""
    return own_external_ids(Order, writer=actor, keys=keys)


class _Customers:
    """The batch's accounts and contacts the actor may see and change: a few queries in all."""

    def __init__(self, actor: User, rows: list[OrderBulkRow]):
        account_ids = {r.account_id for r in rows if r.account_id}
        contact_ids = {r.contact_id for r in rows if r.contact_id}
        self.account_currency: dict[int, str] = {}
        self.contact_account: dict[int, int | None] = {}
        self.editable_accounts: set[int] = set()
        self.editable_contacts: set[int] = set()
        if account_ids:
            accounts = Account.objects.filter(pk__in=account_ids)
            self.account_currency = dict(visible(accounts, actor).values_list("pk", "currency"))
            self.editable_accounts = set(editable(accounts, actor).values_list("pk", flat=True))
        if contact_ids:
            contacts = Contact.objects.filter(pk__in=contact_ids)
            self.contact_account = dict(visible(contacts, actor).values_list("pk", "account_id"))
            self.editable_contacts = set(editable(contacts, actor).values_list("pk", flat=True))

    def errors(self, row: OrderBulkRow) -> list[dict[str, Any]]:
        errors = []
        if row.account_id and row.account_id not in self.account_currency:
            errors.append(_error("account_id", "No such account", "invalid_account"))
        if row.contact_id and row.contact_id not in self.contact_account:
            errors.append(_error("contact_id", "No such contact", "invalid_contact"))
        if errors:
            return errors
        errors = _customer_errors(
            account_id=row.account_id,
            contact_id=row.contact_id,
            contact_account_id=self.contact_account.get(row.contact_id),
        )
        if errors:
            return errors
        if (
            row.account_id not in self.editable_accounts
            and row.contact_id not in self.editable_contacts
        ):
            field = "account_id" if row.account_id else "contact_id"
            return [_error(field, "You may not add orders to this customer", "forbidden")]
        return []


def orders_bulk_create(*, actor: User, rows: list[Any]) -> dict[str, Any]:
    """Create the valid orders of a batch (at most 500) in a constant number of queries.

    Policy: each row stands alone. A row whose external_id the actor sent before (external
    ids are their writer's key: another person's orders are never matched) is reported as
    "existing" (with its id while the actor may see it) and never created again, also when two
    identical batches race (the unique constraint decides, the loser looks again); an invalid
    row is reported with its errors; the valid rest is written, in one transaction.
    """
    _require_writer(actor)
    if not rows or len(rows) > MAX_BULK:
        _raise([_error("orders", f"Send 1 to {MAX_BULK} orders per request", "batch_size")])
    results: list[dict[str, Any] | None] = [None] * len(rows)
    parsed = _parse_rows(rows, results)
    existing = _existing_ids(actor, {_key(row) for row in parsed.values()})
    fresh = {i: row for i, row in parsed.items() if _key(row) not in existing}

    customers = _Customers(actor, list(fresh.values()))
    products = _product_names([line.model_dump() for r in fresh.values() for line in r.lines])
    candidates: dict[int, tuple[Order, list[dict[str, Any]]]] = {}
    for i, row in fresh.items():
        clean, total, line_errors = _lines_check([x.model_dump() for x in row.lines], products)
        errors = customers.errors(row) + line_errors
        if row.currency:
            try:
                validate_currency(row.currency.upper())
            except ValidationError as exc:
                errors.append(_error("currency", exc.messages[0], "invalid_currency"))
        if errors:
            results[i] = _result(i, row.external_id, "error", errors=errors)
            continue
        currency = row.currency or customers.account_currency.get(row.account_id) or "EUR"
        order = Order(
            external_id=row.external_id,
            source=row.source or "",
            account_id=row.account_id,
            contact_id=row.contact_id,
            ordered_at=_aware(row.ordered_at),
            channel=row.channel,
            status=row.status,
            currency=currency.upper(),
            total=total,
            created_by=actor,
            promised_date=row.promised_date,
            shipped_date=row.shipped_date,
            delivered_date=row.delivered_date,
            documentation_complete=bool(row.documentation_complete),
        )
        try:
            _order_clean(order)  # the model's own checks (the date range) as on create
        except ValidationError as exc:
            results[i] = _result(
                i,
                row.external_id,
                "error",
                errors=[
                    _error(field, " ".join(error.messages), error.code or "invalid")
                    for field, field_errors in exc.error_dict.items()
                    for error in field_errors
                ],
            )
            continue
        candidates[i] = (order, clean)

    with transaction.atomic():
        for _attempt in range(_BULK_RETRIES):
            try:
                with transaction.atomic():
                    Order.objects.bulk_create([order for order, _ in candidates.values()])
                break
            except IntegrityError:
                # Another request inserted some of these external ids after we looked.
                raced = _existing_ids(actor, {_key(order) for order, _ in candidates.values()})
                existing.update(raced)
                candidates = {
                    i: (order, lines)
                    for i, (order, lines) in candidates.items()
                    if _key(order) not in raced
                }
                for order, _ in candidates.values():
                    order.pk = None
                    order._state.adding = True
        else:
            raise Conflict("Concurrent imports of the same orders; send the batch again")
        OrderLine.objects.bulk_create(
            [
                OrderLine(order=order, **line)
                for order, lines in candidates.values()
                for line in lines
            ]
        )
        placed = TimelineEvent.objects.bulk_create(
            [
                _placed_event(order, actor, customers.contact_account.get(order.contact_id))
                for order, _ in candidates.values()
            ]
        )
        events_written([as_columns(e) for e in placed])
        assets_for_orders([order for order, _ in candidates.values()], actor=actor)

    seen_ids = set()
    if existing:
        seen_ids = set(
            visible_through_parents(
                Order.objects.filter(pk__in=existing.values()), actor, ORDER_PARENTS
            ).values_list("pk", flat=True)
        )
    for i, row in parsed.items():
        if i in candidates:
            results[i] = _result(i, row.external_id, "created", candidates[i][0].pk)
        elif _key(row) in existing:
            pk = existing[_key(row)]
            results[i] = _result(i, row.external_id, "existing", pk if pk in seen_ids else None)
    done = [r for r in results if r is not None]
    return {
        "created": sum(r["status"] == "created" for r in done),
        "existing": sum(r["status"] == "existing" for r in done),
        "failed": sum(r["status"] == "error" for r in done),
        "results": done,
    }

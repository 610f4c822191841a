"""Opportunity line items: every change recalculates the opportunity's amount."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from rapport.identity.models import User
from rapport.records.exceptions import StaleVersion
from rapport.records.services import require_editable, versioned_update
from rapport.sales.models import LineItem, Opportunity, Product
from rapport.sales.selectors import default_unit_price
from rapport.sales.services.guards import field_error, validate_fields, validated_probe
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

# Opportunity amounts are DECIMAL(16, 2).
MAX_AMOUNT = Decimal("1e14")


def _recalculate_amount(
    *, opportunity: Opportunity, actor: User, summary: str, line_item: dict[str, Any]
) -> None:
    """amount = sum of line totals, written with a version bump and an `updated` event.
    Call inside the line item's transaction."""
    # Re-read under a row lock: concurrent line-item edits must not lose each other's sum.
    current = (
        Opportunity.all_objects.select_for_update().only("version", "amount").get(pk=opportunity.pk)
    )
    opportunity.version, opportunity.amount = current.version, current.amount
    total = sum(
        (item.total for item in LineItem.objects.filter(opportunity_id=opportunity.pk)),
        Decimal("0.00"),
    )
    if abs(total) >= MAX_AMOUNT:
        raise field_error("quantity", "The opportunity's amount would be too large", "max_value")
    diff = versioned_update(
        instance=opportunity, changes={"amount": total, "updated_at": timezone.now()}
    )
    diff.pop("updated_at", None)
    timeline_record(
        subject=opportunity,
        kind=EventKind.UPDATED,
        actor=actor,
        summary=summary,
        payload={"changes": diff, "line_item": line_item},
    )


def _line_item_ref(item: LineItem, action: str) -> dict[str, Any]:
    return {
        "id": item.pk,
        "action": action,
        "product": item.product_id,
        "quantity": str(item.quantity),
        "unit_price": str(item.unit_price),
        "discount_percent": str(item.discount_percent),
    }


def _check_line_values(values: dict[str, Any]) -> None:
    quantity = values.get("quantity")
    if "quantity" in values and (quantity is None or quantity <= 0):
        raise field_error("quantity", "must be greater than 0", "min_value")
    price = values.get("unit_price")
    if "unit_price" in values and (price is None or price < 0):
        raise field_error("unit_price", "must not be negative", "min_value")
    discount = values.get("discount_percent")
    if "discount_percent" in values and (discount is None or not 0 <= discount <= 100):
        raise field_error("discount_percent", "must be from 0 to 100", "out_of_range")


def line_item_add(
    *,
    opportunity: Opportunity,
    actor: User,
    product: Product,
    quantity: Decimal = Decimal("1"),
    unit_price: Decimal | None = None,
    discount_percent: Decimal = Decimal("0"),
) -> LineItem:
    """Add an active product to an opportunity (unit price from the default price book, else
    the product's) and recalculate the opportunity's amount."""
    require_editable(opportunity, actor)
    if not product.is_active:
        raise field_error("product_id", "The product is no longer sold", "inactive_product")
    if unit_price is None:
        unit_price = default_unit_price(product)
    values = {"quantity": quantity, "unit_price": unit_price, "discount_percent": discount_percent}
    _check_line_values(values)
    with transaction.atomic():
        last = LineItem.objects.filter(opportunity=opportunity).aggregate(m=Max("position"))["m"]
        item = LineItem(
            opportunity=opportunity,
            product=product,
            position=(last or 0) + 1,
            **values,
        )
        validate_fields(item, list(values))
        item.save()
        _recalculate_amount(
            opportunity=opportunity,
            actor=actor,
            summary=f"Added {product.name} × {item.quantity.normalize():f}",
            line_item=_line_item_ref(item, "added"),
        )
    return item


def line_item_update(
    *,
    line_item: LineItem,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Versioned change of quantity, unit price, discount or position; recalculates the
    opportunity's amount."""
    opportunity = line_item.opportunity
    require_editable(opportunity, actor)
    if expected_version is not None and line_item.version != expected_version:
        raise StaleVersion(line_item.version)
    _check_line_values(fields)
    validated_probe(line_item, fields)
    with transaction.atomic():
        diff = versioned_update(
            instance=line_item, changes=fields, expected_version=expected_version
        )
        if diff:
            ref = _line_item_ref(line_item, "changed")
            ref["changes"] = diff
            _recalculate_amount(
                opportunity=opportunity,
                actor=actor,
                summary=f"Changed line item {line_item.product.name}",
                line_item=ref,
            )
    return diff


def line_item_delete(
    *, line_item: LineItem, actor: User, expected_version: int | None = None
) -> None:
    """Remove a line item and recalculate the opportunity's amount (0 once none is left)."""
    opportunity = line_item.opportunity
    require_editable(opportunity, actor)
    if expected_version is not None and line_item.version != expected_version:
        raise StaleVersion(line_item.version)
    with transaction.atomic():
        ref = _line_item_ref(line_item, "removed")
        deleted, _ = LineItem.objects.filter(pk=line_item.pk, version=line_item.version).delete()
        if not deleted:
            current = LineItem.objects.filter(pk=line_item.pk).values_list("version", flat=True)
            raise StaleVersion(next(iter(current), line_item.version))
        _recalculate_amount(
            opportunity=opportunity,
            actor=actor,
            summary=f"Removed {line_item.product.name}",
            line_item=ref,
        )

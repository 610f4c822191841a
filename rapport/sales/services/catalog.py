"""The product catalogue and price books: managers and admins write, everyone reads."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from rapport.identity.models import User
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.iso_codes import normalise_codes
from rapport.records.services import versioned_update
from rapport.sales.models import LineItem, PriceBook, PriceBookEntry, Product
from rapport.sales.services.guards import (
    clean_name,
    field_error,
    make_default,
    require_catalog_manager,
    unique_or_conflict,
    validate_fields,
    validated_probe,
)


def _catalog_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = normalise_codes(fields, currencies=("currency",))
    for key in ("sku", "name"):
        if isinstance(fields.get(key), str):
            fields[key] = fields[key].strip()
    return fields


def product_create(*, actor: User, fields: dict[str, Any]) -> Product:
    """Add a product to the catalogue (managers and admins); the SKU is unique."""
    require_catalog_manager(actor)
    fields = _catalog_fields(fields)
    product = Product(**fields)
    validate_fields(product, list(fields))
    with transaction.atomic():
        if Product.objects.filter(sku=product.sku).exists():
            raise Conflict(f"SKU {product.sku!r} exists", code="duplicate", field="sku")
        with unique_or_conflict(f"SKU {product.sku!r} exists", "sku"):
            product.save()
    return product


def product_update(
    *,
    product: Product,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Versioned partial update of a product (managers and admins)."""
    require_catalog_manager(actor)
    if expected_version is not None and product.version != expected_version:
        raise StaleVersion(product.version)
    fields = _catalog_fields(fields)
    validated_probe(product, fields)
    with transaction.atomic():
        clash = Product.objects.filter(sku=fields.get("sku")).exclude(pk=product.pk)
        if "sku" in fields and clash.exists():
            raise Conflict(f"SKU {fields['sku']!r} exists", code="duplicate", field="sku")
        with unique_or_conflict(f"SKU {fields.get('sku')!r} exists", "sku"):
            return versioned_update(
                instance=product, changes=fields, expected_version=expected_version
            )


def _product_used(product: Product) -> bool:
    from rapport.orders.models import OrderLine

    return (
        LineItem.objects.filter(product=product).exists()
        or OrderLine.objects.filter(product=product).exists()
    )


def product_delete(*, product: Product, actor: User, expected_version: int | None = None) -> bool:
    """Delete an unused product; a product on line items or orders is only deactivated
    (history keeps pointing at it). Returns True when the row was deleted."""
    require_catalog_manager(actor)
    if expected_version is not None and product.version != expected_version:
        raise StaleVersion(product.version)
    with transaction.atomic():
        if not _product_used(product):
            try:
                with transaction.atomic():
                    Product.objects.filter(pk=product.pk).delete()
                return True
            except ProtectedError:
                pass  # used since the check: deactivate below
        versioned_update(
            instance=product, changes={"is_active": False}, expected_version=expected_version
        )
    return False


def price_book_create(*, actor: User, fields: dict[str, Any]) -> PriceBook:
    """Create a price book (managers and admins); a new default replaces the old one."""
    require_catalog_manager(actor)
    fields = _catalog_fields(fields)
    fields["name"] = clean_name(fields.get("name"))
    is_default = bool(fields.pop("is_default", False))
    book = PriceBook(**fields)
    validate_fields(book, list(fields))
    with transaction.atomic():
        if PriceBook.objects.filter(name=book.name).exists():
            raise Conflict(f"A price book named {book.name!r} exists", "duplicate", "name")
        with unique_or_conflict(f"A price book named {book.name!r} exists", "name"):
            book.save()
        if is_default:
            make_default(PriceBook, book)
    return book


def price_book_update(
    *,
    price_book: PriceBook,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Versioned partial update of a price book (managers and admins)."""
    require_catalog_manager(actor)
    if expected_version is not None and price_book.version != expected_version:
        raise StaleVersion(price_book.version)
    fields = _catalog_fields(fields)
    if "name" in fields:
        fields["name"] = clean_name(fields["name"])
    validated_probe(price_book, fields)
    becomes_default = fields.get("is_default") is True and not price_book.is_default
    with transaction.atomic():
        if "name" in fields and (
            PriceBook.objects.filter(name=fields["name"]).exclude(pk=price_book.pk).exists()
        ):
            raise Conflict(f"A price book named {fields['name']!r} exists", "duplicate", "name")
        with unique_or_conflict(f"A price book named {fields.get('name')!r} exists", "name"):
            diff = versioned_update(
                instance=price_book, changes=fields, expected_version=expected_version
            )
        if becomes_default:
            make_default(PriceBook, price_book)
    return diff


def price_book_delete(
    *, price_book: PriceBook, actor: User, expected_version: int | None = None
) -> None:
    """Delete a price book and its entries (line items keep the prices they were given)."""
    require_catalog_manager(actor)
    if expected_version is not None and price_book.version != expected_version:
        raise StaleVersion(price_book.version)
    with transaction.atomic():
        PriceBook.objects.filter(pk=price_book.pk).delete()


def price_book_entry_set(
    *, price_book: PriceBook, product: Product, unit_price: Decimal, actor: User
) -> PriceBookEntry:
    """Set the product's price in the price book (creates or replaces the entry)."""
    require_catalog_manager(actor)
    if unit_price is None or unit_price < 0:
        raise field_error("unit_price", "must not be negative", "min_value")
    probe = PriceBookEntry(price_book=price_book, product=product, unit_price=unit_price)
    validate_fields(probe, ["unit_price"])
    with transaction.atomic():
        entry, _ = PriceBookEntry.objects.update_or_create(
            price_book=price_book, product=product, defaults={"unit_price": unit_price}
        )
    return entry


def price_book_entry_delete(*, price_book: PriceBook, product: Product, actor: User) -> None:
    require_catalog_manager(actor)
    with transaction.atomic():
        PriceBookEntry.objects.filter(price_book=price_book, product=product).delete()

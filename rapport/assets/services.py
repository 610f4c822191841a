"""Writes of the installed base: by hand, by import, and one asset per unit sold of a
tracked product (called from the order services in the same transaction as the order).

Every change writes an ASSET_CHANGED event on the account's and contact's timelines."""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.assets.models import Asset, AssetStatus
from rapport.assets.selectors import asset_parents_editable
from rapport.assets.warranty import warranty_end_for
from rapport.identity.models import User
from rapport.records.dates import check_date_range
from rapport.records.exceptions import PermissionDenied, StaleVersion
from rapport.records.services import versioned_update
from rapport.sales.models import Product
from rapport.timeline.hooks import as_columns, events_written
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.services import timeline_record

EDITABLE = (
    "serial_number",
    "install_date",
    "location",
    "warranty_end",
    "status",
    "notes",
    "account",
    "contact",
    "product",
)
# A line of 10,000 units does not make 10,000 rows by accident: above this, no assets.
MAX_UNITS_PER_LINE = 1000


def _err(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _require_writer(actor: User) -> None:
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot change installed products", code="read_only")


def _check_customer(account: Account | None, contact: Contact | None) -> None:
    if account is None and contact is None:
        raise _err("account_id", "An asset belongs to an account or a contact", "customer_required")
    if account is not None and contact is not None and contact.account_id != account.pk:
        raise _err("contact_id", "The contact does not belong to this account", "contact_mismatch")


def _event(asset: Asset, actor: User | None, summary: str, payload: dict) -> None:
    account_id = asset.account_id or (asset.contact.account_id if asset.contact_id else None)
    timeline_record(
        kind=EventKind.ASSET_CHANGED,
        actor=actor,
        summary=summary,
        payload={"asset": asset.pk, **payload},
        account_id=account_id,
        contact_id=asset.contact_id,
    )


def asset_create(
    *,
    actor: User,
    product: Product,
    account: Account | None = None,
    contact: Contact | None = None,
    serial_number: str = "",
    install_date: datetime.date | None = None,
    location: str = "",
    warranty_end: datetime.date | None = None,
    status: str = AssetStatus.ACTIVE,
    notes: str = "",
) -> Asset:
    """An asset made by hand or by import; without a warranty end it is the install date
    plus the product's warranty months."""
    check_date_range(install_date, "install_date")
    check_date_range(warranty_end, "warranty_end")
    _require_writer(actor)
    _check_customer(account, contact)
    if not asset_parents_editable(
        user=actor,
        account_id=account.pk if account else None,
        contact_id=contact.pk if contact else None,
    ):
        raise PermissionDenied("You may not add installed products to this customer")
    if warranty_end is None:
        warranty_end = warranty_end_for(install_date, product.warranty_months)
    asset = Asset(
        product=product,
        account=account,
        contact=contact,
        serial_number=serial_number or "",
        install_date=install_date,
        location=location or "",
        warranty_end=warranty_end,
        status=status,
        notes=notes or "",
        created_by=actor,
    )
    asset.full_clean(exclude=["created_by", "order_line"])
    with transaction.atomic():
        asset.save()
        _event(
            asset,
            actor,
            f"Installed product added: {asset}",
            {"action": "created", "product": product.pk, "serial_number": asset.serial_number},
        )
    return asset


def asset_update(
    *, asset: Asset, actor: User, fields: dict[str, Any], expected_version: int | None = None
) -> dict[str, dict[str, Any]]:
    """Versioned change; one ASSET_CHANGED event with the diff."""
    for name in ("install_date", "warranty_end"):
        check_date_range(fields.get(name), name)
    _require_writer(actor)
    if not asset_parents_editable(
        user=actor, account_id=asset.account_id, contact_id=asset.contact_id
    ):
        raise PermissionDenied("You may not change this customer's installed products")
    if expected_version is not None and asset.version != expected_version:
        raise StaleVersion(asset.version)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"asset_update cannot change {', '.join(sorted(unknown))}")
    changes = {
        k: ("" if v is None and k in ("serial_number", "location", "notes") else v)
        for k, v in fields.items()
    }
    account = changes.get("account", asset.account) if "account" in changes else asset.account
    contact = changes.get("contact", asset.contact) if "contact" in changes else asset.contact
    if "account" in changes or "contact" in changes:
        _check_customer(account, contact)
        if not asset_parents_editable(
            user=actor,
            account_id=account.pk if account else None,
            contact_id=contact.pk if contact else None,
        ):
            raise PermissionDenied("You may not move installed products to this customer")
    probe = Asset(**{f.attname: getattr(asset, f.attname) for f in Asset._meta.concrete_fields})
    for name, value in changes.items():
        setattr(probe, name, value)
    probe.full_clean(
        exclude=["created_by", "order_line", "product", "account", "contact"],
        validate_unique=False,
        validate_constraints=False,
    )
    with transaction.atomic():
        diff = versioned_update(instance=asset, changes=changes, expected_version=asset.version)
        if diff:
            asset.refresh_from_db()
            _event(
                asset,
                actor,
                f"Installed product changed: {asset} ({', '.join(sorted(diff))})",
                {"action": "updated", "changes": diff},
            )
    return diff


def assets_for_order(order, *, actor: User | None, lines=None) -> list[Asset]:
    """One asset per unit of every line of a tracked product (whole units; a line of 2.5
    makes 2), with the order's customer, install date = order date, warranty from it.

    Called by the order services inside the order's transaction, so an order and its assets
    are written together. Returns the new assets; one ASSET_CHANGED event per line."""
    lines = list(order.lines.select_related("product")) if lines is None else lines
    tracked = [ln for ln in lines if ln.product_id and ln.product.is_tracked]
    if not tracked:
        return []
    day = (
        timezone.localdate(order.ordered_at)
        if timezone.is_aware(order.ordered_at)
        else (order.ordered_at.date())
    )
    assets = []
    for line in tracked:
        units = int(Decimal(line.quantity))
        if units < 1 or units > MAX_UNITS_PER_LINE:
            continue
        for _ in range(units):
            assets.append(
                Asset(
                    product=line.product,
                    account_id=order.account_id,
                    contact_id=order.contact_id,
                    order_line=line,
                    install_date=day,
                    warranty_end=warranty_end_for(day, line.product.warranty_months),
                    created_by=actor,
                )
            )
    if not assets:
        return []
    Asset.objects.bulk_create(assets)
    contact_account = {}
    if order.contact_id and not order.account_id:
        contact_account[order.contact_id] = (
            Contact.objects.filter(pk=order.contact_id).values_list("account_id", flat=True).first()
        )
    by_line: dict[int, list[Asset]] = {}
    for asset in assets:
        by_line.setdefault(asset.order_line_id, []).append(asset)
    events = []
    for line in tracked:
        made = by_line.get(line.pk)
        if not made:
            continue
        events.append(
            TimelineEvent(
                kind=EventKind.ASSET_CHANGED,
                actor=actor if actor is not None and actor.is_authenticated else None,
                occurred_at=order.ordered_at,
                summary=f"{len(made)} × {line.product.name} installed (order {order.pk})",
                payload={
                    "action": "created_from_order",
                    "order": order.pk,
                    "assets": [a.pk for a in made],
                },
                account_id=order.account_id or contact_account.get(order.contact_id),
                contact_id=order.contact_id,
                order_id=order.pk,
            )
        )
    written = TimelineEvent.objects.bulk_create(events)
    events_written([as_columns(e) for e in written])
    return assets


def assets_for_orders(orders, *, actor: User | None) -> int:
    """`assets_for_order` for a batch (the bulk import): the lines in one query."""
    from rapport.orders.models import OrderLine

    orders = list(orders)
    if not orders:
        return 0
    lines: dict[int, list] = {}
    for line in OrderLine.objects.filter(
        order_id__in=[o.pk for o in orders], product__is_tracked=True
    ).select_related("product"):
        lines.setdefault(line.order_id, []).append(line)
    made = 0
    for order in orders:
        if order.pk in lines:
            made += len(assets_for_order(order, actor=actor, lines=lines[order.pk]))
    return made

"""Writes of returns (RMA): create from an order line or an asset, and move through the
validated states; every step is a `return_status` timeline event on the customer (and the
order), in the same transaction."""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.returns.models import (
    CLOSED_STATUSES,
    Condition,
    Disposition,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

S = ReturnStatus
TRANSITIONS: dict[str, set[str]] = {
    S.REQUESTED: {S.APPROVED, S.REJECTED},
    S.APPROVED: {S.RECEIVED, S.REJECTED},
    S.RECEIVED: {S.INSPECTED},
    S.INSPECTED: {S.REFUNDED, S.REPLACED, S.REPAIRED, S.REJECTED},
    S.REJECTED: set(),
    S.REFUNDED: set(),
    S.REPLACED: set(),
    S.REPAIRED: set(),
}
_STAMP = {
    S.APPROVED: "decided_at",
    S.REJECTED: "decided_at",
    S.RECEIVED: "received_at",
    S.INSPECTED: "inspected_at",
    S.REFUNDED: "resolved_at",
    S.REPLACED: "resolved_at",
    S.REPAIRED: "resolved_at",
}


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def require_staff(actor) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot change returns")


def _choice(value: str, choices, field: str) -> str:
    if value not in choices.values:
        raise _error(field, f"must be one of {', '.join(choices.values)}", "invalid_choice")
    return value


def already_returned(order_line_id: int, exclude_pk: int | None = None) -> Decimal:
    qs = ReturnRequest.objects.filter(order_line_id=order_line_id).exclude(status=S.REJECTED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(total=Sum("quantity"))["total"] or Decimal("0")


def _event(row: ReturnRequest, actor, summary: str, payload: dict, at=None) -> None:
    timeline_record(
        kind=EventKind.RETURN_STATUS,
        actor=actor,
        summary=summary,
        payload={"return_id": row.pk, "status": row.status, **payload},
        occurred_at=at,
        account_id=row.account_id,
        contact_id=row.contact_id,
        order_id=row.order_line.order_id if row.order_line_id else None,
        case_id=row.case_id,
    )


def return_create(
    *,
    fields: dict[str, Any],
    actor=None,
    portal_user=None,
    at: datetime.datetime | None = None,
) -> ReturnRequest:
    """A return request from an order line or an asset (loaded by the caller through the
    staff visibility layer or the portal selectors). Quantity ≤ ordered minus what other
    open or done returns of the line already take."""
    if portal_user is None:
        require_staff(actor)
    line = fields.get("order_line")
    asset = fields.get("asset")
    if line is None and asset is None:
        raise _error("order_line_id", "A return needs an order line or an asset", "required")
    try:
        quantity = Decimal(str(fields.get("quantity") or 1))
    except InvalidOperation as exc:
        raise _error("quantity", "must be a number") from exc
    if quantity <= 0:
        raise _error("quantity", "must be more than 0")
    reason = _choice(fields.get("reason") or "", ReturnReason, "reason")
    condition = _choice(fields.get("condition") or "", Condition, "condition")
    disposition = _choice(fields.get("disposition") or "", Disposition, "disposition")
    at = at or timezone.now()
    with transaction.atomic():
        if line is not None:
            # Lock the line so two returns racing cannot together exceed what was ordered.
            from rapport.orders.models import OrderLine

            line = OrderLine.objects.select_for_update().select_related("order").get(pk=line.pk)
            left = line.quantity - already_returned(line.pk)
            if quantity > left:
                raise _error(
                    "quantity",
                    f"at most {left.normalize():f} of this line can be returned",
                    "too_many",
                )
        if asset is not None and quantity != 1:
            raise _error("quantity", "an asset is one unit")
        source = line.order if line is not None else asset
        contact = (
            portal_user.contact if portal_user is not None else getattr(source, "contact", None)
        )
        account = getattr(source, "account", None) or (contact.account if contact else None)
        product = (line.product if line is not None else None) or (
            asset.product if asset is not None else None
        )
        row = ReturnRequest.objects.create(
            account=account,
            contact=contact,
            order_line=line,
            asset=asset,
            product=product,
            case=fields.get("case"),
            quantity=quantity,
            reason=reason,
            condition=condition,
            disposition=disposition,
            description=(fields.get("description") or "").strip(),
            created_by=actor if actor is not None and actor.is_authenticated else None,
            via_portal=portal_user is not None,
            created_at=at,
        )
        _event(
            row,
            actor,
            f"{row.number} requested: {ReturnReason(reason).label.lower()}, "
            f"{Disposition(disposition).label.lower()} wanted",
            {"from": "", "to": S.REQUESTED, "via_portal": portal_user is not None},
            at,
        )
    return row


def return_transition(
    *,
    row: ReturnRequest,
    status: str,
    actor,
    note: str = "",
    expected_version: int | None = None,
    at: datetime.datetime | None = None,
) -> ReturnRequest:
    """Move a return to `status` if the workflow allows it (else a 422 naming `status`); a
    stale `expected_version` is a 409/412 through Conflict."""
    require_staff(actor)
    _choice(status, ReturnStatus, "status")
    at = at or timezone.now()
    with transaction.atomic():
        locked = ReturnRequest.objects.select_for_update().get(pk=row.pk)
        if expected_version is not None and locked.version != expected_version:
            from rapport.records.exceptions import StaleVersion

            raise StaleVersion(current_version=locked.version)
        old = locked.status
        if status not in TRANSITIONS[old]:
            raise _error(
                "status",
                f"a {ReturnStatus(old).label.lower()} return cannot become "
                f"{ReturnStatus(status).label.lower()}",
                "invalid_transition",
            )
        values = {
            "status": status,
            "status_note": (note or "")[:500],
            _STAMP[status]: at,
            "updated_at": timezone.now(),
        }
        ReturnRequest.objects.filter(pk=row.pk).update(version=F("version") + 1, **values)
        row.refresh_from_db()
        _event(
            row,
            actor,
            f"{row.number} {ReturnStatus(status).label.lower()}" + (f": {note}" if note else ""),
            {"from": old, "to": status, "note": note},
            at,
        )
    return row


def is_closed(row: ReturnRequest) -> bool:
    return row.status in CLOSED_STATUSES


__all__ = ["Conflict", "TRANSITIONS", "return_create", "return_transition"]

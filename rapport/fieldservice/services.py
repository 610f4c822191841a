"""Writes of work orders. Every change writes a WORK_ORDER event on the customer's
timelines (and the case's, when the work order comes from a case), in the same transaction.

Status: new → scheduled → in progress → completed, or cancelled (TRANSITIONS in models).
Starting stamps started_at; completing stamps completed_at and, when no time was entered,
counts the minutes since the start."""

import base64
import binascii
import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.fieldservice.models import (
    TRANSITIONS,
    WorkOrder,
    WorkOrderPart,
    WorkOrderPhoto,
    WorkOrderStatus,
    WorkOrderTask,
)
from rapport.fieldservice.selectors import work_order_editable
from rapport.files.services import sniff_content_type, store_file
from rapport.identity.models import User
from rapport.records.dates import check_date_range
from rapport.records.exceptions import PermissionDenied, StaleVersion
from rapport.records.services import versioned_update
from rapport.records.visibility import editable
from rapport.sales.models import Product
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

EDITABLE = (
    "title",
    "address",
    "scheduled_start",
    "scheduled_end",
    "technician",
    "time_spent_minutes",
    "notes",
)
MAX_TASKS = 50
MAX_SIGNATURE_BYTES = 512 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _err(field: str | None, message: str, code: str) -> ValidationError:
    return ValidationError({field or "__all__": [ValidationError(message, code=code)]})


def _require_writer(actor: User) -> None:
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot change work orders", code="read_only")


def _require_editable(work_order: WorkOrder, actor: User) -> None:
    _require_writer(actor)
    if not work_order_editable(work_order=work_order, user=actor):
        raise PermissionDenied("You may not change this work order")


def _event(work_order: WorkOrder, actor: User | None, summary: str, payload: dict) -> None:
    account_id = work_order.account_id
    if account_id is None and work_order.contact_id:
        account_id = (
            Contact.objects.filter(pk=work_order.contact_id)
            .values_list("account_id", flat=True)
            .first()
        )
    timeline_record(
        kind=EventKind.WORK_ORDER,
        actor=actor,
        summary=f"{work_order.label}: {summary}",
        payload={"work_order": work_order.pk, **payload},
        account_id=account_id,
        contact_id=work_order.contact_id,
        case_id=work_order.case_id,
    )


def _check_window(start, end) -> None:
    if start and end and end < start:
        raise _err("scheduled_end", "The window ends before it starts", "invalid_window")


def _check_technician(technician: User | None) -> None:
    if technician is not None and (not technician.is_active or technician.is_read_only):
        raise _err("technician_id", "The technician must be an active user", "invalid_user")


def _touch(work_order: WorkOrder) -> None:
    """Tasks, parts and photos live in their own tables: moving the version and updated_at
    keeps ETags and the calendar's SEQUENCE/LAST-MODIFIED honest."""
    WorkOrder.objects.filter(pk=work_order.pk).update(
        version=work_order.version + 1, updated_at=timezone.now()
    )
    work_order.version += 1


def work_order_default_address(*, account=None, contact=None, asset=None) -> str:
    """Where the work happens when nobody typed an address: the asset's location, else the
    customer's street address."""
    if asset is not None and asset.location:
        return asset.location
    source = account or contact
    if source is None:
        return ""
    return ", ".join(p for p in (source.street, source.postal_code, source.city) if p)


def work_order_create(
    *,
    actor: User,
    title: str,
    account: Account | None = None,
    contact: Contact | None = None,
    case=None,
    asset=None,
    address: str = "",
    scheduled_start: datetime.datetime | None = None,
    scheduled_end: datetime.datetime | None = None,
    technician: User | None = None,
    notes: str = "",
    tasks: list[str] | None = None,
) -> WorkOrder:
    """A work order by hand, from a case or from an asset (its customer is the case's or
    the asset's unless given). With a window it starts as scheduled."""
    check_date_range(scheduled_start, "scheduled_start")
    check_date_range(scheduled_end, "scheduled_end")
    _require_writer(actor)
    if asset is not None:
        account = account or asset.account
        contact = contact or asset.contact
    if case is not None:
        account = account or case.account
        contact = contact or case.contact
    if account is None and contact is None:
        raise _err("account_id", "A work order needs an account or a contact", "customer_required")
    if account is not None and contact is not None and contact.account_id != account.pk:
        raise _err("contact_id", "The contact does not belong to this account", "contact_mismatch")
    allowed = (
        account is not None and editable(Account.objects.filter(pk=account.pk), actor).exists()
    ) or (contact is not None and editable(Contact.objects.filter(pk=contact.pk), actor).exists())
    if not allowed:
        raise PermissionDenied("You may not add work orders to this customer")
    title = (title or "").strip()
    if not title:
        raise _err("title", "Give the work order a title", "required")
    _check_window(scheduled_start, scheduled_end)
    _check_technician(technician)
    if not address:
        address = work_order_default_address(account=account, contact=contact, asset=asset)
    tasks = [t.strip()[:200] for t in (tasks or []) if t and t.strip()][:MAX_TASKS]
    work_order = WorkOrder(
        title=title[:200],
        account=account,
        contact=contact,
        case=case,
        asset=asset,
        address=(address or "")[:400],
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        technician=technician,
        status=WorkOrderStatus.SCHEDULED if scheduled_start else WorkOrderStatus.NEW,
        notes=notes or "",
        created_by=actor,
    )
    with transaction.atomic():
        work_order.save()
        WorkOrderTask.objects.bulk_create(
            [
                WorkOrderTask(work_order=work_order, label=label, position=i)
                for i, label in enumerate(tasks)
            ]
        )
        _event(
            work_order,
            actor,
            f"work order created ({work_order.title})",
            {"action": "created", "status": work_order.status},
        )
    return work_order


def work_order_update(
    *,
    work_order: WorkOrder,
    actor: User,
    fields: dict[str, Any],
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    for name in ("scheduled_start", "scheduled_end"):
        check_date_range(fields.get(name), name)
    _require_editable(work_order, actor)
    if expected_version is not None and work_order.version != expected_version:
        raise StaleVersion(work_order.version)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValueError(f"work_order_update cannot change {', '.join(sorted(unknown))}")
    changes = dict(fields)
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()[:200]
        if not changes["title"]:
            raise _err("title", "Give the work order a title", "required")
    for name in ("address", "notes"):
        if name in changes:
            changes[name] = changes[name] or ""
    if "time_spent_minutes" in changes:
        changes["time_spent_minutes"] = changes["time_spent_minutes"] or 0
    _check_window(
        changes.get("scheduled_start", work_order.scheduled_start),
        changes.get("scheduled_end", work_order.scheduled_end),
    )
    if "technician" in changes:
        _check_technician(changes["technician"])
    if (
        work_order.status == WorkOrderStatus.NEW
        and changes.get("scheduled_start")
        and "status" not in changes
    ):
        changes["status"] = WorkOrderStatus.SCHEDULED
    with transaction.atomic():
        diff = versioned_update(
            instance=work_order, changes=changes, expected_version=work_order.version
        )
        diff.pop("updated_at", None)
        if diff:
            work_order.refresh_from_db()
            _event(
                work_order,
                actor,
                "changed: " + ", ".join(sorted(diff)),
                {"action": "updated", "changes": diff},
            )
    return diff


def work_order_set_status(
    *,
    work_order: WorkOrder,
    actor: User,
    status: str,
    expected_version: int | None = None,
) -> WorkOrder:
    """Move the work order along its status flow; a move the flow does not allow is a 422."""
    _require_editable(work_order, actor)
    if expected_version is not None and work_order.version != expected_version:
        raise StaleVersion(work_order.version)
    if status not in WorkOrderStatus.values:
        raise _err("status", "No such status", "invalid_status")
    current = WorkOrderStatus(work_order.status)
    if status == current:
        return work_order
    if status not in TRANSITIONS[current]:
        raise _err(
            "status",
            f"A {current.label.lower()} work order cannot become "
            f"{WorkOrderStatus(status).label.lower()}",
            "invalid_transition",
        )
    now = timezone.now()
    changes: dict[str, Any] = {"status": status}
    if status == WorkOrderStatus.IN_PROGRESS and work_order.started_at is None:
        changes["started_at"] = now
    if status == WorkOrderStatus.SCHEDULED and work_order.scheduled_start is None:
        raise _err("scheduled_start", "Schedule the work order first", "not_scheduled")
    if status == WorkOrderStatus.COMPLETED:
        changes["completed_at"] = now
        if not work_order.time_spent_minutes and work_order.started_at:
            minutes = int((now - work_order.started_at).total_seconds() // 60)
            changes["time_spent_minutes"] = max(1, minutes)
    with transaction.atomic():
        versioned_update(instance=work_order, changes=changes, expected_version=work_order.version)
        work_order.refresh_from_db()
        _event(
            work_order,
            actor,
            f"{current.label.lower()} → {WorkOrderStatus(status).label.lower()}",
            {"action": "status", "old": current.value, "new": status},
        )
    return work_order


def task_add(*, work_order: WorkOrder, actor: User, label: str) -> WorkOrderTask:
    _require_editable(work_order, actor)
    label = (label or "").strip()[:200]
    if not label:
        raise _err("label", "Describe the task", "required")
    if work_order.tasks.count() >= MAX_TASKS:
        raise _err("label", f"At most {MAX_TASKS} tasks", "too_many")
    with transaction.atomic():
        last = work_order.tasks.order_by("-position").values_list("position", flat=True).first()
        task = WorkOrderTask.objects.create(
            work_order=work_order, label=label, position=(last or 0) + 1
        )
        _touch(work_order)
    return task


def task_set_done(*, task: WorkOrderTask, actor: User, done: bool) -> WorkOrderTask:
    work_order = task.work_order
    _require_editable(work_order, actor)
    if task.done == done:
        return task
    with transaction.atomic():
        task.done = done
        task.done_at = timezone.now() if done else None
        task.save(update_fields=["done", "done_at"])
        _touch(work_order)
        _event(
            work_order,
            actor,
            f"task {'done' if done else 'reopened'}: {task.label}",
            {"action": "task", "task": task.pk, "done": done},
        )
    return task


def part_add(
    *, work_order: WorkOrder, actor: User, product: Product, quantity: Decimal
) -> WorkOrderPart:
    _require_editable(work_order, actor)
    quantity = Decimal(quantity)
    if quantity <= 0 or quantity >= Decimal("1e8"):
        raise _err("quantity", "Must be greater than 0", "invalid_quantity")
    with transaction.atomic():
        part = WorkOrderPart.objects.create(
            work_order=work_order, product=product, quantity=quantity
        )
        _touch(work_order)
        _event(
            work_order,
            actor,
            f"part used: {quantity.normalize()} × {product.name}",
            {"action": "part", "product": product.pk, "quantity": str(quantity)},
        )
    return part


def photo_add(*, work_order: WorkOrder, actor: User, upload) -> WorkOrderPhoto:
    """A photo taken on site (an image: JPEG, PNG, WebP, HEIC), stored through rapport/files
    and reachable only through the work order."""
    from django.conf import settings

    from rapport.files.services import _head, safe_filename

    _require_editable(work_order, actor)
    if upload is None or not upload.size:
        raise _err("photo", "Choose a photo", "required")
    if upload.size > settings.RAPPORT_MAX_UPLOAD_BYTES:
        raise _err("photo", "The photo is too large", "too_large")
    name = safe_filename(getattr(upload, "name", "photo"))
    content_type = sniff_content_type(_head(upload), name)
    if not content_type.startswith("image/"):
        raise _err("photo", "That is not a photo", "not_an_image")
    with transaction.atomic():
        stored = store_file(upload, name=name, content_type=content_type, uploaded_by=actor)
        photo = WorkOrderPhoto.objects.create(work_order=work_order, file=stored)
        _touch(work_order)
        _event(work_order, actor, f"photo added: {name}", {"action": "photo", "file": stored.pk})
    return photo


def decode_signature(data_url: str) -> bytes:
    """The PNG bytes of a canvas's `data:image/png;base64,…` (or bare base64); anything else
    is a 422."""
    raw = (data_url or "").strip()
    if raw.startswith("data:"):
        header, _, raw = raw.partition(",")
        if header.split(";")[0] != "data:image/png":
            raise _err("signature", "The signature must be a PNG image", "invalid_signature")
    if not raw or len(raw) > MAX_SIGNATURE_BYTES * 4 // 3 + 4:
        raise _err("signature", "The signature is empty or too large", "invalid_signature")
    try:
        content = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _err("signature", "The signature is not valid base64", "invalid_signature")
    if not content.startswith(PNG_MAGIC):
        raise _err("signature", "The signature must be a PNG image", "invalid_signature")
    return content


def signature_save(*, work_order: WorkOrder, actor: User, png: bytes, signed_by: str) -> WorkOrder:
    """The customer's signature drawn on the technician's screen, stored as a PNG."""
    _require_editable(work_order, actor)
    signed_by = (signed_by or "").strip()[:200]
    if not signed_by:
        raise _err("signed_by", "Who signed?", "required")
    if work_order.status in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CANCELLED):
        raise _err("signature", "The work order is closed", "closed")
    with transaction.atomic():
        stored = store_file(
            png,
            name=f"signature-{work_order.label}.png",
            content_type="image/png",
            uploaded_by=actor,
        )
        versioned_update(
            instance=work_order,
            changes={"signature": stored, "signed_by": signed_by, "signed_at": timezone.now()},
            expected_version=work_order.version,
        )
        work_order.refresh_from_db()
        _event(
            work_order,
            actor,
            f"signed by {signed_by}",
            {"action": "signed", "file": stored.pk, "signed_by": signed_by},
        )
    return work_order

"""Work orders: the status flow, tasks, parts, photos, signature, timeline, visibility,
API and pages."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rapport.assets.services import asset_create
from rapport.fieldservice.models import WorkOrder, WorkOrderStatus
from rapport.fieldservice.services import (
    decode_signature,
    part_add,
    photo_add,
    signature_save,
    task_set_done,
    work_order_create,
    work_order_set_status,
)
from rapport.fieldservice.tests.conftest import PNG_1PX
from rapport.records.exceptions import PermissionDenied
from rapport.sales.models import Product
from rapport.timeline.models import EventKind, TimelineEvent


def test_created_with_a_window_is_scheduled_and_takes_the_customers_address(work_order):
    assert work_order.status == WorkOrderStatus.SCHEDULED
    assert work_order.address == "1 Main St, Lyon"
    assert [t.label for t in work_order.tasks.all()] == ["Check pressure", "Replace filter"]
    assert TimelineEvent.objects.filter(kind=EventKind.WORK_ORDER, account=work_order.account)


def test_status_flow(personas, work_order):
    tech = personas.teammate
    with pytest.raises(ValidationError) as exc:
        work_order_set_status(work_order=work_order, actor=tech, status="completed")
    assert exc.value.error_dict["status"][0].code == "invalid_transition"
    work_order_set_status(work_order=work_order, actor=tech, status="in_progress")
    assert work_order.started_at is not None
    work_order_set_status(work_order=work_order, actor=tech, status="completed")
    assert work_order.status == "completed" and work_order.completed_at is not None
    assert work_order.time_spent_minutes >= 1
    for later in ("in_progress", "cancelled", "new"):
        with pytest.raises(ValidationError):
            work_order_set_status(work_order=work_order, actor=tech, status=later)
    moves = TimelineEvent.objects.filter(
        kind=EventKind.WORK_ORDER, payload__action="status"
    ).values_list("payload__new", flat=True)
    assert sorted(moves) == ["completed", "in_progress"]


def test_new_cannot_be_scheduled_without_a_window(personas, account):
    wo = work_order_create(actor=personas.owner, title="Visit", account=account)
    assert wo.status == WorkOrderStatus.NEW
    with pytest.raises(ValidationError):
        work_order_set_status(work_order=wo, actor=personas.owner, status="scheduled")
    work_order_set_status(work_order=wo, actor=personas.owner, status="cancelled")
    assert wo.status == "cancelled"


def test_who_may_change(personas, work_order):
    with pytest.raises(PermissionDenied):
        work_order_set_status(work_order=work_order, actor=personas.outsider, status="cancelled")
    with pytest.raises(PermissionDenied):
        work_order_set_status(work_order=work_order, actor=personas.reader, status="cancelled")


def test_tasks_parts_photos_signature(personas, work_order, part):
    tech = personas.teammate
    version = work_order.version
    task = work_order.tasks.first()
    task_set_done(task=task, actor=tech, done=True)
    assert work_order.version == version + 1
    part_add(work_order=work_order, actor=tech, product=part, quantity=Decimal("2"))
    with pytest.raises(ValidationError):
        part_add(work_order=work_order, actor=tech, product=part, quantity=Decimal("0"))
    png = decode_signature(PNG_1PX)
    photo_add(
        work_order=work_order,
        actor=tech,
        upload=SimpleUploadedFile("site.png", png, content_type="image/png"),
    )
    with pytest.raises(ValidationError):
        photo_add(
            work_order=work_order,
            actor=tech,
            upload=SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"),
        )
    work_order.refresh_from_db()
    signature_save(work_order=work_order, actor=tech, png=png, signed_by="Jane Doe")
    assert work_order.signature.content_type == "image/png"
    assert work_order.signature.file.read().startswith(b"\x89PNG")
    assert work_order.signed_by == "Jane Doe"


@pytest.mark.parametrize(
    "value",
    ["", "data:image/jpeg;base64,AAAA", "data:image/png;base64,not base64!", "aGVsbG8="],
)
def test_bad_signatures_are_refused(value):
    with pytest.raises(ValidationError):
        decode_signature(value)


def test_from_an_asset_takes_its_customer_and_location(personas, account):
    product = Product.objects.create(sku="T", name="Boiler", is_tracked=True)
    asset = asset_create(
        actor=personas.owner, product=product, account=account, location="Cellar, 1 Main St"
    )
    wo = work_order_create(actor=personas.owner, title="Repair", asset=asset)
    assert (wo.account_id, wo.address, wo.asset_id) == (account.pk, "Cellar, 1 Main St", asset.pk)


def test_api(api_as, personas, account, part, slot):
    owner = api_as(personas.owner)
    created = owner.post(
        "/api/work-orders",
        {
            "title": "Install",
            "account_id": account.pk,
            "technician_id": personas.teammate.pk,
            "scheduled_start": slot[0].isoformat(),
            "scheduled_end": slot[1].isoformat(),
            "tasks": ["Unpack", "Connect"],
        },
    )
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    assert created.data["status"] == "scheduled"
    tech = api_as(personas.teammate)  # the technician sees and changes their work order
    assert tech.get(f"/api/work-orders/{pk}").status_code == 200
    listed = tech.get("/api/work-orders", technician_id=personas.teammate.pk)
    assert [w["id"] for w in listed.data["items"]] == [pk]
    assert tech.post(f"/api/work-orders/{pk}/status", {"status": "in_progress"}).status_code == 200
    task_id = created.data["tasks"][0]["id"]
    done = tech.patch(f"/api/work-orders/{pk}/tasks/{task_id}", {"done": True})
    assert done.status_code == 200 and done.data["done"] is True
    added = tech.post(f"/api/work-orders/{pk}/parts", {"product_id": part.pk, "quantity": "3"})
    assert added.status_code == 201
    signed = tech.post(f"/api/work-orders/{pk}/signature", {"signed_by": "J", "image": PNG_1PX})
    assert signed.status_code == 200 and signed.data["signature_file_id"]
    bad = tech.post(f"/api/work-orders/{pk}/status", {"status": "new"})
    assert bad.status_code == 422 and bad.data["code"] == "invalid_transition"
    done = tech.post(f"/api/work-orders/{pk}/status", {"status": "completed"})
    assert done.data["status"] == "completed"
    assert len(done.data["parts"]) == 1
    assert api_as(personas.outsider).get(f"/api/work-orders/{pk}").status_code == 404
    assert api_as(personas.outsider).get("/api/work-orders").data["items"] == []


def test_pages(personas, work_order, part):
    tech = Client()
    tech.force_login(personas.teammate)
    day = tech.get("/field/today")
    assert day.status_code == 200 and "Boiler service" in day.content.decode()
    start = tech.post(
        f"/field/work-orders/{work_order.pk}/status",
        {"status": "in_progress", "next": "/field/today"},
    )
    assert start.status_code == 302 and start["Location"] == "/field/today"
    tech.post(f"/field/work-orders/{work_order.pk}/parts", {"product": part.pk, "quantity": "1"})
    tech.post(
        f"/field/work-orders/{work_order.pk}/signature", {"signed_by": "J", "signature": PNG_1PX}
    )
    work_order.refresh_from_db()
    assert work_order.status == "in_progress" and work_order.signature_id
    file = tech.get(f"/field/work-orders/{work_order.pk}/files/{work_order.signature_id}")
    assert file.status_code == 200
    detail = tech.get(f"/field/work-orders/{work_order.pk}/")
    assert detail.status_code == 200 and "Valve" in detail.content.decode()
    owner = Client()
    owner.force_login(personas.owner)
    assert "Boiler service" in owner.get("/field/").content.decode()
    new = owner.get(f"/field/work-orders/new?account={work_order.account_id}")
    assert new.status_code == 200
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/field/work-orders/{work_order.pk}/").status_code == 404
    signature_url = f"/field/work-orders/{work_order.pk}/files/{work_order.signature_id}"
    assert outsider.get(signature_url).status_code == 404
    assert (
        outsider.post(
            f"/field/work-orders/{work_order.pk}/status", {"status": "cancelled"}
        ).status_code
        == 404
    )
    assert WorkOrder.objects.get(pk=work_order.pk).status == "in_progress"

"""The RMA state machine, quantities, the portal's "start a return", the staff pages and
API, and the returns/complaints metrics on a hand-computed set."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from rapport.cases.models import Case
from rapport.portal.tests.factories import portal_client
from rapport.records.exceptions import PermissionDenied
from rapport.returns import selectors, services
from rapport.returns.models import ReturnRequest
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db
FIELDS = {"reason": "defective", "condition": "used", "disposition": "refund"}


def _new(customer, actor, quantity=1):
    return services.return_create(
        actor=actor, fields={**FIELDS, "order_line": customer.line, "quantity": quantity}
    )


def test_state_machine(customers, personas):
    alice = customers[0]
    row = _new(alice, personas.owner)
    assert row.status == "requested" and row.product_id == alice.line.product_id
    with pytest.raises(ValidationError) as exc:
        services.return_transition(row=row, status="received", actor=personas.owner)
    assert exc.value.error_dict["status"][0].code == "invalid_transition"
    for status in ("approved", "received", "inspected", "replaced"):
        row = services.return_transition(row=row, status=status, actor=personas.owner, note="ok")
    assert row.status == "replaced" and row.resolved_at and row.received_at and row.decided_at
    assert row.version == 5
    for status in ("requested", "approved", "refunded", "rejected"):
        with pytest.raises(ValidationError):
            services.return_transition(row=row, status=status, actor=personas.owner)
    events = TimelineEvent.objects.filter(kind="return_status", contact=alice.contact)
    assert [e.payload["to"] for e in events.order_by("occurred_at", "id")] == [
        "requested",
        "approved",
        "received",
        "inspected",
        "replaced",
    ]
    assert all(e.order_id == alice.order.pk and e.account_id == alice.account.pk for e in events)
    rejected = _new(alice, personas.owner)
    rejected = services.return_transition(row=rejected, status="rejected", actor=personas.owner)
    with pytest.raises(ValidationError):
        services.return_transition(row=rejected, status="approved", actor=personas.owner)
    with pytest.raises(PermissionDenied):
        services.return_transition(row=rejected, status="approved", actor=personas.reader)


def test_quantity_at_most_what_was_ordered(customers, personas):
    alice = customers[0]  # 3 ordered
    first = _new(alice, personas.owner, quantity=2)
    with pytest.raises(ValidationError) as exc:
        _new(alice, personas.owner, quantity=2)
    assert "at most 1" in str(exc.value)
    services.return_transition(row=first, status="rejected", actor=personas.owner)
    _new(alice, personas.owner, quantity=3)  # a rejected return frees its quantity
    with pytest.raises(ValidationError):
        services.return_create(
            actor=personas.owner, fields={**FIELDS, "asset": alice.asset, "quantity": 2}
        )


def test_portal_start_a_return_and_staff_flow(customers, personas):
    alice, bob = customers
    client = portal_client(alice.portal_user)
    form = client.get(f"/portal/returns/new/?order_line={alice.line.pk}")
    assert form.status_code == 200
    too_many = client.post(
        "/portal/returns/new/", {**FIELDS, "order_line": alice.line.pk, "quantity": 4}
    )
    assert too_many.status_code == 422
    response = client.post(
        "/portal/returns/new/", {**FIELDS, "order_line": alice.line.pk, "quantity": 2}
    )
    assert response.status_code == 302
    row = ReturnRequest.objects.get()
    assert row.via_portal and row.contact_id == alice.contact.pk and row.quantity == 2
    assert row.number.encode() in client.get("/portal/returns/").content
    via_asset = client.post("/portal/returns/new/", {**FIELDS, "asset": alice.asset.pk})
    assert via_asset.status_code == 302
    staff = Client()
    staff.force_login(personas.owner)
    assert row.number.encode() in staff.get("/returns/").content
    detail = staff.get(f"/returns/{row.pk}/")
    assert detail.status_code == 200 and b'value="approved"' in detail.content
    staff.post(f"/returns/{row.pk}/move", {"status": "approved"})
    row.refresh_from_db()
    assert row.status == "approved"
    outsider = Client()
    outsider.force_login(personas.outsider)
    assert outsider.get(f"/returns/{row.pk}/").status_code == 404
    assert row.number.encode() not in outsider.get("/returns/").content


def test_api(customers, personas, api_as):
    alice = customers[0]
    api = api_as(personas.owner)
    created = api.post("/api/returns", {**FIELDS, "order_line_id": alice.line.pk, "quantity": "1"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["order_id"] == alice.order.pk
    bad = api.post(f"/api/returns/{pk}/status", {"status": "inspected"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"
    stale = api.post(
        f"/api/returns/{pk}/status", {"status": "approved"}, headers={"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    ok = api.post(f"/api/returns/{pk}/status", {"status": "approved"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert [r["id"] for r in api.get("/api/returns").json()["items"]] == [pk]
    assert api_as(personas.outsider).get(f"/api/returns/{pk}").status_code == 404
    assert api_as(personas.outsider).get("/api/returns").json()["items"] == []
    assert (
        api_as(personas.outsider)
        .post("/api/returns", {**FIELDS, "order_line_id": alice.line.pk})
        .status_code
        == 404
    )


def test_metrics_on_a_hand_computed_set(customers, personas, api_as):
    alice, bob = customers
    # Sold: 3 printers to Alice, 3 to Bob → 6. Returned: 2 (Alice) + 1 (Bob, rejected: not
    # counted) → 2 / 6 = 33.3 %.
    _new(alice, personas.owner, quantity=2)
    services.return_transition(
        row=_new(bob, personas.owner), status="rejected", actor=personas.owner
    )
    now = timezone.now()
    # Complaints (category Complaint): Alice's case resolved in 10 h with "refund", Bob's in
    # 30 h with "refund", Alice's second complaint open → Alice repeats (2 in 90 days).
    Case.objects.filter(pk=alice.case.pk).update(
        created_at=now - datetime.timedelta(hours=10), resolved_at=now, resolution_code="refund"
    )
    Case.objects.filter(pk=bob.case.pk).update(
        created_at=now - datetime.timedelta(hours=30), resolved_at=now, resolution_code="refund"
    )
    Case.objects.filter(pk=alice.colleague_case.pk).update(
        contact=alice.contact, category=alice.case.category
    )
    m = selectors.metrics(personas.admin)
    assert m["return_rate_by_product"] == [
        {
            "product_id": alice.line.product_id,
            "product": "Printer",
            "sold": 6.0,
            "returned": 2.0,
            "rate": 33.3,
        }
    ]
    assert m["complaint_resolution"] == [
        {"resolution_code": "refund", "cases": 2, "avg_hours": 20.0, "median_hours": 20.0}
    ]
    assert [(r["contact_id"], r["complaints"]) for r in m["repeat_complaints"]] == [
        (alice.contact.pk, 2)
    ]
    assert m["open_complaints"] == 1
    api = api_as(personas.admin).get("/api/returns/metrics")
    assert api.status_code == 200 and api.json()["return_rate_by_product"][0]["rate"] == 33.3
    staff = Client()
    staff.force_login(personas.admin)
    assert b"33.3" in staff.get("/returns/metrics/").content

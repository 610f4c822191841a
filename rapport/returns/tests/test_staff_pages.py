"""Staff start returns from the UI: from an order line (order page), an asset (asset page),
the account page's card and the picker on /returns/; then move it through every step."""

import pytest
from django.test import Client

from rapport.returns.models import ReturnRequest
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db
FIELDS = {"reason": "defective", "condition": "used", "disposition": "repair"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_order_and_asset_pages_link_to_a_new_return(customers, personas):
    alice = customers[0]
    staff = _client(personas.owner)
    order_page = staff.get(f"/orders/{alice.order.pk}/").content.decode()
    assert f"/returns/new/?order_line={alice.line.pk}" in order_page
    assert (
        f"/returns/new/?asset={alice.asset.pk}"
        in staff.get(f"/assets/{alice.asset.pk}/").content.decode()
    )
    card = staff.get(f"/returns/for/account/{alice.account.pk}/").content.decode()
    assert f"/returns/new/?account={alice.account.pk}" in card
    assert "New return" in staff.get("/returns/").content.decode()
    reader = _client(personas.reader)
    assert "/returns/new/" not in reader.get(f"/orders/{alice.order.pk}/").content.decode()
    assert reader.get(f"/returns/new/?order_line={alice.line.pk}").status_code == 403


def test_picker_lists_only_visible_sources(customers, personas):
    alice, bob = customers
    staff = _client(personas.owner)
    page = staff.get("/returns/new/", {"account": alice.account.pk}).content.decode()
    assert f"order_line={alice.line.pk}" in page and f"asset={alice.asset.pk}" in page
    assert f"order_line={bob.line.pk}" not in page
    found = staff.get("/returns/new/", {"q": "SN-Bob"}).content.decode()
    assert f"asset={bob.asset.pk}" in found and f"asset={alice.asset.pk}" not in found
    outsider = _client(personas.outsider)
    assert outsider.get("/returns/new/", {"account": alice.account.pk}).status_code == 404
    hidden = outsider.get("/returns/new/", {"q": "SN-Alice"}).content.decode()
    assert f"asset={alice.asset.pk}" not in hidden
    assert outsider.get("/returns/new/", {"order_line": alice.line.pk}).status_code == 404
    assert outsider.post("/returns/new/", {**FIELDS, "asset": alice.asset.pk}).status_code == 404
    assert not ReturnRequest.objects.exists()


def test_create_from_an_order_line_and_walk_every_step(customers, personas):
    alice = customers[0]
    staff = _client(personas.owner)
    form = staff.get("/returns/new/", {"order_line": alice.line.pk, "case": alice.case.pk})
    assert form.status_code == 200 and b'name="quantity"' in form.content
    too_many = staff.post(
        "/returns/new/",
        {**FIELDS, "order_line": alice.line.pk, "quantity": "4", "case": alice.case.pk},
    )
    assert too_many.status_code == 422 and b"at most 3" in too_many.content
    bad_choice = staff.post(
        "/returns/new/", {**FIELDS, "order_line": alice.line.pk, "quantity": "1", "reason": "x"}
    )
    assert bad_choice.status_code == 422 and not ReturnRequest.objects.exists()
    created = staff.post(
        "/returns/new/",
        {**FIELDS, "order_line": alice.line.pk, "quantity": "2", "case": alice.case.pk},
    )
    row = ReturnRequest.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/returns/{row.pk}/"
    assert (row.contact_id, row.account_id, row.case_id, row.quantity) == (
        alice.contact.pk,
        alice.account.pk,
        alice.case.pk,
        2,
    )
    assert not row.via_portal and row.created_by == personas.owner
    for status in ("approved", "received", "inspected", "repaired"):
        page = staff.get(f"/returns/{row.pk}/").content.decode()
        assert f'value="{status}"' in page
        staff.post(f"/returns/{row.pk}/move", {"status": status, "note": f"step {status}"})
        row.refresh_from_db()
        assert row.status == status
    steps = TimelineEvent.objects.filter(kind="return_status", payload__return_id=row.pk)
    assert steps.count() == 5
    assert (
        "RMA-"
        in _client(personas.owner).get(f"/returns/for/contact/{alice.contact.pk}/").content.decode()
    )


def test_create_from_an_asset_is_one_unit(customers, personas):
    alice = customers[0]
    staff = _client(personas.owner)
    form = staff.get("/returns/new/", {"asset": alice.asset.pk})
    assert form.status_code == 200 and b'name="quantity"' not in form.content
    response = staff.post("/returns/new/", {**FIELDS, "asset": alice.asset.pk, "quantity": "5"})
    row = ReturnRequest.objects.get()
    assert response.status_code == 302 and row.asset_id == alice.asset.pk and row.quantity == 1

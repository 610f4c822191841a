"""The installed base: warranty dates, one asset per unit sold of a tracked product on every
order path (service, API, bulk API, order form), manual assets, visibility (404)."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from rapport.accounts.services import account_create, contact_create
from rapport.assets.models import Asset
from rapport.assets.services import asset_create, asset_update
from rapport.assets.warranty import add_months, warranty_end_for, warranty_status
from rapport.orders.services import order_create, orders_bulk_create
from rapport.records.exceptions import PermissionDenied
from rapport.sales.models import Product
from rapport.timeline.models import EventKind, TimelineEvent

ORDERED = datetime.datetime(2025, 1, 31, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


@pytest.fixture
def tracked(db):
    return Product.objects.create(
        sku="BOIL-1", name="Boiler", unit_price=Decimal("900"), is_tracked=True, warranty_months=1
    )


@pytest.fixture
def plain(db):
    return Product.objects.create(sku="FILT-1", name="Filter", unit_price=Decimal("9"))


# ----- warranty ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime.date(2025, 1, 31), 1, datetime.date(2025, 2, 28)),
        (datetime.date(2024, 1, 31), 1, datetime.date(2024, 2, 29)),  # leap year
        (datetime.date(2025, 3, 31), 1, datetime.date(2025, 4, 30)),
        (datetime.date(2025, 11, 30), 3, datetime.date(2026, 2, 28)),  # over the year end
        (datetime.date(2025, 12, 15), 1, datetime.date(2026, 1, 15)),
        (datetime.date(2024, 2, 29), 12, datetime.date(2025, 2, 28)),
        (datetime.date(2025, 6, 10), 24, datetime.date(2027, 6, 10)),
    ],
)
def test_add_months_clamps_to_the_month_end(start, months, end):
    assert add_months(start, months) == end


def test_no_warranty_without_months_or_start():
    assert warranty_end_for(datetime.date(2025, 1, 1), 0) is None
    assert warranty_end_for(None, 12) is None


def test_warranty_status():
    today = datetime.date(2025, 6, 1)
    assert warranty_status(None, today) == "none"
    assert warranty_status(datetime.date(2025, 5, 31), today) == "expired"
    assert warranty_status(today, today) == "expires_soon"  # the last day still covers
    assert warranty_status(datetime.date(2025, 7, 31), today) == "expires_soon"
    assert warranty_status(datetime.date(2025, 8, 1), today) == "in_warranty"


# ----- one asset per unit sold ----------------------------------------------------------------


def _lines(tracked, plain, qty="3"):
    return [
        {"product_id": tracked.pk, "quantity": Decimal(qty), "unit_price": Decimal("900")},
        {"product_id": plain.pk, "quantity": Decimal("5"), "unit_price": Decimal("9")},
    ]


def test_order_service_makes_one_asset_per_unit_of_a_tracked_product(
    personas, account, tracked, plain
):
    order = order_create(
        actor=personas.owner,
        fields={"ordered_at": ORDERED},
        lines=_lines(tracked, plain),
        account=account,
    )
    assets = list(Asset.objects.filter(order_line__order=order))
    assert len(assets) == 3
    assert {a.product_id for a in assets} == {tracked.pk}
    assert {a.account_id for a in assets} == {account.pk}
    # Jan 31 + 1 month of warranty = Feb 28 (2025 is no leap year).
    assert {a.install_date for a in assets} == {datetime.date(2025, 1, 31)}
    assert {a.warranty_end for a in assets} == {datetime.date(2025, 2, 28)}
    event = TimelineEvent.objects.get(kind=EventKind.ASSET_CHANGED, order=order)
    assert event.account_id == account.pk
    assert sorted(event.payload["assets"]) == sorted(a.pk for a in assets)


def test_fractional_quantities_make_whole_units(personas, account, tracked, plain):
    order = order_create(
        actor=personas.owner,
        fields={"ordered_at": ORDERED},
        lines=_lines(tracked, plain, qty="2.5"),
        account=account,
    )
    assert Asset.objects.filter(order_line__order=order).count() == 2


def test_untracked_products_make_no_assets(personas, account, plain):
    order_create(
        actor=personas.owner,
        fields={"ordered_at": ORDERED},
        lines=[{"product_id": plain.pk, "quantity": Decimal("4"), "unit_price": Decimal("9")}],
        account=account,
    )
    assert not Asset.objects.exists()


def test_contact_only_order_puts_assets_on_the_contact(personas, account, tracked, plain):
    contact = contact_create(actor=personas.owner, fields={"last_name": "Doe"})
    order_create(
        actor=personas.owner,
        fields={"ordered_at": ORDERED},
        lines=_lines(tracked, plain, qty="1"),
        contact=contact,
    )
    asset = Asset.objects.get()
    assert (asset.contact_id, asset.account_id) == (contact.pk, None)


def test_order_api_makes_assets(api_as, personas, account, tracked, plain):
    body = {
        "account_id": account.pk,
        "ordered_at": "2025-01-31T10:00:00Z",
        "lines": [
            {"product_id": tracked.pk, "quantity": "2", "unit_price": "900"},
            {"product_id": plain.pk, "quantity": "1", "unit_price": "9"},
        ],
    }
    response = api_as(personas.owner).post("/api/orders", body)
    assert response.status_code == 201, response.data
    assert Asset.objects.filter(order_line__order_id=response.data["id"]).count() == 2


def test_bulk_import_makes_assets_per_order(personas, account, tracked, plain):
    rows = [
        {
            "external_id": f"B-{i}",
            "account_id": account.pk,
            "ordered_at": "2025-01-31T10:00:00Z",
            "lines": [{"product_id": tracked.pk, "quantity": str(i), "unit_price": "900"}],
        }
        for i in (1, 2)
    ]
    result = orders_bulk_create(actor=personas.owner, rows=rows)
    assert result["created"] == 2
    assert Asset.objects.count() == 3
    again = orders_bulk_create(actor=personas.owner, rows=rows)  # re-sent: nothing twice
    assert again["existing"] == 2
    assert Asset.objects.count() == 3


def test_order_form_makes_assets(personas, account, tracked):
    client = Client()
    client.force_login(personas.owner)
    response = client.post(
        "/orders/new",
        {
            "account": account.pk,
            "ordered_at": "2025-01-31T10:00",
            "channel": "web",
            "status": "paid",
            "line_count": "1",
            "line0-product": tracked.pk,
            "line0-quantity": "2",
            "line0-unit_price": "900",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Asset.objects.filter(account=account).count() == 2


# ----- by hand, API, visibility -----------------------------------------------------------


def test_manual_asset_takes_warranty_from_install_date(personas, account, tracked):
    asset = asset_create(
        actor=personas.owner,
        product=tracked,
        account=account,
        serial_number="SN-1",
        install_date=datetime.date(2024, 1, 31),
    )
    assert asset.warranty_end == datetime.date(2024, 2, 29)
    assert TimelineEvent.objects.filter(kind=EventKind.ASSET_CHANGED, account=account).exists()


def test_outsider_may_not_add_or_change(personas, account, tracked):
    with pytest.raises(PermissionDenied):
        asset_create(actor=personas.outsider, product=tracked, account=account)
    asset = asset_create(actor=personas.owner, product=tracked, account=account)
    with pytest.raises(PermissionDenied):
        asset_update(asset=asset, actor=personas.reader, fields={"location": "x"})


def test_asset_api_round_trip_and_404_for_the_unseen(api_as, personas, account, tracked):
    owner = api_as(personas.owner)
    response = owner.post(
        "/api/assets",
        {
            "product_id": tracked.pk,
            "account_id": account.pk,
            "serial_number": "SN-9",
            "install_date": "2025-01-31",
        },
    )
    assert response.status_code == 201, response.data
    pk = response.data["id"]
    assert response.data["warranty_end"] == "2025-02-28"
    assert response.data["warranty_status"] in {"expired", "expires_soon", "in_warranty"}
    changed = owner.patch(
        f"/api/assets/{pk}", {"location": "Basement"}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    assert changed.data["version"] == 2
    stale = owner.patch(f"/api/assets/{pk}", {"location": "Roof"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    listed = owner.get("/api/assets", account_id=account.pk)
    assert [a["id"] for a in listed.data["items"]] == [pk]
    outsider = api_as(personas.outsider)
    assert outsider.get(f"/api/assets/{pk}").status_code == 404
    assert outsider.get("/api/assets").data["items"] == []
    assert outsider.patch(f"/api/assets/{pk}", {"location": "x"}).status_code == 404


def test_pages_and_record_card(personas, account, tracked):
    asset = asset_create(
        actor=personas.owner, product=tracked, account=account, serial_number="SN-PAGE"
    )
    client = Client()
    client.force_login(personas.owner)
    assert "SN-PAGE" in client.get("/assets/").content.decode()
    assert "SN-PAGE" in client.get(f"/assets/{asset.pk}/").content.decode()
    card = client.get(f"/assets/for/account/{account.pk}/")
    assert card.status_code == 200 and "SN-PAGE" in card.content.decode()
    assert "Installed products" in client.get(f"/accounts/{account.pk}/").content.decode()
    other = Client()
    other.force_login(personas.outsider)
    assert other.get(f"/assets/{asset.pk}/").status_code == 404
    assert other.get(f"/assets/for/account/{account.pk}/").status_code == 404
    assert "SN-PAGE" not in other.get("/assets/").content.decode()


def test_product_api_has_tracking_fields(api_as, personas):
    response = api_as(personas.manager).post(
        "/api/products",
        {"sku": "T-1", "name": "Tracked", "is_tracked": True, "warranty_months": 24},
    )
    assert response.status_code == 201, response.data
    assert (response.data["is_tracked"], response.data["warranty_months"]) == (True, 24)

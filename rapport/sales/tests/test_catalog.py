"""Products and price books: everyone reads, managers and admins write; used products are
deactivated instead of deleted."""

import datetime
from decimal import Decimal

import pytest

from rapport.orders.models import Order, OrderLine
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.sales.models import PriceBook, Product
from rapport.sales.services import (
    line_item_add,
    price_book_create,
    price_book_update,
    product_create,
    product_delete,
    product_update,
)

pytestmark = pytest.mark.django_db


def test_managers_and_admins_write_the_catalogue(personas):
    for user in (personas.manager, personas.admin):
        product_create(actor=user, fields={"sku": f"S-{user.pk}", "name": "Widget"})
    for user in (personas.owner, personas.reader):
        with pytest.raises(PermissionDenied):
            product_create(actor=user, fields={"sku": "NO", "name": "Nope"})
        with pytest.raises(PermissionDenied):
            price_book_create(actor=user, fields={"name": "Nope"})


def test_sku_is_unique(personas, make_product):
    product = make_product(sku="ABC")
    with pytest.raises(Conflict) as exc:
        product_create(actor=personas.manager, fields={"sku": "ABC", "name": "Again"})
    assert exc.value.field == "sku"
    other = make_product()
    with pytest.raises(Conflict):
        product_update(product=other, actor=personas.manager, fields={"sku": product.sku})


def test_product_update_is_versioned(personas, make_product):
    product = make_product()
    product_update(product=product, actor=personas.manager, fields={"currency": "usd"})
    assert (product.currency, product.version) == ("USD", 2)
    with pytest.raises(StaleVersion):
        product_update(
            product=product, actor=personas.manager, fields={"name": "X"}, expected_version=1
        )


def test_unused_product_is_deleted(personas, make_product):
    product = make_product()
    assert product_delete(product=product, actor=personas.manager) is True
    assert not Product.objects.filter(pk=product.pk).exists()


def test_product_on_a_line_item_is_deactivated(personas, make_product, make_opportunity):
    product = make_product()
    line_item_add(opportunity=make_opportunity(), actor=personas.owner, product=product)
    assert product_delete(product=product, actor=personas.manager) is False
    product.refresh_from_db()
    assert product.is_active is False


def test_product_on_an_order_is_deactivated(personas, make_product, account):
    product = make_product()
    order = Order.objects.create(account=account, ordered_at=datetime.datetime.now(datetime.UTC))
    OrderLine.objects.create(order=order, product=product, unit_price=Decimal("1"))
    assert product_delete(product=product, actor=personas.manager) is False
    assert Product.objects.get(pk=product.pk).is_active is False


def test_one_default_price_book(personas):
    a = price_book_create(actor=personas.manager, fields={"name": "A", "is_default": True})
    b = price_book_create(actor=personas.manager, fields={"name": "B"})
    price_book_update(price_book=b, actor=personas.manager, fields={"is_default": True})
    assert list(PriceBook.objects.filter(is_default=True)) == [b]
    a.refresh_from_db()
    assert a.is_default is False
    with pytest.raises(Conflict):
        price_book_create(actor=personas.manager, fields={"name": "A"})


# ----- API ----------------------------------------------------------------------------------


def test_product_endpoints(personas, api_as):
    api = api_as(personas.manager)
    r = api.post(
        "/api/products",
        {"sku": "W-1", "name": "Widget", "unit_price": "9.50", "category": "Parts"},
    )
    assert (r.status_code, r["ETag"]) == (201, '"1"'), r.data
    pk = r.data["id"]
    assert Decimal(r.data["unit_price"]) == Decimal("9.50")
    r = api.patch(f"/api/products/{pk}", {"unit_cost": "4.00"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["version"], Decimal(r.data["unit_cost"])) == (
        200,
        2,
        Decimal("4"),
    )
    r = api.patch(f"/api/products/{pk}", {"name": "Gadget"}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    reader = api_as(personas.reader)
    assert reader.get(f"/api/products/{pk}").data["name"] == "Widget"
    assert [p["sku"] for p in reader.get("/api/products", q="widg").data["items"]] == ["W-1"]
    assert reader.get("/api/products", category="parts").data["count"] == 1
    assert reader.get("/api/products", is_active="false").data["count"] == 0
    r = api.post("/api/products", {"sku": "W-1", "name": "Dup"})
    assert (r.status_code, r.data["field"]) == (409, "sku")
    r = api.post("/api/products", {"sku": "W-2", "name": "X", "unit_price": "-1"})
    assert (r.status_code, r.data["field"]) == (422, "unit_price")
    assert api.delete(f"/api/products/{pk}").status_code == 204
    assert api.get(f"/api/products/{pk}").status_code == 404


def test_reps_and_readers_get_403_on_catalogue_writes(personas, api_as, make_product):
    product = make_product()
    book = price_book_create(actor=personas.manager, fields={"name": "Main"})
    for user in (personas.owner, personas.reader):
        api = api_as(user)
        assert api.get(f"/api/products/{product.pk}").status_code == 200
        assert api.post("/api/products", {"sku": "X", "name": "X"}).status_code == 403
        assert api.patch(f"/api/products/{product.pk}", {"name": "X"}).status_code == 403
        assert api.delete(f"/api/products/{product.pk}").status_code == 403
        assert api.post("/api/price-books", {"name": "X"}).status_code == 403
        assert api.patch(f"/api/price-books/{book.pk}", {"name": "X"}).status_code == 403
        url = f"/api/price-books/{book.pk}/entries/{product.pk}"
        assert api.put(url, {"unit_price": "1"}).status_code == 403
        assert api.delete(url).status_code == 403
        assert api.delete(f"/api/price-books/{book.pk}").status_code == 403


def test_used_product_delete_deactivates_it(personas, api_as, make_product, make_opportunity):
    product = make_product()
    line_item_add(opportunity=make_opportunity(), actor=personas.owner, product=product)
    api = api_as(personas.admin)
    assert api.delete(f"/api/products/{product.pk}").status_code == 204
    assert api.get(f"/api/products/{product.pk}").data["is_active"] is False


def test_price_book_endpoints(personas, api_as, make_product):
    product = make_product(unit_price=Decimal("10"))
    api = api_as(personas.manager)
    r = api.post("/api/price-books", {"name": "Partners", "currency": "eur", "is_default": True})
    assert r.status_code == 201, r.data
    pk = r.data["id"]
    assert (r.data["currency"], r.data["is_default"]) == ("EUR", True)
    r = api.put(f"/api/price-books/{pk}/entries/{product.pk}", {"unit_price": "8.00"})
    assert (r.status_code, r.data["product_sku"]) == (200, product.sku)
    r = api.put(f"/api/price-books/{pk}/entries/{product.pk}", {"unit_price": "7.50"})
    assert Decimal(r.data["unit_price"]) == Decimal("7.50")
    entries = api_as(personas.reader).get(f"/api/price-books/{pk}/entries").data
    assert [(e["product_id"], Decimal(e["unit_price"])) for e in entries] == [
        (product.pk, Decimal("7.50"))
    ]
    r = api.patch(f"/api/price-books/{pk}", {"name": "Partner prices"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["version"]) == (200, 2)
    assert (
        api.patch(f"/api/price-books/{pk}", {"name": "X"}, headers={"If-Match": '"1"'}).status_code
        == 412
    )
    assert [b["name"] for b in api_as(personas.owner).get("/api/price-books").data["items"]] == [
        "Partner prices"
    ]
    assert api.delete(f"/api/price-books/{pk}/entries/{product.pk}").status_code == 204
    assert api.get(f"/api/price-books/{pk}/entries").data == []
    assert api.put(f"/api/price-books/{pk}/entries/999999", {"unit_price": "1"}).status_code == 404
    assert api.delete(f"/api/price-books/{pk}").status_code == 204
    assert api.get(f"/api/price-books/{pk}").status_code == 404


def test_catalogue_lists_have_fixed_query_counts(
    personas, api_as, make_product, django_assert_max_num_queries
):
    book = price_book_create(actor=personas.manager, fields={"name": "Main"})
    for _ in range(10):
        product = make_product()
        api_as(personas.manager).put(
            f"/api/price-books/{book.pk}/entries/{product.pk}", {"unit_price": "1"}
        )
        price_book_create(actor=personas.manager, fields={"name": f"Book {product.pk}"})
    api = api_as(personas.owner)
    api.get("/api/me")  # a token's first use records last_used_at: keep it out of the count
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/products").data["items"]) == 10
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/price-books").data["items"]) == 11
    with django_assert_max_num_queries(4):
        assert len(api.get(f"/api/price-books/{book.pk}/entries").data) == 10

"""Product and price book pages: everyone reads, managers and admins write; filters,
forms with errors next to the field, deactivation with undo, price book entries."""

import re
from decimal import Decimal

import pytest

from rapport.sales.models import PriceBook, PriceBookEntry, Product
from rapport.sales.services import price_book_create, price_book_entry_set, product_update
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _names(page: str) -> list[str]:
    return re.findall(r'class="cell-text cell-primary"><a href="/products/\d+/">([^<]+)</a>', page)


@pytest.fixture
def book(personas):
    return price_book_create(actor=personas.manager, fields={"name": "Europe", "currency": "EUR"})


# ----- who may do what ----------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(personas, make_product, book):
    product = make_product()
    for url in (
        "/products/",
        f"/products/{product.pk}/",
        "/products/price-books/",
        f"/products/price-books/{book.pk}/",
    ):
        r = ui_client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/?next="), url


def test_rep_reads_the_catalogue_without_edit_controls(personas, make_product, book):
    product = make_product(name="Widget")
    client = ui_client(personas.owner)
    page = text_of(client.get("/products/"))
    assert "Widget" in page and "New product" not in page
    assert '<select name="category"' in page and ">Trash<" not in page
    detail = text_of(client.get(f"/products/{product.pk}/"))
    assert "Widget" in detail
    assert f"/products/{product.pk}/edit" not in detail and "Deactivate" not in detail
    book_page = text_of(client.get(f"/products/price-books/{book.pk}/"))
    assert "Add price" not in book_page
    assert "New price book" not in text_of(client.get("/products/price-books/"))


def test_rep_gets_403_on_every_catalogue_write(personas, make_product, book):
    product = make_product(name="Widget")
    client = ui_client(personas.owner)
    assert client.get("/products/new").status_code == 403
    assert client.get(f"/products/{product.pk}/edit").status_code == 403
    assert client.get("/products/price-books/new").status_code == 403
    for url, data in (
        ("/products/new", {"sku": "X", "name": "X", "unit_price": "1", "currency": "EUR"}),
        (f"/products/{product.pk}/edit", {"sku": "X", "name": "Hacked", "unit_price": "1"}),
        (f"/products/{product.pk}/deactivate", {}),
        ("/products/price-books/new", {"name": "Mine", "currency": "EUR"}),
        (f"/products/price-books/{book.pk}/entries", {"product": product.pk, "unit_price": "1"}),
        (f"/products/price-books/{book.pk}/entries/{product.pk}/delete", {}),
        (f"/products/price-books/{book.pk}/delete", {}),
    ):
        assert client.post(url, data).status_code == 403, url
    product.refresh_from_db()
    assert (product.name, product.is_active) == ("Widget", True)
    assert PriceBook.objects.count() == 1 and not PriceBookEntry.objects.exists()


def test_unknown_product_and_book_are_404(personas):
    client = ui_client(personas.manager)
    assert client.get("/products/99999/").status_code == 404
    assert client.get("/products/price-books/99999/").status_code == 404


# ----- the list -------------------------------------------------------------------------


def test_list_filters_by_category_status_and_text(personas, make_product):
    make_product(name="Blue widget", category="Widgets")
    make_product(name="Red widget", category="Widgets", is_active=False)
    make_product(name="Support plan", category="Services")
    client = ui_client(personas.owner)
    assert _names(text_of(client.get("/products/?category=Widgets"))) == [
        "Blue widget",
        "Red widget",
    ]
    page = text_of(client.get("/products/?is_active=false"))
    assert _names(page) == ["Red widget"]
    assert "Status: Inactive" in page
    assert _names(text_of(client.get("/products/?q=support"))) == ["Support plan"]
    assert '<option value="Services">Services</option>' in text_of(client.get("/products/"))


def test_list_shows_prices_right_aligned_with_currency(personas, make_product):
    make_product(name="Pricey", unit_price=Decimal("1234.5"), currency="USD")
    page = text_of(ui_client(personas.owner).get("/products/"))
    assert '<td class="cell-money">1,234.50 USD</td>' in page


def test_product_csv_export(personas, make_product):
    make_product(name="Exported", sku="EXP-1")
    rows = csv_rows(ui_client(personas.owner).get("/products/export.csv"))
    assert rows[0][:3] == ["ID", "Name", "SKU"]
    assert rows[1][1:3] == ["Exported", "EXP-1"]


def test_product_list_has_no_n_plus_one(personas, make_product):
    client = ui_client(personas.owner)
    for _ in range(3):
        make_product()
    url = "/products/?cols=name,sku,category,price,cost,status,created,updated"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    for _ in range(17):
        make_product()
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


# ----- create, edit, deactivate ----------------------------------------------------------


def test_manager_creates_a_product(personas):
    r = ui_client(personas.manager).post(
        "/products/new",
        {
            "sku": "NEW-1",
            "name": "Gadget",
            "category": "Gadgets",
            "unit_price": "49.90",
            "currency": "usd",
            "is_active": "on",
        },
    )
    product = Product.objects.get()
    assert r.status_code == 302
    assert r["Location"] == f"/products/{product.pk}/"
    assert (product.sku, product.unit_price, product.currency) == ("NEW-1", Decimal("49.90"), "USD")


def test_product_form_errors_are_next_to_the_field(personas, make_product):
    make_product(sku="TAKEN")
    client = ui_client(personas.admin)
    r = client.post(
        "/products/new", {"sku": "TAKEN", "name": "Dup", "unit_price": "1", "currency": "EUR"}
    )
    assert r.status_code == 422
    assert field_error(r, "SKU &#x27;TAKEN&#x27; exists")
    r = client.post(
        "/products/new", {"sku": " x", "name": "", "unit_price": "-1", "currency": "EURX"}
    )
    assert field_error(r, "This field is required")
    assert field_error(r, "greater than or equal to 0")
    assert field_error(r, "“EURX” is not a currency")
    assert Product.objects.count() == 1


def test_edit_with_stale_version_says_someone_else_changed_it(personas, make_product):
    product = make_product(name="Old")
    product_update(product=product, actor=personas.admin, fields={"name": "Admin's"})
    r = ui_client(personas.manager).post(
        f"/products/{product.pk}/edit",
        {"sku": product.sku, "name": "Mine", "unit_price": "1", "currency": "EUR", "version": 1},
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    product.refresh_from_db()
    assert product.name == "Admin's"


def test_deactivate_offers_undo_and_activate_brings_it_back(personas, make_product):
    product = make_product(name="Old model")
    client = ui_client(personas.manager)
    r = client.post(f"/products/{product.pk}/deactivate", follow=True)
    assert "Old model deactivated" in text_of(r)
    assert f'action="/products/{product.pk}/activate"' in text_of(r)
    product.refresh_from_db()
    assert product.is_active is False
    client.post(f"/products/{product.pk}/activate")
    product.refresh_from_db()
    assert product.is_active is True


# ----- price books ------------------------------------------------------------------------


def test_manager_creates_a_price_book_and_adds_prices(personas, make_product):
    widget = make_product(name="Widget")
    client = ui_client(personas.manager)
    r = client.post(
        "/products/price-books/new", {"name": "Retail", "currency": "eur", "is_active": "on"}
    )
    book = PriceBook.objects.get(name="Retail")
    assert r["Location"] == f"/products/price-books/{book.pk}/"
    page = text_of(client.get(f"/products/price-books/{book.pk}/"))
    assert "Widget (SKU-1)" in page  # offered in the "add a price" list
    r = client.post(
        f"/products/price-books/{book.pk}/entries", {"product": widget.pk, "unit_price": "80"}
    )
    assert r.status_code == 302
    assert PriceBookEntry.objects.get().unit_price == Decimal("80.00")
    page = text_of(client.get(f"/products/price-books/{book.pk}/"))
    assert 'value="80.00"' in page
    assert "Every active product has a price in this book" in page


def test_price_change_in_place_returns_the_row(personas, make_product, book):
    widget = make_product(name="Widget")
    price_book_entry_set(
        price_book=book, product=widget, unit_price=Decimal("10"), actor=personas.manager
    )
    client = ui_client(personas.manager)
    r = client.post(
        f"/products/price-books/{book.pk}/entries",
        {"product": widget.pk, "unit_price": "12.50", "row": "1"},
        headers=HTMX,
    )
    body = text_of(r)
    assert r.status_code == 200
    assert f'id="entry-{widget.pk}"' in body and "<html" not in body
    assert 'value="12.50"' in body
    assert PriceBookEntry.objects.get().unit_price == Decimal("12.50")
    r = client.post(
        f"/products/price-books/{book.pk}/entries",
        {"product": widget.pk, "unit_price": "-3", "row": "1"},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert field_error(r, "greater than or equal to 0")
    assert PriceBookEntry.objects.get().unit_price == Decimal("12.50")


def test_remove_a_price_and_delete_a_book(personas, make_product, book):
    widget = make_product(name="Widget")
    price_book_entry_set(
        price_book=book, product=widget, unit_price=Decimal("10"), actor=personas.manager
    )
    client = ui_client(personas.admin)
    client.post(f"/products/price-books/{book.pk}/entries/{widget.pk}/delete")
    assert not PriceBookEntry.objects.exists()
    r = client.post(f"/products/price-books/{book.pk}/delete", follow=True)
    assert "Price book Europe deleted" in text_of(r)
    assert not PriceBook.objects.exists()


def test_price_book_name_clash_is_shown_next_to_the_name(personas, book):
    r = ui_client(personas.manager).post(
        "/products/price-books/new", {"name": "Europe", "currency": "EUR"}
    )
    assert r.status_code == 422
    assert field_error(r, "A price book named")


def test_product_page_lists_its_price_book_prices(personas, make_product, book):
    widget = make_product(name="Widget")
    price_book_entry_set(
        price_book=book, product=widget, unit_price=Decimal("77"), actor=personas.manager
    )
    page = text_of(ui_client(personas.owner).get(f"/products/{widget.pk}/"))
    assert f'href="/products/price-books/{book.pk}/">Europe</a>' in page
    assert "77.00 EUR" in page


def test_price_book_page_has_no_n_plus_one(personas, make_product, book):
    client = ui_client(personas.manager)
    for _ in range(3):
        price_book_entry_set(
            price_book=book, product=make_product(), unit_price=Decimal("1"), actor=personas.manager
        )
    url = f"/products/price-books/{book.pk}/"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    for _ in range(17):
        price_book_entry_set(
            price_book=book, product=make_product(), unit_price=Decimal("1"), actor=personas.manager
        )
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)
    assert count_queries(lambda: client.get("/products/price-books/")) <= 8


def test_user_text_is_escaped_on_catalogue_pages(personas, make_product, book):
    evil = "<script>alert(1)</script>"
    product = make_product(name=evil, category=evil, description=evil)
    price_book_entry_set(
        price_book=book, product=product, unit_price=Decimal("1"), actor=personas.manager
    )
    client = ui_client(personas.manager)
    for url in (
        "/products/",
        f"/products/{product.pk}/",
        f"/products/{product.pk}/edit",
        f"/products/price-books/{book.pk}/",
    ):
        body = text_of(client.get(url))
        assert evil not in body, url
        assert "&lt;script&gt;" in body, url

"""Order pages: the list and its filters, the order page and its status change, the order
form with its line rows — who sees and changes what, and the total the service computes."""

import re
from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.orders.models import Order
from rapport.orders.services import order_update
from rapport.orders.tests.conftest import ORDERED_AT, line
from rapport.records.services import record_share
from rapport.sales.models import Product
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _labels(page: str) -> list[str]:
    return re.findall(r'class="cell-text cell-primary"><a href="/orders/\d+/">([^<]+)</a>', page)


def _post_order(client, account=None, contact=None, rows=(), **fields):
    data = {
        "account": account.pk if account else "",
        "contact": contact.pk if contact else "",
        "ordered_at": "2030-05-15T10:00",
        "channel": "web",
        "status": "paid",
        "line_count": len(rows),
        **fields,
    }
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[f"line{i}-{name}"] = value
    return client.post("/orders/new", data)


# ----- access -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(personas, make_order):
    order = make_order()
    for url in ("/orders/", "/orders/new", f"/orders/{order.pk}/", f"/orders/{order.pk}/edit"):
        r = ui_client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login/?next="), url


def test_outsider_gets_404_on_every_order_url(personas, make_order):
    order = make_order(external_id="SECRET-1")
    client = ui_client(personas.outsider)
    base = f"/orders/{order.pk}/"
    assert client.get(base).status_code == 404
    assert client.get(base + "edit").status_code == 404
    for url in (base + "status", base + "delete", base + "edit"):
        assert client.post(url, {"status": "cancelled", "version": 1}).status_code == 404, url
    assert "SECRET-1" not in text_of(client.get("/orders/"))
    order.refresh_from_db()
    assert order.status == "paid"


def test_reader_sees_the_order_but_cannot_change_it(personas, make_order, account):
    order = make_order()
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    client = ui_client(personas.reader)
    page = text_of(client.get(f"/orders/{order.pk}/"))
    assert "Acme" in page
    assert f"/orders/{order.pk}/edit" not in page
    assert 'name="status"' not in page
    assert client.get(f"/orders/{order.pk}/edit").status_code == 403
    r = client.post(f"/orders/{order.pk}/status", {"status": "cancelled", "version": 1})
    assert r.status_code == 403
    assert client.post(f"/orders/{order.pk}/delete").status_code == 403
    assert "New order" not in text_of(client.get("/orders/"))
    order.refresh_from_db()
    assert order.status == "paid"


# ----- the list -------------------------------------------------------------------------


def test_list_filters_by_account_contact_channel_status_and_date(
    personas, make_order, account, contact
):
    other = account_create(actor=personas.owner, fields={"name": "Other Co"})
    make_order(external_id="A-WEB")
    make_order(external_id="A-STORE", channel="store", status="shipped", contact=contact)
    make_order(external_id="O-PHONE", account=other, channel="phone", status="cancelled")
    client = ui_client(personas.owner)
    assert _labels(text_of(client.get(f"/orders/?account_id={other.pk}"))) == ["O-PHONE"]
    page = text_of(client.get(f"/orders/?contact_id={contact.pk}"))
    assert _labels(page) == ["A-STORE"]
    assert "Contact: Doe" in page
    page = text_of(client.get("/orders/?channel=store"))
    assert _labels(page) == ["A-STORE"]
    assert "Channel: Store / POS" in page
    assert _labels(text_of(client.get("/orders/?status=cancelled"))) == ["O-PHONE"]
    assert _labels(text_of(client.get("/orders/?ordered_from=2025-03-02"))) == []
    assert len(_labels(text_of(client.get("/orders/?ordered_to=2025-03-01")))) == 3


def test_list_shows_totals_right_aligned_with_currency(personas, make_order):
    make_order(lines=[line("1000.50", "2"), line("0.25", "4")])
    page = text_of(ui_client(personas.owner).get("/orders/"))
    assert '<td class="cell-money">2,002.00 USD</td>' in page
    assert '<th scope="col" class="num"><a href="?sort=total"' in page
    assert 'name="ordered_from"' in page and ">Trash<" not in page and 'name="tag"' not in page


def test_list_filter_on_an_invisible_account_is_refused(personas, outsider_account):
    r = ui_client(personas.owner).get(f"/orders/?account_id={outsider_account.pk}")
    assert r.status_code == 200
    page = text_of(r)
    assert "Some filters are not valid" in page
    assert "Elsewhere" not in page


def test_list_does_not_name_a_private_account_of_an_order_seen_through_its_contact(personas):
    private = account_create(actor=personas.outsider, fields={"name": "Private Parent"})
    shared = contact_create(
        actor=personas.outsider, fields={"last_name": "Sharedperson", "account": private}
    )
    record_share(record=shared, actor=personas.outsider, user=personas.owner, access="read")
    from rapport.orders.services import order_create

    order = order_create(
        actor=personas.outsider,
        fields={"ordered_at": ORDERED_AT, "external_id": "VIA-CONTACT"},
        lines=[line()],
        account=private,
        contact=shared,
    )
    client = ui_client(personas.owner)
    page = text_of(client.get("/orders/"))
    assert "VIA-CONTACT" in page and "Sharedperson" in page
    assert "Private Parent" not in page
    detail = text_of(client.get(f"/orders/{order.pk}/"))
    assert "Sharedperson" in detail and "Private Parent" not in detail


def test_csv_export_has_only_visible_orders(personas, make_order, outsider_account):
    make_order(external_id="MINE")
    make_order(actor=personas.outsider, account=outsider_account, external_id="THEIRS")
    r = ui_client(personas.owner).get("/orders/export.csv")
    rows = csv_rows(r)
    assert "orders-" in r["Content-Disposition"]
    assert rows[0][:3] == ["ID", "Order", "Date"]
    assert [row[1] for row in rows[1:]] == ["MINE"]


def test_order_list_has_no_n_plus_one(personas, make_order, contact):
    client = ui_client(personas.owner)

    def grow(n):
        for _ in range(n):
            make_order(contact=contact, lines=[line(), line("3")])

    grow(3)
    url = "/orders/?cols=order,date,account,contact,channel,status,lines,total"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


# ----- the order page -------------------------------------------------------------------


def test_order_page_shows_lines_total_and_customer_links(
    personas, make_order, account, contact, product
):
    order = make_order(
        contact=contact,
        lines=[line("9.99", "3", product_id=product.pk), line("5", "1", description="Setup")],
    )
    page = text_of(ui_client(personas.owner).get(f"/orders/{order.pk}/"))
    assert f'href="/accounts/{account.pk}/">Acme</a>' in page
    assert f'href="/contacts/{contact.pk}/">Doe</a>' in page
    assert f'href="/products/{product.pk}/">Widget</a>' in page
    assert "Setup" in page
    assert '<td class="num">29.97 USD</td>' in page
    assert '<td class="num order-total">34.97 USD</td>' in page
    assert f"/orders/?account_id={account.pk}" in page


def test_status_change_in_place_returns_the_status_card(personas, make_order):
    order = make_order()
    client = ui_client(personas.owner)
    r = client.post(f"/orders/{order.pk}/status", {"status": "shipped", "version": 1}, headers=HTMX)
    assert r.status_code == 200
    body = text_of(r)
    assert 'id="order-status"' in body and "<html" not in body
    assert "is now Shipped" in body
    assert 'name="version" value="2"' in body
    order.refresh_from_db()
    assert order.status == "shipped"


def test_status_change_with_stale_version_is_refused(personas, make_order):
    order = make_order()
    order_update(order=order, actor=personas.manager, fields={"channel": "phone"})
    client = ui_client(personas.owner)
    r = client.post(
        f"/orders/{order.pk}/status", {"status": "cancelled", "version": 1}, headers=HTMX
    )
    assert r.status_code == 409
    assert "Someone else changed this record" in text_of(r)
    r = client.post(f"/orders/{order.pk}/status", {"status": "cancelled", "version": 1})
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.status == "paid"
    r = client.post(f"/orders/{order.pk}/status", {"status": "lost", "version": 2}, follow=True)
    assert "Choose one of the statuses" in text_of(r)


def test_delete_removes_the_order(personas, make_order):
    order = make_order(external_id="BIN-1")
    r = ui_client(personas.owner).post(f"/orders/{order.pk}/delete", follow=True)
    assert "Order BIN-1 deleted" in text_of(r)
    assert not Order.objects.exists()


def test_order_page_has_no_n_plus_one(personas, make_order, product):
    client = ui_client(personas.owner)
    small = make_order(lines=[line(product_id=product.pk) for _ in range(3)])
    big = make_order(lines=[line(product_id=product.pk) for _ in range(20)])
    client.get(f"/orders/{small.pk}/")
    few = count_queries(lambda: client.get(f"/orders/{small.pk}/"))
    many = count_queries(lambda: client.get(f"/orders/{big.pk}/"))
    assert few == many, (few, many)


# ----- create and edit ------------------------------------------------------------------


def test_create_with_two_lines_totals_on_the_server(personas, account, product):
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/orders/new?account={account.pk}"))
    assert f'name="account" value="{account.pk}"' in page and 'value="Acme"' in page
    r = _post_order(
        client,
        account,
        rows=[
            {"product": product.pk, "quantity": "2", "unit_price": ""},
            {"description": "Installation", "quantity": "1", "unit_price": "150"},
            {"quantity": "1"},  # an empty row is no line
        ],
        total="1.00",  # whatever a browser claims, the service sums the lines
    )
    order = Order.objects.get()
    assert r.status_code == 302, text_of(r)
    assert r["Location"] == f"/orders/{order.pk}/"
    assert order.total == Decimal("169.98")
    assert order.currency == "USD"
    assert [(ln.description, ln.unit_price) for ln in order.lines.all()] == [
        ("Widget", Decimal("9.99")),
        ("Installation", Decimal("150.00")),
    ]


def test_create_errors_land_next_to_the_line_and_field(personas, account):
    client = ui_client(personas.owner)
    r = _post_order(
        client,
        account,
        rows=[{"description": "Thing", "quantity": "0", "unit_price": "5"}, {"quantity": "2"}],
    )
    assert r.status_code == 422
    assert field_error(r, "Ensure this value is greater than or equal to 0.01")
    r = _post_order(client, account, rows=[{"description": "No price", "quantity": "1"}])
    assert field_error(r, "Give a price, or choose a product")
    r = _post_order(client, None, rows=[{"description": "X", "quantity": "1", "unit_price": "1"}])
    assert field_error(r, "An order needs an account or a contact")
    r = _post_order(client, account, rows=[])
    assert "An order needs at least one line" in text_of(r)
    r = _post_order(
        client,
        account,
        rows=[{"description": "X", "quantity": "1", "unit_price": "1"}],
        currency="EURX",
    )
    assert field_error(r, "“EURX” is not a currency")
    assert not Order.objects.exists()


def test_create_refuses_a_contact_of_another_account(personas, account):
    other = account_create(actor=personas.owner, fields={"name": "Other"})
    stray = contact_create(actor=personas.owner, fields={"last_name": "Stray", "account": other})
    r = _post_order(
        ui_client(personas.owner),
        account,
        stray,
        rows=[{"description": "X", "quantity": "1", "unit_price": "1"}],
    )
    assert r.status_code == 422
    assert field_error(r, "The contact does not belong to this account")


def test_create_refuses_an_invisible_account_and_a_duplicate_external_id(
    personas, account, outsider_account, make_order
):
    client = ui_client(personas.owner)
    rows = [{"description": "X", "quantity": "1", "unit_price": "1"}]
    r = _post_order(client, outsider_account, rows=rows)
    assert r.status_code == 422
    assert "Elsewhere" not in text_of(r)
    make_order(external_id="DUP-1")
    r = _post_order(client, account, rows=rows, external_id="DUP-1")
    assert r.status_code == 422
    assert field_error(r, "You already sent an order with this external_id")
    assert Order.objects.count() == 1


def test_add_and_remove_line_rows_without_javascript(personas, account):
    client = ui_client(personas.owner)
    data = {
        "account": account.pk,
        "ordered_at": "2030-05-15T10:00",
        "channel": "web",
        "status": "paid",
        "line_count": 2,
        "line0-description": "First",
        "line0-quantity": "1",
        "line1-description": "Second",
        "line1-quantity": "3",
        "lines_action": "add",
    }
    r = client.post("/orders/new", data)
    page = text_of(r)
    assert r.status_code == 200
    assert 'name="line_count" value="3"' in page
    assert 'value="First"' in page and 'value="Second"' in page
    assert 'name="line2-quantity"' in page
    assert "field-error" not in page  # a redraw shows no errors yet
    assert not Order.objects.exists()
    r = client.post("/orders/new", {**data, "lines_action": "remove-0"}, headers=HTMX)
    body = text_of(r)
    assert 'id="order-lines"' in body and "<html" not in body
    assert 'name="line_count" value="1"' in body
    assert 'value="Second"' in body and 'value="First"' not in body


def test_edit_replaces_the_lines_and_recomputes_the_total(personas, make_order):
    order = make_order(lines=[line("10", "1", description="Old")])
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/orders/{order.pk}/edit"))
    assert 'value="Old"' in page
    r = client.post(
        f"/orders/{order.pk}/edit",
        {
            "ordered_at": "2025-03-01T10:00",
            "channel": "phone",
            "status": "shipped",
            "version": order.version,
            "line_count": 2,
            "line0-description": "New A",
            "line0-quantity": "2",
            "line0-unit_price": "7.50",
            "line1-description": "New B",
            "line1-quantity": "1",
            "line1-unit_price": "5",
        },
    )
    assert r.status_code == 302, text_of(r)
    order.refresh_from_db()
    assert (order.channel, order.status, order.total) == ("phone", "shipped", Decimal("20.00"))
    assert [ln.description for ln in order.lines.all()] == ["New A", "New B"]


def test_edit_with_stale_version_says_someone_else_changed_it(personas, make_order):
    order = make_order()
    order_update(order=order, actor=personas.manager, fields={"status": "shipped"})
    r = ui_client(personas.owner).post(
        f"/orders/{order.pk}/edit",
        {
            "ordered_at": "2025-03-01T10:00",
            "channel": "web",
            "status": "paid",
            "version": 1,
            "line_count": 1,
            "line0-description": "X",
            "line0-quantity": "1",
            "line0-unit_price": "1",
        },
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    order.refresh_from_db()
    assert order.status == "shipped"


def test_inactive_products_are_not_offered_for_new_lines(personas, account):
    Product.objects.create(sku="OLD", name="Retired thing", is_active=False)
    Product.objects.create(sku="NEW", name="Current thing")
    page = text_of(ui_client(personas.owner).get("/orders/new"))
    assert "Current thing" in page and "Retired thing" not in page


def test_user_text_is_escaped_on_order_pages(personas):
    evil = "<script>alert(1)</script>"
    account = account_create(actor=personas.owner, fields={"name": evil})
    from rapport.orders.services import order_create

    order = order_create(
        actor=personas.owner,
        fields={"ordered_at": ORDERED_AT, "external_id": evil},
        lines=[line(description=evil)],
        account=account,
    )
    client = ui_client(personas.owner)
    new = f"/orders/new?account={account.pk}"  # the account picker shows the name
    for url in ("/orders/", f"/orders/{order.pk}/", f"/orders/{order.pk}/edit", new):
        body = text_of(client.get(url))
        assert evil not in body, url
        assert "&lt;script&gt;" in body, url

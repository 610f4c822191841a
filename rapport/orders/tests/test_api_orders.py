import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.orders.models import Order
from rapport.orders.tests.conftest import line, order_body
from rapport.records.services import record_share

pytestmark = pytest.mark.django_db


def test_owner_creates_gets_updates_lists_and_deletes_order(personas, api_as, account, contact):
    api = api_as(personas.owner)
    r = api.post(
        "/api/orders",
        order_body(account_id=account.pk, contact_id=contact.pk, external_id="W-1", total="1"),
    )
    assert r.status_code == 201, r.data
    assert r["ETag"] == '"1"'
    assert r.data["total"] == "21.00"  # from the lines; the client's total is ignored
    assert r.data["currency"] == "USD"
    assert r.data["lines"][0]["total"] == "21.00"
    pk = r.data["id"]

    r = api.get(f"/api/orders/{pk}")
    assert (r.status_code, r["ETag"], len(r.data["lines"])) == (200, '"1"', 1)

    r = api.patch(
        f"/api/orders/{pk}",
        {"status": "shipped", "lines": [{"unit_price": "3", "quantity": "3"}]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.data
    assert (r.data["status"], r.data["total"], r.data["version"]) == ("shipped", "9.00", 2)
    assert r["ETag"] == '"2"'

    r = api.get("/api/orders")
    assert ([o["id"] for o in r.data["items"]], r.data["count"]) == ([pk], 1)

    assert api.delete(f"/api/orders/{pk}", headers={"If-Match": '"1"'}).status_code == 412
    assert api.delete(f"/api/orders/{pk}").status_code == 204
    assert api.get(f"/api/orders/{pk}").status_code == 404


def test_stale_if_match_gives_412_and_changes_nothing(personas, api_as, make_order):
    order = make_order()
    api = api_as(personas.owner)
    assert api.patch(f"/api/orders/{order.pk}", {"status": "shipped"}).status_code == 200
    r = api.patch(f"/api/orders/{order.pk}", {"status": "refunded"}, headers={"If-Match": '"1"'})
    assert (r.status_code, r.data["code"], r["ETag"]) == (412, "stale_version", '"2"')
    assert api.get(f"/api/orders/{order.pk}").data["status"] == "shipped"


@pytest.mark.parametrize(
    ("who", "get", "patch", "delete"),
    [
        ("owner", 200, 200, 204),
        ("manager", 200, 200, 204),
        ("admin", 200, 200, 204),
        ("teammate", 404, 404, 404),
        ("outsider", 404, 404, 404),
        ("reader", 404, 404, 404),
        ("deactivated", 401, 401, 401),
        ("anonymous", 401, 401, 401),
    ],
)
def test_who_sees_and_changes_an_order(personas, api_as, make_order, who, get, patch, delete):
    order = make_order()
    api = api_as(None if who == "anonymous" else getattr(personas, who))
    assert api.get(f"/api/orders/{order.pk}").status_code == get
    listed = api.get("/api/orders")
    if get == 200:
        assert [o["id"] for o in listed.data["items"]] == [order.pk]
    elif get == 404:
        assert listed.data["items"] == []
    assert api.patch(f"/api/orders/{order.pk}", {"status": "shipped"}).status_code == patch
    assert api.delete(f"/api/orders/{order.pk}").status_code == delete
    assert Order.objects.filter(pk=order.pk).exists() == (delete != 204)


def test_reader_and_read_sharer_see_but_get_403_on_writes(personas, api_as, make_order, account):
    order = make_order()
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="read")
    for user in (personas.reader, personas.teammate):
        api = api_as(user)
        assert api.get(f"/api/orders/{order.pk}").status_code == 200
        assert api.patch(f"/api/orders/{order.pk}", {"status": "shipped"}).status_code == 403
        assert api.delete(f"/api/orders/{order.pk}").status_code == 403
        r = api.post("/api/orders", order_body(account_id=account.pk))
        assert r.status_code == 403
    assert Order.objects.count() == 1


def test_creating_on_an_invisible_customer_is_422_on_the_field(
    personas, api_as, account, outsider_account
):
    api = api_as(personas.owner)
    r = api.post("/api/orders", order_body(account_id=outsider_account.pk))
    assert (r.status_code, r.data["field"], r.data["code"]) == (
        422,
        "account_id",
        "invalid_account",
    )
    r = api.post("/api/orders", order_body(contact_id=987654))
    assert (r.status_code, r.data["field"]) == (422, "contact_id")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"unit_price": "1", "quantity": "0"}]}, "lines[0].quantity"),
        ({"lines": [{"unit_price": "-1"}]}, "lines[0].unit_price"),
        ({"lines": [{"unit_price": "1.001"}]}, "lines[0].unit_price"),
        ({"lines": [{"unit_price": "1", "product_id": 987654}]}, "lines[0].product_id"),
        ({"channel": "fax"}, "channel"),
        ({"status": "lost"}, "status"),
        ({"currency": "EURO"}, "currency"),
        ({"ordered_at": "yesterday"}, "ordered_at"),
        ({"external_id": "x" * 101}, "external_id"),
        ({"account_id": None}, "account_id"),
        (
            {"lines": [{"quantity": "9999999999.99", "unit_price": "999999999999.99"}]},
            "lines",
        ),
    ],
)
def test_bad_input_gives_422_with_the_field(personas, api_as, account, body, field):
    r = api_as(personas.owner).post("/api/orders", order_body(**{"account_id": account.pk, **body}))
    assert r.status_code == 422, r.data
    assert r.data["field"] == field
    assert not Order.objects.exists()


def test_patch_with_bad_values_gives_422(personas, api_as, make_order):
    order = make_order()
    api = api_as(personas.owner)
    for body, field in (
        ({"status": None}, "status"),
        ({"lines": []}, "lines"),
        ({"lines": [{"unit_price": "1", "quantity": "-2"}]}, "lines[0].quantity"),
    ):
        r = api.patch(f"/api/orders/{order.pk}", body)
        assert (r.status_code, r.data["field"]) == (422, field), body
    assert api.get(f"/api/orders/{order.pk}").data["version"] == 1


def test_duplicate_external_id_gives_409(personas, api_as, account):
    api = api_as(personas.owner)
    assert (
        api.post("/api/orders", order_body(account_id=account.pk, external_id="D")).status_code
        == 201
    )
    r = api.post("/api/orders", order_body(account_id=account.pk, external_id="D"))
    assert (r.status_code, r.data["field"]) == (409, "external_id")


def test_orders_show_on_the_account_and_contact_timelines(personas, api_as, account, contact):
    api = api_as(personas.owner)
    pk = api.post("/api/orders", order_body(contact_id=contact.pk)).data["id"]
    api.patch(f"/api/orders/{pk}", {"status": "refunded"})
    for path in (f"/api/accounts/{account.pk}/timeline", f"/api/contacts/{contact.pk}/timeline"):
        items = api.get(path).data["items"]
        mine = [(e["kind"], e["order_id"]) for e in items if e["order_id"]]
        assert mine == [("updated", pk), ("order_placed", pk)], path


def test_list_filters_sort_and_pages(personas, api_as, make_order, contact):
    small = make_order(lines=[line("1", "1")], channel="store")
    big = make_order(lines=[line("100", "1")], contact=contact)
    mid = make_order(lines=[line("10", "1")])
    api = api_as(personas.owner)
    r = api.get("/api/orders", sort="-total", limit=2)
    assert [o["id"] for o in r.data["items"]] == [big.pk, mid.pk]
    r = api.get("/api/orders", sort="-total", limit=2, cursor=r.data["next_cursor"])
    assert ([o["id"] for o in r.data["items"]], r.data["next_cursor"]) == ([small.pk], None)
    assert [o["id"] for o in api.get("/api/orders", channel="store").data["items"]] == [small.pk]
    r = api.get("/api/orders", contact_id=contact.pk)
    assert [o["id"] for o in r.data["items"]] == [big.pk]
    r = api.get("/api/orders", ordered_from="2025-03-01", ordered_to="2025-03-01")
    assert r.data["count"] == 3
    assert api.get("/api/orders", ordered_from="2025-03-01T10:00:01Z").data["count"] == 0
    assert api.get("/api/orders", ordered_to="2025-02-28").data["count"] == 0
    assert api.get("/api/orders", sort="status").status_code == 400
    assert api.get("/api/orders", channel="fax").status_code == 422
    assert api.get("/api/orders", cursor="garbage").status_code == 400


def test_list_queries_do_not_grow_with_rows(
    personas, api_as, make_order, contact, product, django_assert_max_num_queries
):
    def add_orders(n):
        for i in range(n):
            make_order(
                contact=contact if i % 2 else None,
                lines=[line(product_id=product.pk), line("3", "1"), line("4", "2")],
            )

    api = api_as(personas.manager)
    add_orders(2)
    api.get("/api/orders")  # the token's last-use write happens once
    with CaptureQueriesContext(connection) as few:
        api.get("/api/orders", limit=50)
    add_orders(10)
    with django_assert_max_num_queries(10):
        r = api.get("/api/orders", limit=50)
    assert len(r.data["items"]) == 12
    assert all(len(o["lines"]) == 3 for o in r.data["items"])
    with CaptureQueriesContext(connection) as many:
        api.get("/api/orders", limit=50)
    assert len(many) == len(few)

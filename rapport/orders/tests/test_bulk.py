import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.orders.models import Order, OrderLine
from rapport.orders.services import orders_bulk_create
from rapport.orders.tests.conftest import ORDERED_AT, order_body
from rapport.records.services import record_share
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def _batch(account, n: int, prefix: str = "B") -> list[dict]:
    return [order_body(external_id=f"{prefix}-{i}", account_id=account.pk) for i in range(n)]


def test_same_batch_twice_creates_each_order_once(personas, api_as, account):
    api = api_as(personas.owner)
    batch = {"orders": _batch(account, 5)}
    first = api.post("/api/orders/bulk", batch)
    assert first.status_code == 200, first.data
    assert (first.data["created"], first.data["existing"], first.data["failed"]) == (5, 0, 0)
    second = api.post("/api/orders/bulk", batch)
    assert (second.data["created"], second.data["existing"], second.data["failed"]) == (0, 5, 0)
    assert [r["id"] for r in second.data["results"]] == [r["id"] for r in first.data["results"]]
    assert {r["status"] for r in second.data["results"]} == {"existing"}
    assert Order.objects.count() == 5
    assert TimelineEvent.objects.filter(kind=EventKind.ORDER_PLACED).count() == 5


def test_mixed_batch_writes_valid_rows_and_reports_the_others(personas, api_as, account, product):
    api = api_as(personas.owner)
    rows = [
        order_body(external_id="ok-1", account_id=account.pk),
        order_body(
            external_id="bad-qty",
            account_id=account.pk,
            lines=[{"unit_price": "1", "quantity": "0"}],
        ),
        order_body(account_id=account.pk),  # no external_id
        order_body(external_id="no-customer"),
        order_body(
            external_id="bad-product",
            account_id=account.pk,
            lines=[{"product_id": 99999, "unit_price": "1"}],
        ),
        "not an object",
        order_body(external_id="ok-1", account_id=account.pk),  # repeats row 0
        order_body(
            external_id="ok-2",
            account_id=account.pk,
            lines=[{"product_id": product.pk, "quantity": "3", "unit_price": "2.50"}],
            total="99999",  # ignored: the total is computed
        ),
    ]
    r = api.post("/api/orders/bulk", {"orders": rows})
    assert r.status_code == 200, r.data
    assert (r.data["created"], r.data["existing"], r.data["failed"]) == (2, 0, 6)
    by_index = {x["index"]: x for x in r.data["results"]}
    assert [by_index[i]["status"] for i in range(8)] == [
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "created",
    ]
    fields = {i: [e["field"] for e in by_index[i]["errors"]] for i in range(8)}
    assert fields[1] == ["lines[0].quantity"]
    assert fields[2] == ["external_id"]
    assert fields[3] == ["account_id"]
    assert fields[4] == ["lines[0].product_id"]
    assert fields[5] == [None]
    assert fields[6] == ["external_id"]
    assert by_index[6]["errors"][0]["code"] == "duplicate"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}
    ok2 = Order.objects.get(external_id="ok-2")
    assert str(ok2.total) == "7.50"
    assert ok2.lines.get().description == "Widget"


def test_rows_on_customers_the_actor_cannot_see_or_change_fail(
    personas, api_as, account, outsider_account
):
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="read")
    r = api_as(personas.teammate).post(
        "/api/orders/bulk",
        {
            "orders": [
                order_body(external_id="t-1", account_id=account.pk),
                order_body(external_id="t-2", account_id=outsider_account.pk),
            ]
        },
    )
    assert r.status_code == 200
    codes = [(x["errors"][0]["field"], x["errors"][0]["code"]) for x in r.data["results"]]
    assert codes == [("account_id", "forbidden"), ("account_id", "invalid_account")]
    assert not Order.objects.exists()


def test_another_persons_order_with_the_same_id_is_neither_matched_nor_mentioned(
    personas, api_as, account, outsider_account
):
    api_as(personas.owner).post("/api/orders/bulk", {"orders": _batch(account, 1, "S")})
    row = order_body(external_id="S-0", account_id=outsider_account.pk)
    r = api_as(personas.outsider).post("/api/orders/bulk", {"orders": [row]})
    [result] = r.data["results"]
    assert (result["status"], result["errors"]) == ("created", [])
    assert Order.objects.get(pk=result["id"]).account_id == outsider_account.pk
    assert Order.objects.filter(external_id="S-0").count() == 2


def test_concurrent_identical_batch_creates_nothing_twice(personas, account):
    """Another request inserts one of the external ids between our look-up and our insert:
    the unique constraint stops the duplicate and the row is reported as existing."""
    rows = _batch(account, 3, "R")
    state = {"done": False, "rival": None}

    def rival_commits_after_our_lookup(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not state["done"] and "external_id" in sql and sql.lstrip().upper().startswith("SELECT"):
            state["done"] = True
            # The same writer racing itself (another of its requests).
            state["rival"] = Order.objects.create(
                external_id="R-1", account=account, ordered_at=ORDERED_AT, created_by=personas.owner
            )
        return result

    with connection.execute_wrapper(rival_commits_after_our_lookup):
        report = orders_bulk_create(actor=personas.owner, rows=rows)
    assert state["rival"] is not None
    statuses = [(x["external_id"], x["status"], x["id"]) for x in report["results"]]
    rival_id = state["rival"].pk
    assert statuses[1] == ("R-1", "existing", rival_id)
    assert [s[1] for s in statuses] == ["created", "existing", "created"]
    assert Order.objects.count() == 3
    assert OrderLine.objects.count() == 2  # the rival was inserted without lines
    assert TimelineEvent.objects.filter(kind=EventKind.ORDER_PLACED).count() == 2


def test_bulk_of_100_orders_takes_a_handful_of_queries(personas, account, contact, product):
    def rows(prefix: str, n: int) -> list[dict]:
        return [
            order_body(
                external_id=f"{prefix}-{i}",
                account_id=account.pk,
                contact_id=contact.pk if i % 2 else None,
                lines=[
                    {"product_id": product.pk, "quantity": "1", "unit_price": "9.99"},
                    {"description": "Shipping", "unit_price": "4.50"},
                ],
            )
            for i in range(n)
        ]

    with CaptureQueriesContext(connection) as small:
        assert orders_bulk_create(actor=personas.owner, rows=rows("S", 10))["created"] == 10
    with CaptureQueriesContext(connection) as ctx:
        report = orders_bulk_create(actor=personas.owner, rows=rows("Q", 100))
    assert report["created"] == 100
    # Constant in the batch size (SQLite splits inserts in chunks of 999 parameters): the
    # listeners on the timeline (automation, webhooks, segments and lifecycle stages) work
    # on the whole batch at once.
    assert len(ctx.captured_queries) <= len(small.captured_queries) + 3, [
        q["sql"][:80] for q in ctx.captured_queries
    ]
    assert len(ctx.captured_queries) <= 50, [q["sql"][:80] for q in ctx.captured_queries]
    assert OrderLine.objects.count() == 220
    events = TimelineEvent.objects.filter(kind=EventKind.ORDER_PLACED)
    assert events.count() == 110
    assert events.filter(contact=contact, account=account).count() == 55


def test_bulk_writes_order_placed_events_linked_to_the_customer(personas, api_as, account, contact):
    row = order_body(external_id="E-1", contact_id=contact.pk)
    r = api_as(personas.owner).post("/api/orders/bulk", {"orders": [row]})
    order_id = r.data["results"][0]["id"]
    for path in (f"/api/accounts/{account.pk}/timeline", f"/api/contacts/{contact.pk}/timeline"):
        items = api_as(personas.owner).get(path).data["items"]
        placed = [e for e in items if e["kind"] == "order_placed"]
        assert [e["order_id"] for e in placed] == [order_id], path


def test_bulk_refuses_read_only_users_and_oversized_batches(personas, api_as, account):
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    r = api_as(personas.reader).post("/api/orders/bulk", {"orders": _batch(account, 1)})
    assert r.status_code == 403
    r = api_as(personas.owner).post("/api/orders/bulk", {"orders": _batch(account, 501)})
    assert (r.status_code, r.data["field"]) == (422, "orders")
    r = api_as(personas.owner).post("/api/orders/bulk", {"orders": []})
    assert (r.status_code, r.data["field"]) == (422, "orders")
    assert api_as(None).post("/api/orders/bulk", {"orders": []}).status_code == 401
    assert not Order.objects.exists()


def test_bulk_row_schema_is_documented(api_as, personas):
    schema = api_as(personas.owner).get("/api/openapi.json").data
    body = schema["components"]["schemas"]["OrdersBulkIn"]
    assert body["properties"]["orders"]["items"] == {"$ref": "#/components/schemas/OrderBulkRow"}
    assert "external_id" in schema["components"]["schemas"]["OrderBulkRow"]["required"]

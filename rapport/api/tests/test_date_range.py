"""Every date and date-time a client can write is refused outside the years 1900–2200 with a
422 naming the field, and nothing of the request is stored (issue 16, item 1).

The fields are enumerated from the served OpenAPI schema: a new date field in a request body
fails `test_every_date_field_has_a_case` until it has a case here.
"""

import datetime
import functools

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from rapport.accounts.models import Account
from rapport.activities.models import Activity
from rapport.analytics.models import AnalyticsSettings
from rapport.assets.models import Asset
from rapport.campaigns.models import Campaign, CampaignSend
from rapport.fieldservice.models import WorkOrder
from rapport.leads.models import Lead
from rapport.mail.models import MailMessage
from rapport.orders.models import Order
from rapport.quotes.models import Quote
from rapport.records.dates import dates_out_of_range
from rapport.sales.models import ExchangeRate, Opportunity
from rapport.territories.models import RepAvailability

pytestmark = pytest.mark.django_db

BAD = {
    "date-time": {
        "0001": "0001-01-01T00:00:00+01:00",
        "9999": "9999-12-31T23:59:59-05:00",
        "10000": "10000-01-01T00:00:00Z",
    },
    "date": {"0001": "0001-01-01", "9999": "9999-12-31", "10000": "10000-01-01"},
}
RELATED = {"starts_at": ("ends_at",), "due_at": ("occurred_at",)}
NOW = "2025-03-01T10:00:00+00:00"
LINE = {"description": "Widget", "quantity": "1", "unit_price": "10.00"}


@functools.cache
def date_fields() -> list[tuple[str, str, str, tuple]]:
    """(operation id, method, format, field path) of every date in a JSON request body."""
    from rapport.api.router import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]

    def resolve(node):
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node, path, out):
        node = resolve(node)
        for alt in node.get("anyOf", []) + node.get("allOf", []):
            walk(alt, path, out)
        if node.get("format") in ("date", "date-time"):
            out.append((node["format"], path))
        for name, sub in node.get("properties", {}).items():
            walk(sub, (*path, name), out)
        if "items" in node:
            walk(node["items"], (*path, 0), out)

    found = []
    for methods in schema["paths"].values():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                out: list = []
                walk(content["application/json"]["schema"], (), out)
                found += [(operation["operationId"], method, fmt, path) for fmt, path in out]
    return sorted(set(found))


def _set(body: dict, path: tuple, value) -> dict:
    node = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


def _kind_for(field: str) -> str:
    return {"due_at": "task", "starts_at": "meeting", "ends_at": "meeting"}.get(field, "call")


def _activity_body(kind: str, account_id: int) -> dict:
    body = {"kind": kind, "subject": "x", "account_id": account_id}
    if kind == "meeting":
        body |= {"starts_at": NOW, "ends_at": "2025-03-01T11:00:00+00:00"}
    return body


@pytest.fixture
def world(personas, api_as):
    rep = personas.owner
    client = api_as(rep)
    account = client.post("/api/accounts", {"name": "Dates Co"}).data
    lead = client.post("/api/leads", {"last_name": "Lee", "company": "Lead Co"}).data
    opportunity = client.post("/api/opportunities", {"name": "Deal", "amount": "5.00"}).data
    order = client.post(
        "/api/orders", {"account_id": account["id"], "ordered_at": NOW, "lines": [LINE]}
    ).data
    activities = {
        kind: client.post("/api/activities", _activity_body(kind, account["id"])).data
        for kind in ("task", "call", "meeting")
    }
    admin = api_as(personas.admin)
    product = admin.post("/api/products", {"sku": "D-1", "name": "Dated widget"}).data
    asset = client.post(
        "/api/assets", {"product_id": product["id"], "account_id": account["id"]}
    ).data
    campaign = client.post("/api/campaigns", {"name": "Dated campaign", "send": {}}).data
    work_order = client.post(
        "/api/work-orders", {"title": "Dated visit", "account_id": account["id"]}
    ).data
    return {
        "rep_user": rep,
        "product": product,
        "asset": asset,
        "campaign": campaign,
        "work_order": work_order,
        "rep": client,
        "admin": admin,
        "account": account,
        "lead": lead,
        "opportunity": opportunity,
        "order": order,
        "activities": activities,
    }


def _request(world, operation_id: str, path: tuple):
    """(client, method, url, base body) for one operation, valid apart from the bad date."""
    field = path[-1]
    account, order = world["account"], world["order"]
    cases = {
        "account_close": (
            "post",
            f"/api/accounts/{account['id']}/close",
            {"closed_at": "2025-01-01", "reason": "x"},
        ),
        "lead_convert": (
            "post",
            f"/api/leads/{world['lead']['id']}/convert",
            {"create_opportunity": True, "opportunity": {"name": "From lead"}},
        ),
        "opportunity_create": ("post", "/api/opportunities", {"name": "New deal"}),
        "opportunity_update": ("patch", f"/api/opportunities/{world['opportunity']['id']}", {}),
        "exchange_rate_create": (
            "post",
            "/api/exchange-rates",
            {"currency": "JPY", "rate": "0.01", "valid_from": "2025-01-01"},
        ),
        "order_create": (
            "post",
            "/api/orders",
            {"account_id": account["id"], "ordered_at": NOW, "lines": [LINE]},
        ),
        "orders_bulk_create": (
            "post",
            "/api/orders/bulk",
            {
                "orders": [
                    {
                        "external_id": "bulk-1",
                        "account_id": account["id"],
                        "ordered_at": NOW,
                        "lines": [LINE],
                    }
                ]
            },
        ),
        "order_update": ("patch", f"/api/orders/{order['id']}", {}),
        "activity_log": (
            "post",
            "/api/activities",
            _activity_body(_kind_for(field), account["id"]),
        ),
        "analytics_settings_update": (
            "patch",
            "/api/analytics/settings",
            {"observation_end": "date"},
        ),
        "mail_send": (
            "post",
            "/api/mail/send",
            {
                "record_type": "account",
                "record_id": account["id"],
                "to": ["buyer@example.com"],
                "subject": "Hello",
                "text": "Hi",
            },
        ),
        "activity_update": (
            "patch",
            f"/api/activities/{world['activities'][_kind_for(field)]['id']}",
            {},
        ),
        "asset_create": (
            "post",
            "/api/assets",
            {"product_id": world["product"]["id"], "account_id": account["id"]},
        ),
        "asset_update": ("patch", f"/api/assets/{world['asset']['id']}", {}),
        "campaign_create": ("post", "/api/campaigns", {"name": "New campaign", "send": {}}),
        "campaign_update": ("patch", f"/api/campaigns/{world['campaign']['id']}", {"send": {}}),
        "quote_create": ("post", "/api/quotes", {"opportunity_id": world["opportunity"]["id"]}),
        "rep_availability_set": (
            "put",
            f"/api/territories/availability/{world['rep_user'].pk}",
            {},
        ),
        "work_order_create": (
            "post",
            "/api/work-orders",
            {"title": "Another visit", "account_id": account["id"]},
        ),
        "work_order_update": ("patch", f"/api/work-orders/{world['work_order']['id']}", {}),
    }
    if operation_id not in cases:
        return None
    method, url, body = cases[operation_id]
    admin_only = {"exchange_rate_create", "analytics_settings_update"}
    client = world["admin"] if operation_id in admin_only else world["rep"]
    return client, method, url, body


def _snapshot() -> dict:
    """Everything the requests above could write."""
    return {
        "activities": list(Activity.objects.order_by("pk").values()),
        "orders": list(Order.objects.order_by("pk").values()),
        "opportunities": list(Opportunity.all_objects.order_by("pk").values()),
        "accounts": list(Account.all_objects.order_by("pk").values()),
        "leads": list(Lead.all_objects.order_by("pk").values()),
        "rates": list(ExchangeRate.objects.order_by("pk").values()),
        "analytics_settings": list(AnalyticsSettings.objects.order_by("pk").values()),
        "mail": list(MailMessage.objects.order_by("pk").values_list("pk", flat=True)),
        "assets": list(Asset.objects.order_by("pk").values()),
        "campaigns": list(Campaign.objects.order_by("pk").values()),
        "campaign_sends": list(CampaignSend.objects.order_by("pk").values()),
        "quotes": list(Quote.objects.order_by("pk").values()),
        "work_orders": list(WorkOrder.objects.order_by("pk").values()),
        "availability": list(RepAvailability.objects.order_by("pk").values()),
    }


def test_every_date_field_has_a_case(world):
    assert date_fields(), "no date fields found in the schema"
    missing = [(op, path) for op, _, _, path in date_fields() if _request(world, op, path) is None]
    assert not missing, f"date fields without a range test: {missing}"


@pytest.mark.parametrize("year", ["0001", "9999", "10000"])
@pytest.mark.parametrize(
    "operation_id,method,fmt,path",
    date_fields(),
    ids=[f"{op}:{'.'.join(map(str, path))}" for op, _, _, path in date_fields()],
)
def test_out_of_range_dates_are_refused_and_nothing_is_stored(
    world, operation_id, method, fmt, path, year
):
    client, method, url, body = _request(world, operation_id, path)
    before = _snapshot()
    response = getattr(client, method)(url, _set(body, path, BAD[fmt][year]))
    if operation_id == "orders_bulk_create" and response.status_code == 200:
        # Each row of a bulk stands alone: the bad row is reported, not written.
        assert response.data["created"] == 0, response.data
        errors = response.data["results"][0]["errors"]
    else:
        assert response.status_code == 422, response.data
        errors = response.data.get("errors") or [response.data]
    # Named by the field (a task's due_at is also its occurred_at; a meeting that would end
    # before it starts is refused for its ends_at).
    named = {path[-1], *RELATED.get(path[-1], ())}
    assert any((e["field"] or "").split(".")[-1] in named for e in errors), response.data
    assert _snapshot() == before


def test_the_range_bounds_are_accepted(world):
    client = world["rep"]
    for when in ("1900-01-01T00:00:00+00:00", "2200-12-31T23:59:59+00:00"):
        response = client.post("/api/activities", {"kind": "task", "subject": "x", "due_at": when})
        assert response.status_code == 201, response.data


def test_the_services_refuse_for_every_caller(personas):
    """The check sits in model validation, so the pages' forms get it too."""
    from rapport.activities.services import activity_log

    with pytest.raises(ValidationError) as raised:
        activity_log(
            actor=personas.owner,
            kind="task",
            fields={"subject": "x", "due_at": datetime.datetime(1, 1, 2, tzinfo=datetime.UTC)},
            links={},
            owner=None,
        )
    assert "due_at" in str(raised.value)
    assert not Activity.objects.exists()


def test_rows_stored_before_the_check_are_found_and_clamped(world, capsys):
    activity_id = world["activities"]["task"]["id"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE activities_activity SET due_at = '10000-01-01 04:59:59+00' WHERE id = %s",
                [activity_id],
            )
            cursor.execute(
                "UPDATE orders_order SET ordered_at = '0001-12-31 23:00:00+00 BC' WHERE id = %s",
                [world["order"]["id"]],
            )
        else:
            cursor.execute(
                "UPDATE activities_activity SET due_at = '0001-01-01 00:00:00' WHERE id = %s",
                [activity_id],
            )
            cursor.execute(
                "UPDATE orders_order SET ordered_at = '0001-01-01 00:00:00' WHERE id = %s",
                [world["order"]["id"]],
            )
    from django.apps import apps

    report = dates_out_of_range(apps.get_models())
    assert any("activities.Activity.due_at" in line and str(activity_id) in line for line in report)
    assert any("orders.Order.ordered_at" in line for line in report)

    call_command("check_dates", "--fix")
    assert "activities.Activity.due_at" in capsys.readouterr().out
    assert dates_out_of_range(apps.get_models()) == []
    due = Activity.objects.get(pk=activity_id).due_at
    assert due.year in (1900, 2200)
    assert Order.objects.get(pk=world["order"]["id"]).ordered_at.year == 1900
    # The pages and lists read again.
    assert world["rep"].get("/api/activities").status_code == 200
    assert world["rep"].get("/api/orders").status_code == 200


@pytest.mark.parametrize("due", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_the_pages_forms_refuse_an_out_of_range_date(personas, due):
    from rapport.web.testing import text_of, ui_client

    client = ui_client(personas.owner)
    response = client.post(
        "/activities/new",
        {
            "kind": "task",
            "subject": "Far away",
            "due_at": due,
            "owner": personas.owner.pk,
            "priority": "normal",
        },
    )
    assert response.status_code in (200, 422), text_of(response)
    assert "between the years 1900 and 2200" in text_of(response)
    assert not Activity.objects.exists()

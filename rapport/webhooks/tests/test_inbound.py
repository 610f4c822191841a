"""Inbound webhooks: each ready mapping lands on the right contact, once; ambiguity is kept
for review, never guessed."""

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client
from standardwebhooks import Webhook

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.orders.models import Order
from rapport.records.custom_fields import custom_field_define
from rapport.sales.services.catalog import product_create
from rapport.webhooks.inbound import inbound_event_assign, inbound_source_create
from rapport.webhooks.models import InboundEvent, InboundKind, InboundOutcome


@pytest.fixture
def people(personas):
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    ada = contact_create(
        actor=personas.owner,
        fields={"first_name": "Ada", "last_name": "Lovelace", "account": acme},
        emails=[{"email": "ada@acme.example"}],
        phones=[{"number": "+49 30 5550 1234"}],
        custom={},
    )
    # Two people behind one switchboard number.
    bob = contact_create(
        actor=personas.owner,
        fields={"first_name": "Bob", "last_name": "Byte", "phone": "+1 212 555 0100"},
    )
    cy = contact_create(
        actor=personas.owner,
        fields={"first_name": "Cy", "last_name": "Byte", "phone": "+1 212 555 0100"},
    )
    return type("People", (), {"ada": ada, "bob": bob, "cy": cy, "acme": acme})


def _source(personas, kind, **kwargs):
    source, shown = inbound_source_create(
        actor=personas.admin, name=f"{kind} system", kind=kind, user=personas.admin, **kwargs
    )
    return source, shown


def _post(token, payload, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = Client().post(
        f"/hooks/in/{token}", body, content_type="application/json", headers=headers or {}
    )
    return response, response.json()


CALL = {
    "event_id": "call-1001",
    "occurred_at": "2026-12-01T10:15:00Z",
    "direction": "inbound",
    "from": "+49 30 5550 1234",
    "to": "+49 30 1111 0",
    "duration_seconds": 312,
    "outcome": "connected",
    "recording_url": "https://pbx.example.com/rec/1001.mp3",
    "ivr_path": ["Main menu", "Support", "Agent"],
}


def test_call_event_lands_on_the_contact_with_that_phone(personas, people):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    response, data = _post(shown.token, CALL)
    assert response.status_code == 201, data
    assert data["outcome"] == "created" and data["contact_id"] == people.ada.pk
    call = Activity.objects.get(pk=data["activity_id"])
    assert (call.kind, call.direction, call.duration_seconds) == ("call", "inbound", 312)
    assert call.contact_id == people.ada.pk and call.account_id == people.acme.pk
    assert "Main menu › Support › Agent" in call.body
    assert "https://pbx.example.com/rec/1001.mp3" in call.body
    assert call.occurred_at == datetime.datetime(2026, 12, 1, 10, 15, tzinfo=datetime.UTC)
    event = InboundEvent.objects.get()
    assert event.matched_by == "phone" and event.outcome == InboundOutcome.CREATED


def test_the_same_event_twice_is_recorded_once(personas, people):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    _post(shown.token, CALL)
    response, data = _post(shown.token, CALL)
    assert response.status_code == 200 and data["duplicate"] is True
    assert Activity.objects.filter(kind="call").count() == 1
    assert InboundEvent.objects.count() == 1


def test_a_shared_phone_is_unmatched_not_guessed(personas, people):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    response, data = _post(shown.token, {**CALL, "event_id": "c2", "from": "+12125550100"})
    assert response.status_code == 202 and data["outcome"] == "unmatched"
    assert "2 contacts share this phone" in data["detail"]
    assert not Activity.objects.filter(kind="call").exists()
    event = InboundEvent.objects.get()
    assert event.outcome == InboundOutcome.UNMATCHED and event.contact is None
    # Sent again: still kept for review, nothing written.
    assert _post(shown.token, {**CALL, "event_id": "c2", "from": "+12125550100"})[1]["duplicate"]


def test_a_shared_phone_with_an_email_that_picks_one_holder_matches_that_one(personas, people):
    from rapport.accounts.services import contact_update

    contact_update(actor=personas.owner, contact=people.cy, fields={"email": "cy@byte.example"})
    source, shown = _source(personas, InboundKind.CHAT_TRANSCRIPT)
    chat = {
        "event_id": "chat-1",
        "customer": {"phone": "+1 212 555 0100", "email": "cy@byte.example"},
        "messages": [{"sender": "customer", "text": "Hi"}],
    }
    response, data = _post(shown.token, chat)
    assert data["contact_id"] == people.cy.pk, data


def test_identifiers_pointing_to_different_people_are_unmatched(personas, people):
    source, shown = _source(personas, InboundKind.CHAT_TRANSCRIPT)
    chat = {
        "event_id": "chat-2",
        "customer": {"phone": "+49 30 5550 1234", "email": "someone@else.example"},
        "messages": [{"text": "Hello"}],
    }
    # The email matches nobody, the phone matches Ada: Ada (unknown identifiers add nothing).
    assert _post(shown.token, chat)[1]["contact_id"] == people.ada.pk
    other = contact_create(
        actor=personas.owner, fields={"last_name": "Else", "email": "someone@else.example"}
    )
    assert other.pk
    response, data = _post(shown.token, {**chat, "event_id": "chat-3"})
    assert data["outcome"] == "unmatched" and "different contacts" in data["detail"]


def test_chat_transcript_is_an_interaction_with_the_transcript(personas, people):
    source, shown = _source(personas, InboundKind.CHAT_TRANSCRIPT)
    chat = {
        "event_id": "chat-9",
        "subject": "Delivery question",
        "customer": {"email": "ADA@acme.example"},
        "messages": [
            {"at": "2026-12-01T09:00:00Z", "sender": "customer", "name": "Ada", "text": "Where?"},
            {"at": "2026-12-01T09:01:00Z", "sender": "agent", "name": "Sam", "text": "Tomorrow"},
        ],
    }
    response, data = _post(shown.token, chat)
    assert response.status_code == 201, data
    activity = Activity.objects.get(pk=data["activity_id"])
    assert (activity.kind, activity.channel, activity.contact_id) == (
        "interaction",
        "chat",
        people.ada.pk,
    )
    assert activity.body == "[2026-12-01 09:00] Ada: Where?\n[2026-12-01 09:01] Sam: Tomorrow"
    assert InboundEvent.objects.get().matched_by == "email"


def test_pos_sale_becomes_an_order_with_lines(personas, people):
    product_create(
        actor=personas.admin, fields={"name": "Espresso beans", "sku": "BEAN-1", "unit_price": 12}
    )
    custom_field_define(
        object_type="contact", key="loyalty_no", label="Loyalty no", field_type="text"
    )
    from rapport.accounts.services import contact_update

    contact_update(
        actor=personas.owner, contact=people.ada, fields={}, custom={"loyalty_no": "L77"}
    )
    source, shown = _source(
        personas, InboundKind.POS_SALE, external_id_field="loyalty_no", verify_signature=True
    )
    sale = {
        "event_id": "pos-1",
        "sale_id": "R-2026-0001",
        "occurred_at": "2026-12-02T17:30:00+01:00",
        "store": "Berlin Mitte",
        "currency": "EUR",
        "customer": {"external_id": "L77"},
        "lines": [
            {"sku": "BEAN-1", "quantity": 2, "unit_price": "12.50"},
            {"sku": "MUG-9", "description": "Mug", "quantity": 1, "unit_price": "8"},
        ],
    }
    body = json.dumps(sale).encode()
    now = datetime.datetime.now(datetime.UTC)
    headers = {
        "webhook-id": "msg_pos_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(shown.signing_secret).sign("msg_pos_1", now, body),
    }
    response, data = _post(shown.token, body, headers)
    assert response.status_code == 201, data
    order = Order.objects.get(pk=data["order_id"])
    assert order.contact_id == people.ada.pk and order.account_id == people.acme.pk
    assert (order.external_id, order.channel, order.total) == (
        "R-2026-0001",
        "store",
        Decimal("33"),
    )
    lines = list(order.lines.values_list("product__sku", "description", "quantity"))
    assert lines == [("BEAN-1", "Espresso beans", Decimal("2")), (None, "MUG-9 Mug", Decimal("1"))]
    assert InboundEvent.objects.get().matched_by == "external id"
    # A wrong signature is refused and logs nothing.
    response, data = _post(shown.token, body, {**headers, "webhook-signature": "v1,AAAA"})
    assert response.status_code == 401 and data["code"] == "bad_signature"


def test_invalid_payload_is_a_422_naming_the_field_and_can_be_fixed(personas, people):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    response, data = _post(shown.token, {**CALL, "direction": "sideways"})
    assert response.status_code == 422 and data["field"] == "direction"
    assert InboundEvent.objects.get().outcome == InboundOutcome.INVALID
    response, data = _post(shown.token, CALL)  # fixed and re-sent with the same id
    assert response.status_code == 201
    event = InboundEvent.objects.get()
    assert event.outcome == InboundOutcome.CREATED and event.attempts == 2


def test_unknown_token_and_oversized_or_non_json_bodies(personas, people, settings):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    assert _post("rih_nope", CALL)[0].status_code == 404
    settings.RAPPORT_INBOUND_MAX_BYTES = 100
    response, data = _post(shown.token, CALL)
    assert response.status_code == 413 and data["code"] == "too_large"
    settings.RAPPORT_INBOUND_MAX_BYTES = 10_000
    assert _post(shown.token, b"not json")[0].status_code == 400
    response = Client().post(f"/hooks/in/{shown.token}", "a=1", content_type="text/plain")
    assert response.status_code == 415
    assert InboundEvent.objects.count() == 0


def test_unmatched_event_can_be_assigned_by_an_admin(personas, people):
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    _post(shown.token, {**CALL, "event_id": "c5", "from": "+12125550100"})
    event = InboundEvent.objects.get()
    inbound_event_assign(actor=personas.admin, event=event, contact=people.bob)
    event.refresh_from_db()
    assert event.outcome == InboundOutcome.CREATED and event.contact_id == people.bob.pk
    assert Activity.objects.get(kind="call").contact_id == people.bob.pk


def test_an_inbound_call_triggers_rules_on_webhook_received(personas, people):
    from rapport.automation import engine
    from rapport.automation.services import rule_create

    rule_create(
        actor=personas.admin,
        data={
            "name": "Tag callers",
            "trigger_type": "webhook.received",
            "object_type": "contact",
            "trigger_config": {"match": {"source": InboundKind.TELEPHONY_CALL}},
            "actions": [{"type": "add_tag", "params": {"tag": "called-in"}}],
        },
    )
    rule_create(
        actor=personas.admin,
        data={
            "name": "Tag shoppers",
            "trigger_type": "webhook.received",
            "object_type": "contact",
            "trigger_config": {"match": {"source": InboundKind.POS_SALE}},
            "actions": [{"type": "add_tag", "params": {"tag": "bought"}}],
        },
    )
    source, shown = _source(personas, InboundKind.TELEPHONY_CALL)
    response, data = _post(shown.token, CALL)
    assert response.status_code == 201, data
    engine.dispatch_pending()
    engine.execute_due_runs()
    assert list(people.ada.tags.values_list("name", flat=True)) == ["called-in"]

"""Settings → Webhooks and Inbound webhooks: administrators only, secrets once, the
journeys of adding, testing and resending."""

import json

import pytest
from django.test import Client

from rapport.accounts.services import contact_create
from rapport.webhooks import services
from rapport.webhooks.inbound import inbound_source_create
from rapport.webhooks.models import InboundEvent, WebhookDelivery, WebhookSubscription


@pytest.fixture
def admin_client(personas):
    client = Client()
    client.force_login(personas.admin)
    return client


def test_managers_are_not_offered_the_webhook_pages(personas):
    client = Client()
    client.force_login(personas.manager)
    index = client.get("/settings/").content.decode()
    assert "/settings/webhooks/" not in index and "/settings/inbound/" not in index
    assert client.get("/settings/webhooks/").status_code == 403
    assert client.get("/settings/inbound/").status_code == 403


def test_add_subscription_shows_the_secret_once(admin_client, receiver, allow_loopback):
    response = admin_client.post(
        "/settings/webhooks/new",
        {
            "name": "ERP",
            "url": receiver.url,
            "event_types": "contact.created, deal.*",
            "is_active": "on",
        },
    )
    assert response.status_code == 201
    sub = WebhookSubscription.objects.get()
    assert sub.event_types == ["contact.created", "deal.*"]
    assert sub.secret in response.content.decode()
    page = admin_client.get(f"/settings/webhooks/{sub.pk}/").content.decode()
    assert sub.secret not in page and sub.secret[:10] in page


def test_refused_url_is_shown_next_to_the_field(admin_client):
    response = admin_client.post(
        "/settings/webhooks/new", {"name": "x", "url": "http://10.0.0.1/", "event_types": "*"}
    )
    assert response.status_code == 422
    assert "private address" in response.content.decode()


def test_send_test_then_resend_from_the_delivery_page(
    admin_client, receiver, allow_loopback, personas
):
    sub, _ = services.subscription_create(
        actor=personas.admin, name="ERP", url=receiver.url, event_types=["*"]
    )
    assert admin_client.post(f"/settings/webhooks/{sub.pk}/test").status_code == 302
    services.deliver_due()
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get(f"/settings/webhooks/deliveries/{delivery.pk}/").content.decode()
    assert "Delivered" in page and delivery.message_id in page
    admin_client.post(f"/settings/webhooks/deliveries/{delivery.pk}/resend")
    services.deliver_due()
    assert len(receiver.requests) == 2


def test_allowed_network_add_and_remove(admin_client):
    response = admin_client.post("/settings/webhooks/networks/new", {"network": "10.9.0.0/16"})
    assert response.status_code == 302
    assert "10.9.0.0/16" in admin_client.get("/settings/webhooks/").content.decode()
    bad = admin_client.post("/settings/webhooks/networks/new", {"network": "nope"})
    assert bad.status_code == 422


def test_inbound_source_page_shows_url_once_and_unmatched_events_can_be_assigned(
    admin_client, personas
):
    response = admin_client.post(
        "/settings/inbound/new",
        {"name": "PBX", "kind": "telephony_call", "user": personas.admin.pk},
    )
    assert response.status_code == 201
    html = response.content.decode()
    token = html.split("/hooks/in/", 1)[1].split("<", 1)[0]
    source_id = InboundEvent._meta.apps.get_model("webhooks", "InboundSource").objects.get().pk
    assert token not in admin_client.get(f"/settings/inbound/{source_id}/").content.decode()
    contact_create(actor=personas.owner, fields={"last_name": "A", "phone": "+1 212 555 0177"})
    contact_create(actor=personas.owner, fields={"last_name": "B", "phone": "+1 212 555 0177"})
    Client().post(
        f"/hooks/in/{token}",
        json.dumps({"event_id": "x1", "direction": "inbound", "from": "+12125550177"}),
        content_type="application/json",
    )
    event = InboundEvent.objects.get()
    page = admin_client.get(f"/settings/inbound/events/{event.pk}/").content.decode()
    assert "Record it on a contact" in page
    target = contact_create(actor=personas.owner, fields={"last_name": "Chosen"})
    response = admin_client.post(
        f"/settings/inbound/events/{event.pk}/assign", {"contact": str(target.pk)}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.contact_id == target.pk


def test_source_token_is_stored_only_as_digest_and_prefix(personas):
    source, shown = inbound_source_create(
        actor=personas.admin, name="Chat", kind="chat_transcript", user=personas.admin
    )
    assert shown.token.startswith("rih_") and source.token_prefix == shown.token[:10]
    stored = json.dumps(list(type(source).objects.values()), default=str)
    assert shown.token not in stored

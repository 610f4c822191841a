"""The webhooks API: administrators only, secrets once, the common error shape."""

import json

from django.test import Client

from rapport.accounts.services import contact_create
from rapport.webhooks import services
from rapport.webhooks.models import InboundEvent


def test_subscription_secret_is_shown_once(personas, api_as, receiver, allow_loopback):
    api = api_as(personas.admin)
    response = api.post(
        "/api/webhooks/subscriptions",
        {"name": "ERP", "url": receiver.url, "event_types": ["contact.created"]},
    )
    assert response.status_code == 201, response.data
    secret = response.data["secret"]
    assert secret.startswith("whsec_")
    pk = response.data["id"]
    for read in (
        api.get(f"/api/webhooks/subscriptions/{pk}"),
        api.get("/api/webhooks/subscriptions"),
    ):
        assert secret not in json.dumps(read.data)
    rotated = api.post(f"/api/webhooks/subscriptions/{pk}/rotate-secret")
    assert rotated.data["secret"] != secret


def test_refused_url_is_a_422_on_url(personas, api_as):
    response = api_as(personas.admin).post(
        "/api/webhooks/subscriptions",
        {"name": "x", "url": "http://169.254.169.254/", "event_types": ["*"]},
    )
    assert response.status_code == 422
    assert response.data["field"] == "url" and "metadata" in response.data["detail"]


def test_bad_event_type_names_the_field(personas, api_as):
    response = api_as(personas.admin).post(
        "/api/webhooks/subscriptions",
        {"name": "x", "url": "https://93.184.216.34/", "event_types": ["ok.one", "Bad Type"]},
    )
    assert response.status_code == 422 and response.data["field"] == "event_types[1]"


def test_non_admins_get_403(personas, api_as):
    for user in (personas.manager, personas.owner):
        response = api_as(user).get("/api/webhooks/subscriptions")
        assert response.status_code == 403 and response.data["code"] == "admin_only"
        assert api_as(user).get("/api/webhooks/inbound/sources").status_code == 403


def test_send_test_resend_and_delivery_log(personas, api_as, receiver, allow_loopback):
    api = api_as(personas.admin)
    pk = api.post(
        "/api/webhooks/subscriptions", {"name": "ERP", "url": receiver.url, "event_types": ["*"]}
    ).data["id"]
    queued = api.post(f"/api/webhooks/subscriptions/{pk}/test")
    assert queued.status_code == 202 and queued.data["state"] == "pending"
    services.deliver_due()
    listed = api.get("/api/webhooks/deliveries", subscription_id=pk)
    assert listed.data["count"] == 1 and listed.data["items"][0]["state"] == "delivered"
    detail = api.get(f"/api/webhooks/deliveries/{queued.data['id']}").data
    assert detail["log"][0]["status_code"] == 200 and detail["log"][0]["response_excerpt"] == "ok"
    again = api.post(f"/api/webhooks/deliveries/{queued.data['id']}/resend")
    assert again.status_code == 202
    services.deliver_due()
    assert len(receiver.requests) == 2


def test_disable_and_reactivate_through_patch(personas, api_as, receiver, allow_loopback):
    api = api_as(personas.admin)
    pk = api.post(
        "/api/webhooks/subscriptions", {"name": "ERP", "url": receiver.url, "event_types": ["*"]}
    ).data["id"]
    assert (
        api.patch(f"/api/webhooks/subscriptions/{pk}", {"is_active": False}).data["is_active"]
        is False
    )
    assert api.delete(f"/api/webhooks/subscriptions/{pk}").status_code == 204
    assert api.get(f"/api/webhooks/subscriptions/{pk}").status_code == 404


def test_allowed_networks(personas, api_as):
    api = api_as(personas.admin)
    created = api.post("/api/webhooks/allowed-networks", {"network": "10.20.0.0/16", "note": "ERP"})
    assert created.status_code == 201
    bad = api.post("/api/webhooks/allowed-networks", {"network": "not a net"})
    assert bad.status_code == 422 and bad.data["field"] == "network"
    assert api.delete(f"/api/webhooks/allowed-networks/{created.data['id']}").status_code == 204


def test_inbound_source_url_works_and_is_not_shown_again(personas, api_as):
    api = api_as(personas.admin)
    created = api.post(
        "/api/webhooks/inbound/sources",
        {"name": "PBX", "kind": "telephony_call", "user_id": personas.admin.pk},
    )
    assert created.status_code == 201, created.data
    url, token = created.data["secrets"]["url"], created.data["secrets"]["token"]
    assert url.endswith(f"/hooks/in/{token}")
    assert token not in json.dumps(api.get("/api/webhooks/inbound/sources").data)
    contact_create(actor=personas.owner, fields={"last_name": "Z", "phone": "+1 212 555 0199"})
    contact_create(actor=personas.owner, fields={"last_name": "Y", "phone": "+1 212 555 0199"})
    response = Client().post(
        url.split("testserver", 1)[-1],
        json.dumps({"event_id": "e1", "direction": "inbound", "from": "+12125550199"}),
        content_type="application/json",
    )
    assert response.status_code == 202
    events = api.get("/api/webhooks/inbound/events", outcome="unmatched").data
    assert events["count"] == 1
    event = InboundEvent.objects.get()
    target = event.payload and contact_create(actor=personas.owner, fields={"last_name": "X"})
    assigned = api.post(
        f"/api/webhooks/inbound/events/{event.pk}/assign", {"contact_id": target.pk}
    )
    assert assigned.status_code == 200 and assigned.data["outcome"] == "created"
    rotated = api.post(f"/api/webhooks/inbound/sources/{created.data['id']}/rotate")
    assert rotated.data["token"] != token
    old = Client().post(url.split("testserver", 1)[-1], "{}", content_type="application/json")
    assert old.status_code == 404

"""The delivery outbox: publish in the caller's transaction, signed sends to a real receiver,
retries over more than 24 hours, crash recovery with the same webhook-id, auto-disabling."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from standardwebhooks import Webhook

from rapport.webhooks import services
from rapport.webhooks.models import DeliveryState, WebhookDelivery, WebhookSubscription

T0 = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def sub(personas, receiver, allow_loopback):
    subscription, secret = services.subscription_create(
        actor=personas.admin, name="ERP", url=receiver.url, event_types=["contact.*"]
    )
    receiver.verify_with = secret
    return subscription


def _publish(event_id="evt_1", event_type="contact.created", payload=None):
    return services.publish(
        event_type, payload or {"id": 7, "name": "Ada"}, event_id=event_id, occurred_at=T0
    )


def test_published_event_reaches_the_receiver_signed_per_standard_webhooks(sub, receiver):
    (delivery,) = _publish()
    assert services.deliver_due() == {"sent": 1, "delivered": 1}
    request = receiver.requests[0]
    assert "verify_error" not in request
    assert request["verified"] == {
        "type": "contact.created",
        "timestamp": T0.isoformat(),
        "data": {"id": 7, "name": "Ada"},
    }
    assert request["headers"]["webhook-id"] == delivery.message_id
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    (attempt,) = delivery.log.all()
    assert attempt.ok and attempt.status_code == 200 and attempt.response_excerpt == "ok"


def test_a_wrong_secret_fails_verification_at_the_receiver(sub, receiver):
    receiver.verify_with = services.new_secret()
    _publish()
    services.deliver_due()
    assert receiver.requests[0]["verify_error"]
    assert WebhookDelivery.objects.get().state == DeliveryState.PENDING  # 401 → retry


def test_publish_is_idempotent_per_subscription_and_event_id(sub):
    first = _publish("evt_9")
    again = _publish("evt_9")
    assert [d.pk for d in first] == [d.pk for d in again]
    assert WebhookDelivery.objects.count() == 1


def test_publish_only_reaches_active_subscriptions_of_the_event_type(personas, sub, receiver):
    services.subscription_create(
        actor=personas.admin, name="Deals only", url=receiver.url, event_types=["deal.won"]
    )
    off, _ = services.subscription_create(
        actor=personas.admin, name="Off", url=receiver.url, event_types=["*"], is_active=False
    )
    deliveries = _publish()
    assert [d.subscription_id for d in deliveries] == [sub.pk]


def test_a_rolled_back_transaction_leaves_no_delivery(sub):
    with pytest.raises(RuntimeError), transaction.atomic():
        _publish()
        raise RuntimeError("the business write failed")
    assert WebhookDelivery.objects.count() == 0


def test_retries_back_off_over_more_than_24_hours_then_give_up(sub, receiver):
    receiver.status = 503
    receiver.verify_with = None
    with time_machine.travel(T0, tick=False) as clock:
        (delivery,) = _publish()
        tries = []
        for _ in range(20):
            services.deliver_due()
            delivery.refresh_from_db()
            tries.append(datetime.datetime.now(datetime.UTC))
            if delivery.state == DeliveryState.FAILED:
                break
            gap = delivery.next_try_at - datetime.datetime.now(datetime.UTC)
            expected = services.RETRY_DELAYS[delivery.attempts - 1]
            assert expected * 0.9 <= gap.total_seconds() <= expected * 1.1
            clock.move_to(delivery.next_try_at)
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS == len(receiver.requests)
    assert tries[-1] - tries[0] >= datetime.timedelta(hours=24)
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert delivery.log.count() == services.MAX_ATTEMPTS
    assert delivery.last_status == 503


def test_nothing_is_sent_before_the_next_try(sub, receiver):
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        _publish()
        services.deliver_due()
        clock.shift(datetime.timedelta(seconds=3))  # the first retry waits 4.5–5.5 s
        assert services.deliver_due()["sent"] == 0
    assert len(receiver.requests) == 1


def test_crash_between_send_and_mark_resends_once_with_the_same_webhook_id(sub, receiver):
    from rapport.webhooks import http

    with time_machine.travel(T0, tick=False) as clock:
        (delivery,) = _publish()
        (claimed,) = services.deliveries_claim()
        # The worker sends … and dies before marking the row.
        row = WebhookDelivery.objects.get(pk=claimed)
        headers = services.signed_headers(
            message_id=row.message_id, body=row.body.encode(), secrets_=[sub.secret], at=T0
        )
        http.post(receiver.url, row.body.encode(), headers=headers)
        assert services.deliver_due()["sent"] == 0  # leased: no second worker takes it
        clock.shift(services._lease() + datetime.timedelta(seconds=1))
        assert services.deliver_due() == {"sent": 1, "delivered": 1}
        assert services.deliver_due()["sent"] == 0
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 2
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2


def test_a_redirect_is_a_failed_delivery_naming_the_location(sub, receiver):
    receiver.status = 301
    receiver.headers = {"Location": "http://10.0.0.1/admin"}
    (delivery,) = _publish()
    services.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING
    assert "http://10.0.0.1/admin" in delivery.last_error and "not followed" in delivery.last_error
    assert len(receiver.requests) == 1


def test_a_url_refused_at_send_time_is_logged_and_retried(personas, sub, receiver, settings):
    _publish()
    settings.RAPPORT_WEBHOOK_ALLOWED_NETWORKS = []  # the allow-list entry was removed
    services.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert "loopback" in delivery.last_error and receiver.requests == []
    assert delivery.state == DeliveryState.PENDING


def test_subscription_is_disabled_after_failing_for_24_hours(sub, receiver, settings):
    settings.RAPPORT_WEBHOOK_DISABLE_MIN_FAILURES = 3
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        for i in range(4):
            _publish(f"evt_{i}")
            services.deliver_due()
            clock.shift(datetime.timedelta(hours=9))
    sub.refresh_from_db()
    assert not sub.is_active
    assert "Disabled automatically" in sub.disabled_reason and sub.disabled_at
    from rapport.notifications.models import Notification

    notices = Notification.objects.filter(kind="webhook_disabled")
    assert notices.count() >= 1 and all(n.recipient.is_admin for n in notices)
    # Nothing more is sent to it until it is activated again.
    receiver.status = 200
    count = len(receiver.requests)
    with time_machine.travel(T0 + datetime.timedelta(days=3), tick=False):
        services.deliver_due()
    assert len(receiver.requests) == count
    services.subscription_update(actor=sub.created_by, subscription=sub, fields={"is_active": True})
    sub.refresh_from_db()
    assert sub.is_active and sub.disabled_reason == "" and sub.consecutive_failures == 0


def test_a_success_resets_the_failure_count(sub, receiver):
    receiver.status = 500
    _publish("a")
    services.deliver_due()
    receiver.status = 200
    _publish("b")
    services.deliver_due()
    sub.refresh_from_db()
    assert sub.consecutive_failures == 0 and sub.failing_since is None and sub.last_success_at


def test_resend_sends_the_same_message_again(personas, sub, receiver):
    (delivery,) = _publish()
    services.deliver_due()
    services.delivery_resend(actor=personas.admin, delivery=delivery)
    services.deliver_due()
    assert len(receiver.requests) == 2
    assert (
        receiver.requests[0]["headers"]["webhook-id"]
        == receiver.requests[1]["headers"]["webhook-id"]
    )
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_send_test_reaches_a_disabled_subscription(personas, sub, receiver):
    services.subscription_update(
        actor=personas.admin, subscription=sub, fields={"is_active": False}
    )
    delivery = services.subscription_send_test(actor=personas.admin, subscription=sub)
    services.deliver_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert receiver.requests[0]["verified"]["type"] == "webhook.test"


def test_rotated_secret_signs_with_both_secrets_for_a_day(personas, sub, receiver):
    old = sub.secret
    new = services.subscription_rotate_secret(actor=personas.admin, subscription=sub)
    _publish()
    services.deliver_due()
    headers = receiver.requests[0]["headers"]
    for secret in (old, new):
        Webhook(secret).verify(receiver.requests[0]["body"], headers)
    assert len(headers["webhook-signature"].split(" ")) == 2


def test_call_webhook_is_idempotent_and_signed_with_the_given_secret(receiver, allow_loopback, db):
    secret = services.new_secret()
    receiver.verify_with = secret
    first = services.call_webhook(
        receiver.url, {"x": 1}, idempotency_key="run7:step2", secret=secret
    )
    again = services.call_webhook(
        receiver.url, {"x": 1}, idempotency_key="run7:step2", secret=secret
    )
    assert first.pk == again.pk
    services.deliver_due()
    assert receiver.requests[0]["verified"] == {"x": 1}
    first.refresh_from_db()
    assert first.state == DeliveryState.DELIVERED


def test_creating_a_subscription_to_a_private_address_is_refused(personas, resolver):
    resolver.table["intranet.example.com"] = ["10.0.0.8"]
    with pytest.raises(ValidationError) as info:
        services.subscription_create(
            actor=personas.admin,
            name="x",
            url="https://intranet.example.com/hook",
            event_types=["*"],
        )
    assert "url" in info.value.message_dict
    assert WebhookSubscription.objects.count() == 0


def test_an_admin_allow_listed_network_makes_it_reachable(personas, resolver):
    resolver.table["intranet.example.com"] = ["10.0.0.8"]
    services.allowed_network_add(actor=personas.admin, network="10.0.0.0/24", note="ERP")
    subscription, _ = services.subscription_create(
        actor=personas.admin, name="x", url="https://intranet.example.com/hook", event_types=["*"]
    )
    assert subscription.pk


def test_only_admins_manage_subscriptions(personas):
    from rapport.records.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.subscription_create(
            actor=personas.manager, name="x", url="https://example.com/", event_types=["*"]
        )


def test_purge_forgets_old_finished_deliveries_but_keeps_waiting_ones(sub, receiver):
    with time_machine.travel(T0, tick=False):
        _publish("old-ok")
        services.deliver_due()
        receiver.status = 500
        _publish("old-failing")
        services.deliver_due()
    later = T0 + datetime.timedelta(days=31)
    assert services.webhook_logs_purge(now=later)["deliveries"] >= 1
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == ["old-failing"]


def test_call_webhook_refuses_a_malformed_secret(db):
    with pytest.raises(ValidationError) as info:
        services.call_webhook("https://example.com/", {}, idempotency_key="k", secret="whsec_!!")
    assert "secret" in info.value.message_dict


def test_many_events_in_one_transaction_enqueue_one_send_task(
    sub, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        for i in range(25):
            _publish(f"bulk-{i}")
    assert len(callbacks) == 1
    assert WebhookDelivery.objects.count() == 25


def test_record_events_reach_subscriptions_from_the_timeline(personas, resolver):
    """A contact created by the service (any write path: it writes a timeline event) is
    published to a subscription of `contact.*` in the same transaction."""
    from rapport.accounts.services import contact_create
    from rapport.webhooks.models import WebhookDelivery
    from rapport.webhooks.services import subscription_create

    resolver.table["hooks.example.com"] = ["93.184.215.14"]
    subscription, _ = subscription_create(
        actor=personas.admin,
        name="contacts",
        url="https://hooks.example.com/in",
        event_types=["contact.*"],
    )
    contact = contact_create(actor=personas.owner, fields={"first_name": "Ann", "last_name": "Lee"})
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.event_type == "contact.created"
    assert f'"id":{contact.pk}' in delivery.body

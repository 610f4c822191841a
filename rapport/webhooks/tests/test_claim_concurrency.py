"""Workers claiming deliveries at the same time never take the same row (PostgreSQL:
FOR UPDATE SKIP LOCKED)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from rapport.webhooks import services
from rapport.webhooks.models import DeliveryState, WebhookDelivery

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent claims need PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_claim_each_delivery_once():
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                url="https://receiver.invalid/hook",
                event_type="t",
                event_id=str(i),
                dedupe_key=f"call:{i}",
                message_id=f"msg_{i}",
                body="{}",
                next_try_at=now,
            )
            for i in range(60)
        ]
    )
    start = threading.Barrier(4)
    claimed: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            while True:
                ids = services.deliveries_claim(limit=3)
                if not ids:
                    break
                claimed[n].extend(ids)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    every = [pk for ids in claimed for pk in ids]
    assert len(every) == len(set(every)) == 60
    assert sum(1 for ids in claimed if ids) >= 2  # they really ran side by side
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SENDING}
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {1}

"""The dispatcher writes a batch in a fixed number of statements (the cause of campaign
messages costing several times a plain outbox mail, bench/bench_campaign_send.py), wakes the
sender once per batch, and the cached link prefixes give exactly what `reverse` gives."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rapport.campaigns import services, tracking
from rapport.campaigns.models import CampaignRecipient, RecipientState
from rapport.campaigns.tests.conftest import bulk_audience
from rapport.campaigns.tests.test_send import _campaign
from rapport.consent import links, tokens
from rapport.mail.models import Delivery, MailMessage
from rapport.mail.services import OutgoingEmail, queue_emails

pytestmark = pytest.mark.django_db


def _dispatch_queries(personas, offers, template, mailbox, n: int, prefix: str) -> int:
    segment, _ = bulk_audience(personas.owner, offers, n, prefix=prefix, name=prefix)
    campaign = _campaign(personas.owner, segment, template, mailbox, utm=f"batch-{prefix}")
    services.campaign_start(campaign=campaign, actor=personas.owner)
    with CaptureQueriesContext(connection) as ctx:
        handed = services.dispatch_campaign(campaign, claim_id=f"c-{prefix}", batch=500)
    assert handed == n
    queued = CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.QUEUED)
    assert queued.count() == n
    # Every recipient got its own message, addressed to them.
    pairs = queued.values_list("email", "message__to")
    assert all(to == [email] for email, to in pairs)
    assert len({m for m in queued.values_list("message_id", flat=True)}) == n
    services.campaign_cancel(campaign=campaign, actor=personas.owner)
    return len(ctx.captured_queries)


def test_dispatch_costs_the_same_statements_for_5_or_30_recipients(
    personas, offers, template, mailbox
):
    # (30: SQLite's 999 bound variables split an insert of mail messages, ~25 columns each,
    # every 39 rows; that is a statement per 39 recipients, not per recipient.)
    small = _dispatch_queries(personas, offers, template, mailbox, 5, "s")
    large = _dispatch_queries(personas, offers, template, mailbox, 30, "l")
    assert large == small, (small, large)


def test_queue_emails_writes_each_message_with_its_own_id_and_wakes_the_sender_once(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        messages = queue_emails(
            [OutgoingEmail(to=[f"p{i}@example.com"], subject=f"S{i}", text="t") for i in range(3)]
        )
    assert len(callbacks) == 1
    assert len({m.message_id for m in messages}) == 3
    for i, message in enumerate(messages):
        stored = MailMessage.objects.get(pk=message.pk)
        assert (stored.to, stored.subject, stored.message_id) == (
            [f"p{i}@example.com"],
            f"S{i}",
            message.message_id,
        )
        assert stored.message_id.startswith(f"<r{message.pk}.{stored.thread.token}.")
        assert stored.thread.last_message_at is not None
    assert Delivery.objects.filter(message__in=messages).count() == 3


def test_a_bad_address_in_a_batch_writes_nothing():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        queue_emails(
            [
                OutgoingEmail(to=["ok@example.com"], subject="A"),
                OutgoingEmail(to=["not an address"], subject="B"),
            ]
        )
    assert "to" in caught.value.message_dict
    assert MailMessage.objects.count() == Delivery.objects.count() == 0


def test_cached_link_prefixes_match_reverse(settings):
    settings.RAPPORT_BASE_URL = "https://crm.example.com/"
    click = tracking.click_token(12, 34)
    assert tracking.click_url(12, 34) == "https://crm.example.com" + reverse(
        "campaign_tracking:click", args=[click]
    )
    assert tracking.open_url(12) == "https://crm.example.com" + reverse(
        "campaign_tracking:open", args=[tracking.open_token(12)]
    )
    url = links.unsubscribe_url(address="a@example.com", purpose_id=3)
    token = url.rsplit("/", 1)[1]
    assert url == "https://crm.example.com" + reverse("consent_public:unsubscribe", args=[token])
    assert tokens.read_unsubscribe_token(token)["a"] == "a@example.com"
    settings.RAPPORT_BASE_URL = "https://other.example.com"
    assert tracking.open_url(12).startswith("https://other.example.com/t/o/")


def test_claims_take_expired_claims_first_then_pending_in_id_order_and_never_live_ones(
    personas, offers, template, mailbox
):
    """A dispatcher that died leaves recipients claimed; once their lease has run out the
    next claim takes them back before any pending one, and a live claim is never taken."""
    import datetime

    from django.utils import timezone

    segment, _ = bulk_audience(personas.owner, offers, 6, prefix="x", name="expired")
    campaign = _campaign(personas.owner, segment, template, mailbox, utm="batch-expired")
    services.campaign_start(campaign=campaign, actor=personas.owner)
    ids = list(
        CampaignRecipient.objects.filter(campaign=campaign)
        .order_by("id")
        .values_list("id", flat=True)
    )
    now = timezone.now()
    dead, live = ids[4], ids[1]
    CampaignRecipient.objects.filter(pk=dead).update(
        state=RecipientState.CLAIMED,
        claimed_by="dead",
        lease_expires_at=now - datetime.timedelta(1),
    )
    CampaignRecipient.objects.filter(pk=live).update(
        state=RecipientState.CLAIMED,
        claimed_by="live",
        lease_expires_at=now + datetime.timedelta(1),
    )
    first = services.claim_recipients(campaign_id=campaign.pk, claim_id="next", limit=3, now=now)
    assert sorted(first) == sorted([dead, ids[0], ids[2]])
    rest = services.claim_recipients(campaign_id=campaign.pk, claim_id="more", limit=10, now=now)
    assert sorted(rest) == [ids[3], ids[5]]
    assert CampaignRecipient.objects.get(pk=live).claimed_by == "live"
    services.campaign_cancel(campaign=campaign, actor=personas.owner)


def test_outbox_claims_take_expired_leases_first_then_due_rows_in_order():
    """The mail outbox's claim: a delivery whose sender died (lease run out) comes back
    first, then queued rows whose time has come in (next attempt, id) order; a live lease
    and a row not yet due stay where they are."""
    import datetime

    from django.utils import timezone

    from rapport.mail.models import DeliveryState
    from rapport.mail.sender import claim_due

    messages = queue_emails(
        [OutgoingEmail(to=[f"c{i}@example.com"], subject=f"C{i}", text="t") for i in range(6)]
    )
    rows = list(
        Delivery.objects.filter(message__in=messages).order_by("id").values_list("id", flat=True)
    )
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    Delivery.objects.filter(pk=rows[5]).update(
        state=DeliveryState.SENDING, claimed_by="dead", lease_expires_at=now - hour
    )
    Delivery.objects.filter(pk=rows[0]).update(
        state=DeliveryState.SENDING, claimed_by="live", lease_expires_at=now + hour
    )
    Delivery.objects.filter(pk=rows[1]).update(next_attempt_at=now + hour)  # not due yet
    Delivery.objects.filter(pk=rows[3]).update(next_attempt_at=now - 2 * hour)  # due longest
    Delivery.objects.exclude(pk__in=[rows[1], rows[3]]).filter(pk__in=rows).update(
        next_attempt_at=now - hour
    )
    claimed = claim_due(claim_id="next", limit=3, now=now)
    assert sorted(claimed) == sorted([rows[5], rows[3], rows[2]])
    rest = claim_due(claim_id="more", limit=10, now=now)
    assert sorted(rest) == [rows[4]]
    assert Delivery.objects.get(pk=rows[0]).claimed_by == "live"
    assert Delivery.objects.get(pk=rows[1]).state == DeliveryState.QUEUED

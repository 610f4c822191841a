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

"""Email campaigns end to end against the loopback SMTP sink: consent at snapshot and at
send, RFC 8058 headers, tracking links, pause/resume, the rate limit and the A/B test."""

import datetime
import re

import pytest
import time_machine
from django.db.models import Q
from django.test import override_settings
from django.utils import timezone

from rapport.accounts.services import contact_create
from rapport.campaigns import services, tracking
from rapport.campaigns.models import (
    CampaignLink,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
)
from rapport.campaigns.selectors import recipients_visible, report
from rapport.campaigns.tests.conftest import bulk_audience
from rapport.consent.models import (
    Channel,
    ConsentAction,
    ConsentPurpose,
    ConsentSource,
    SuppressionReason,
)
from rapport.consent.services import consent_record, suppression_add
from rapport.mail.models import AddressStatus, BounceKind, Delivery, DeliveryState
from rapport.mail.sender import send_due
from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember
from rapport.timeline.models import EventKind, TimelineEvent


def _campaign(actor, segment, template, mailbox, utm="spring-26", **send):
    return services.campaign_create(
        actor=actor,
        fields={"name": "Spring", "kind": "email", "utm_campaign": utm},
        send={
            "include_segments": [segment.pk],
            "template_id": template.pk,
            "consent_purpose_id": template.consent_purpose_id,
            "mailbox_id": mailbox.pk,
            "rate_per_minute": 100_000,
            **send,
        },
    )


def _contact(actor, email, first="Bo"):
    return contact_create(
        actor=actor, fields={"first_name": first, "last_name": "Ng"}, emails=[{"email": email}]
    )


def _static(name, contacts):
    segment = Segment.objects.create(name=name, kind=SegmentKind.STATIC)
    SegmentMember.objects.bulk_create(
        SegmentMember(
            segment=segment, contact=c, source=MemberSource.MANUAL, added_at=timezone.now()
        )
        for c in contacts
    )
    return segment


def _run_until_done(limit=200):
    """Dispatch and send until nothing is waiting (the rate limiter spaces messages apart, so
    the last ones may be due a few milliseconds later)."""
    waiting = Q(state__in=(RecipientState.PENDING, RecipientState.CLAIMED))
    for _ in range(limit):
        services.dispatch_due()
        send_due(limit=200)
        if not (
            CampaignRecipient.objects.filter(waiting).exists()
            or Delivery.objects.filter(state=DeliveryState.QUEUED).exists()
        ):
            return


@pytest.mark.django_db
def test_nobody_without_valid_consent_gets_a_campaign(
    personas, offers, template, mailbox, smtp_server
):
    admin = personas.admin
    newsletter = ConsentPurpose.objects.create(
        slug="news", name="News", policy_text="News.", requires_double_opt_in=True
    )
    yes = _contact(admin, "yes@example.com", "Yes")
    opted_out = _contact(admin, "out@example.com")
    never = _contact(admin, "never@example.com")
    unconfirmed = _contact(admin, "unconfirmed@example.com")
    suppressed = _contact(admin, "suppressed@example.com")
    bounced = _contact(admin, "bounced@example.com")
    late = _contact(admin, "late@example.com")  # opts out after the snapshot
    for person in (yes, opted_out, suppressed, bounced, late):
        consent_record(
            person=person,
            channel=Channel.EMAIL,
            purpose=offers,
            action=ConsentAction.OPT_IN,
            source=ConsentSource.FORM,
        )
    consent_record(
        person=opted_out,
        channel=Channel.EMAIL,
        purpose=offers,
        action=ConsentAction.OPT_OUT,
        source=ConsentSource.FORM,
    )
    suppression_add(address="suppressed@example.com", reason=SuppressionReason.MANUAL, actor=admin)
    AddressStatus.objects.create(
        address="bounced@example.com", bounce_kind=BounceKind.HARD, bounce_count=1, suppressed=True
    )
    # A double opt-in purpose whose confirmation was never clicked.
    template.consent_purpose = newsletter
    template.save()
    consent_record(
        person=unconfirmed,
        channel=Channel.EMAIL,
        purpose=newsletter,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.FORM,
    )
    segment = _static("Everyone", [yes, opted_out, never, unconfirmed, suppressed, bounced, late])
    # Two campaigns: one for the confirmed-only purpose, one for offers.
    news = _campaign(admin, segment, template, mailbox, consent_purpose_id=newsletter.pk)
    offers_campaign = _campaign(
        admin, segment, template, mailbox, utm=None, consent_purpose_id=offers.pk
    )
    Delivery.objects.all().delete()  # the double opt-in confirmation mail is not under test
    services.campaign_start(campaign=news, actor=admin)
    services.campaign_start(campaign=offers_campaign, actor=admin)
    reasons = dict(
        CampaignRecipient.objects.filter(campaign=news).values_list("email", "excluded_reason")
    )
    assert "not confirmed" in reasons["unconfirmed@example.com"]
    assert all(r for r in reasons.values())  # nobody has confirmed the news purpose
    reasons = dict(
        CampaignRecipient.objects.filter(campaign=offers_campaign).values_list(
            "email", "excluded_reason"
        )
    )
    assert reasons["yes@example.com"] == "" and reasons["late@example.com"] == ""
    assert "opted out" in reasons["out@example.com"]
    assert "never opted in" in reasons["never@example.com"]
    assert "suppressed" in reasons["suppressed@example.com"]
    assert "hard bounce" in reasons["bounced@example.com"]
    # `late` opts out after the snapshot: the outbox's gate refuses at send time.
    consent_record(
        person=late,
        channel=Channel.EMAIL,
        purpose=offers,
        action=ConsentAction.OPT_OUT,
        source=ConsentSource.EMAIL_LINK,
    )
    _run_until_done()
    received = smtp_server.sink.messages
    assert [m.rcpt_tos for m in received] == [["yes@example.com"]]
    message = received[0].message
    assert message["Subject"] == "Spring offer for Yes"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.search(r"<https?://[^>]+/u/[^>]+>", message["List-Unsubscribe"])
    late_row = CampaignRecipient.objects.get(campaign=offers_campaign, email="late@example.com")
    assert late_row.message.delivery.state == DeliveryState.FAILED
    assert "opted out" in late_row.message.delivery.last_error
    assert report(offers_campaign)["sent"] == 1
    offers_campaign.refresh_from_db()
    assert offers_campaign.status == CampaignStatus.COMPLETED
    # Who got it: a query, filtered by state.
    got = recipients_visible(campaign=offers_campaign, user=admin, status="sent")
    assert [r.email for r in got] == ["yes@example.com"]
    assert TimelineEvent.objects.filter(
        kind=EventKind.CAMPAIGN_SENT, contact=yes, campaign=offers_campaign
    ).exists()


@pytest.mark.django_db
@override_settings(RAPPORT_TRACKED_SITE_DOMAINS=["example.com"])
def test_tracking_links_pixel_and_refusals(
    client, personas, offers, template, mailbox, smtp_server
):
    admin = personas.admin
    segment, contacts = bulk_audience(admin, offers, 2)
    campaign = _campaign(admin, segment, template, mailbox)
    services.campaign_start(campaign=campaign, actor=admin)
    _run_until_done()
    assert len(smtp_server.sink.messages) == 2
    body = smtp_server.sink.messages[0].message.get_body(("html",)).get_content()
    click = re.search(r'href="https?://[^"]+(/t/c/[^"]+)"', body).group(1)
    pixel = re.search(r'src="https?://[^"]+(/t/o/[^"]+\.gif)"', body).group(1)
    assert "shop.example.com" not in body.split("Unsubscribe")[0].split("href=")[1][:60]

    response = client.get(pixel)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    client.get(pixel)
    recipient = CampaignRecipient.objects.get(email=smtp_server.sink.messages[0].rcpt_tos[0])
    recipient.refresh_from_db()
    assert recipient.opened_at and recipient.open_count == 2
    assert (
        TimelineEvent.objects.filter(
            kind=EventKind.EMAIL_OPENED, campaign=campaign, contact=recipient.contact
        ).count()
        == 1
    )

    response = client.get(click + "?next=https://evil.example.org/")
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("https://shop.example.com/spring?x=1&")
    assert "utm_source=rapport" in target and "utm_medium=email" in target
    assert "utm_campaign=spring-26" in target and "rpv=" in target
    from django.core import signing

    rpv = re.search(r"rpv=([^&]+)", target).group(1)
    from urllib.parse import unquote

    assert signing.loads(unquote(rpv), salt="rapport.webtrack.visitor") == {
        "c": recipient.contact_id
    }
    assert TimelineEvent.objects.filter(kind=EventKind.EMAIL_CLICKED, campaign=campaign).exists()

    # Tampered: one character of the signature or of the payload changed.
    token = click.rsplit("/", 1)[1]
    assert client.get(f"/t/c/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}").status_code == 404
    assert client.get("/t/c/" + token.replace(token.split(":")[0], "999999.1")).status_code == 404
    assert client.get(pixel.replace(".gif", "x.gif")).status_code == 404
    # A validly signed token for a link of ANOTHER campaign (or no link) is refused: only the
    # URLs that were in this campaign's messages are redirect targets.
    other = services.campaign_create(actor=admin, fields={"name": "Other"})
    foreign = CampaignLink.objects.create(
        campaign=other, url="https://evil.example.org/", url_hash="x"
    )
    assert client.get(f"/t/c/{tracking.click_token(recipient.pk, foreign.pk)}").status_code == 404
    assert client.get(f"/t/c/{tracking.click_token(recipient.pk, 10**9)}").status_code == 404
    data = report(campaign)
    assert (data["sent"], data["opened"], data["clicked"]) == (2, 1, 1)


@pytest.mark.django_db
def test_pause_resume_and_rate_limit(personas, offers, template, mailbox, smtp_server):
    admin = personas.admin
    segment, contacts = bulk_audience(admin, offers, 6)
    campaign = _campaign(admin, segment, template, mailbox, rate_per_minute=2)
    start = timezone.now()
    services.campaign_start(campaign=campaign, actor=admin, now=start)
    with time_machine.travel(start, tick=False):
        assert services.dispatch_due(now=start) == 2  # one minute ahead at 2 a minute
        assert services.dispatch_due(now=start) == 0
        send_due()
    assert len(smtp_server.sink.messages) == 1  # the second is due 30 s later
    services.campaign_pause(campaign=campaign, actor=admin)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    later = start + datetime.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        assert services.dispatch_due(now=later) == 0
        send_due()
    assert len(smtp_server.sink.messages) == 1  # the taken-back message waits
    services.campaign_resume(campaign=campaign, actor=admin, now=later)
    for minute in range(0, 8):
        moment = later + datetime.timedelta(minutes=minute)
        with time_machine.travel(moment, tick=False):
            services.dispatch_due(now=moment)
            send_due()
    addresses = sorted(m.rcpt_tos[0] for m in smtp_server.sink.messages)
    assert addresses == sorted(c.email for c in contacts)  # each once, none lost
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.django_db
def test_cancel_stops_the_rest(personas, offers, template, mailbox, smtp_server):
    admin = personas.admin
    segment, _ = bulk_audience(admin, offers, 5)
    campaign = _campaign(admin, segment, template, mailbox, rate_per_minute=2)
    start = timezone.now()
    services.campaign_start(campaign=campaign, actor=admin, now=start)
    services.dispatch_due(now=start)
    services.campaign_cancel(campaign=campaign, actor=admin)
    _run_until_done()
    assert len(smtp_server.sink.messages) <= 1
    assert CampaignRecipient.objects.filter(state=RecipientState.CANCELLED).count() == 3


@pytest.mark.django_db
def test_ab_test_picks_the_winner_by_open_rate_and_sends_it_to_the_rest(
    personas, offers, template, mailbox, smtp_server
):
    admin = personas.admin
    segment, _ = bulk_audience(admin, offers, 40)
    campaign = _campaign(
        admin,
        segment,
        template,
        mailbox,
        ab_enabled=True,
        ab_sample_percent=50,
        ab_wait_minutes=60,
        ab_metric="open_rate",
        variants=[{"label": "A", "subject": "Subject A"}, {"label": "B", "subject": "Subject B"}],
    )
    start = timezone.now()
    services.campaign_start(campaign=campaign, actor=admin, now=start)
    sample = CampaignRecipient.objects.filter(campaign=campaign, in_sample=True)
    held = CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.HELD)
    assert sample.count() + held.count() == 40 and sample.count() >= 8 and held.exists()
    _run_until_done()
    subjects = [m.message["Subject"] for m in smtp_server.sink.messages]
    assert set(subjects) == {"Subject A", "Subject B"} and len(subjects) == sample.count()
    for recipient in sample.filter(variant__label="B"):
        services.record_open(recipient)
    assert services.ab_decide_due(now=start + datetime.timedelta(minutes=30)) == 0
    after = start + datetime.timedelta(minutes=61)
    with time_machine.travel(after, tick=True):
        _run_until_done()
    send = services.send_settings(campaign)
    assert send.winner.label == "B" and send.winner_chosen_by == "metric"
    subjects = [m.message["Subject"] for m in smtp_server.sink.messages]
    assert (
        len(subjects) == 40
        and subjects.count("Subject A") == sample.filter(variant__label="A").count()
    )
    assert len({m.rcpt_tos[0] for m in smtp_server.sink.messages}) == 40


@pytest.mark.django_db
def test_ab_manual_override(personas, offers, template, mailbox):
    admin = personas.admin
    segment, _ = bulk_audience(admin, offers, 10)
    campaign = _campaign(
        admin,
        segment,
        template,
        mailbox,
        ab_enabled=True,
        ab_sample_percent=50,
        variants=[{"label": "A", "subject": "A"}, {"label": "B", "subject": "B"}],
    )
    services.campaign_start(campaign=campaign, actor=admin)
    b = campaign.variants.get(label="B")
    services.ab_choose_winner(campaign=campaign, variant_id=b.pk, actor=admin)
    assert not CampaignRecipient.objects.filter(state=RecipientState.HELD).exists()
    send = services.send_settings(campaign)
    assert send.winner == b and send.winner_chosen_by == "manual"
    with pytest.raises(Exception, match="already chosen"):
        services.ab_choose_winner(campaign=campaign, variant_id=b.pk, actor=admin)


@pytest.mark.django_db
def test_start_needs_consent_purpose_template_and_audience(personas, offers, template, mailbox):
    from django.core.exceptions import ValidationError

    admin = personas.admin
    campaign = services.campaign_create(actor=admin, fields={"name": "Bare"})
    with pytest.raises(ValidationError) as err:
        services.campaign_start(campaign=campaign, actor=admin)
    assert "include_segments" in err.value.message_dict
    segment, _ = bulk_audience(admin, offers, 1)
    services.campaign_update(
        campaign=campaign,
        actor=admin,
        fields={},
        send={"include_segments": [segment.pk], "template_id": template.pk},
    )
    with pytest.raises(ValidationError) as err:
        services.campaign_start(campaign=campaign, actor=admin)
    assert "consent_purpose" in err.value.message_dict


@pytest.mark.django_db
def test_direct_mail_exports_addresses(client, personas, offers):
    admin = personas.admin
    segment, contacts = bulk_audience(admin, offers, 3)
    campaign = services.campaign_create(
        actor=admin,
        fields={"name": "Catalogue", "kind": "direct_mail"},
        send={"include_segments": [segment.pk]},
    )
    services.campaign_start(campaign=campaign, actor=admin)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    client.force_login(admin)
    response = client.get(f"/campaigns/{campaign.pk}/export.csv")
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("contact_id,name,company")
    assert len(body.strip().splitlines()) == 4


@pytest.mark.django_db
def test_sms_campaign_publishes_its_recipients_to_webhooks(personas, offers, settings):
    from rapport.webhooks.models import WebhookDelivery
    from rapport.webhooks.services import subscription_create

    admin = personas.admin
    segment, contacts = bulk_audience(admin, offers, 3)
    contacts[0].phone = "+4915112345678"
    contacts[0].save(update_fields=["phone"])
    settings.RAPPORT_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    subscription_create(
        actor=admin,
        name="SMS gateway",
        url="http://127.0.0.1:9/hook",
        event_types=["campaign.*"],
    )
    campaign = services.campaign_create(
        actor=admin,
        fields={"name": "Text blast", "kind": "sms"},
        send={"include_segments": [segment.pk], "webhook_event": True},
    )
    services.campaign_start(campaign=campaign, actor=admin)
    (delivery,) = WebhookDelivery.objects.filter(event_type="campaign.recipients")
    assert '"phone":"+4915112345678"' in delivery.body
    assert '"recipients":[{' in delivery.body and delivery.body.count('"contact_id"') == 1
    excluded = CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.EXCLUDED)
    assert excluded.count() == 2 and {r.excluded_reason for r in excluded} == {"no phone number"}

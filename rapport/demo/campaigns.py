"""Demo email campaigns: a consent purpose, a template, an opted-in static segment, two sent
campaigns (one an A/B test) with generated opens and clicks, a direct-mail list and a draft.

Nothing is really sent: the campaigns go through the real start and dispatch (snapshot,
consent gate, outbox rows), then their deliveries are marked sent and opens/clicks written
as if recipients had acted, spread over the past weeks."""

import datetime
import random

from django.db import transaction
from django.utils import timezone


def demo_campaigns(*, admin, contacts, seed: int, say) -> int:
    from rapport.campaigns import services
    from rapport.campaigns.models import (
        Campaign,
        CampaignLink,
        CampaignRecipient,
        CampaignStatus,
        RecipientState,
    )
    from rapport.consent.models import (
        Channel,
        ConsentAction,
        ConsentPurpose,
        ConsentRecord,
        ConsentSource,
        ConsentState,
        ConsentStatus,
    )
    from rapport.mail.models import Delivery, DeliveryState, EmailTemplate, Purpose
    from rapport.segments.models import MemberSource, Segment, SegmentKind, SegmentMember
    from rapport.timeline.hooks import as_columns, events_written
    from rapport.timeline.models import EventKind, TimelineEvent

    rng = random.Random(seed + 13)
    now = timezone.now()
    people = [c for c in contacts if c.email][:160]
    if not people:
        return 0
    with transaction.atomic():
        purpose, _ = ConsentPurpose.objects.get_or_create(
            slug="offers",
            defaults={
                "name": "Offers and news",
                "policy_text": "Occasional offers and product news by email; unsubscribe any time.",
                "requires_double_opt_in": False,
            },
        )
        opted = [c for c in people if rng.random() < 0.85]
        records = ConsentRecord.objects.bulk_create(
            ConsentRecord(
                contact=c,
                address=c.email,
                channel=Channel.EMAIL,
                purpose=purpose,
                action=ConsentAction.OPT_IN,
                source=ConsentSource.IMPORT,
                occurred_at=now - datetime.timedelta(days=90),
                policy_version=purpose.policy_version,
                note="demo import",
            )
            for c in opted
        )
        ConsentState.objects.bulk_create(
            ConsentState(
                contact=c,
                channel=Channel.EMAIL,
                purpose=purpose,
                status=ConsentStatus.OPTED_IN,
                record=r,
                changed_at=r.occurred_at,
            )
            for c, r in zip(opted, records, strict=True)
        )
        segment = Segment.objects.create(
            name="Newsletter readers",
            kind=SegmentKind.STATIC,
            description="Demo: contacts imported from the old newsletter tool",
            created_by=admin,
            member_count=len(people),
        )
        SegmentMember.objects.bulk_create(
            SegmentMember(segment=segment, contact=c, source=MemberSource.IMPORT, added_at=now)
            for c in people
        )
        template, _ = EmailTemplate.objects.get_or_create(
            name="Seasonal offer",
            defaults={
                "purpose": Purpose.MARKETING,
                "consent_purpose": purpose,
                "subject": "{{ contact.first_name | default('Hello') }}, our seasonal offer",
                "body_text": (
                    "Hello {{ contact.first_name | default('there') }},\n\n"
                    "our new season is here: https://shop.example.com/season\n\n"
                    "Regards,\n{{ sender.name }}\n"
                ),
                "body_html": (
                    "<p>Hello {{ contact.first_name | default('there') }},</p>"
                    '<p>our new season is here: <a href="https://shop.example.com/season">'
                    'see the collection</a> or <a href="https://shop.example.com/sale">the sale'
                    "</a>.</p><p>Regards,<br>{{ sender.name }}</p>"
                ),
            },
        )
        base_send = {
            "include_segments": [segment.pk],
            "template_id": template.pk,
            "consent_purpose_id": purpose.pk,
            "rate_per_minute": 1_000_000,
            "from_name": "Rapport Demo",
        }
        spring = services.campaign_create(
            actor=admin,
            fields={"name": "Spring newsletter", "utm_campaign": "spring-newsletter", "cost": 250},
            send=base_send,
        )
        autumn = services.campaign_create(
            actor=admin,
            fields={
                "name": "Autumn offer (A/B subject)",
                "utm_campaign": "autumn-offer",
                "cost": 400,
            },
            send={
                **base_send,
                "ab_enabled": True,
                "ab_sample_percent": 40,
                "ab_wait_minutes": 240,
                "variants": [
                    {"label": "A", "subject": "Autumn offer inside"},
                    {
                        "label": "B",
                        "subject": "{{ contact.first_name | default('Hi') }}, 20% off until Sunday",
                    },
                ],
            },
        )
        for campaign, days_ago, open_p, click_p in (
            (spring, 40, 0.45, 0.12),
            (autumn, 12, 0.5, 0.18),
        ):
            services.campaign_start(campaign=campaign, actor=admin)
            if campaign is autumn:
                services.dispatch_due()
                b = campaign.variants.get(label="B")
                services.ab_choose_winner(campaign=campaign, variant_id=b.pk, actor=admin)
                services.send_settings(campaign).__class__.objects.filter(campaign=campaign).update(
                    winner_chosen_by="metric"
                )
            services.dispatch_due()
            sent_at = now - datetime.timedelta(days=days_ago)
            rows = list(
                CampaignRecipient.objects.filter(
                    campaign=campaign, state=RecipientState.QUEUED
                ).select_related("contact")
            )
            Delivery.objects.filter(message__campaign_recipient__campaign=campaign).update(
                state=DeliveryState.SENT, sent_at=sent_at, last_response="250 demo", attempts=1
            )
            CampaignRecipient.objects.filter(campaign=campaign).exclude(queued_at=None).update(
                queued_at=sent_at
            )
            TimelineEvent.objects.filter(campaign=campaign, kind=EventKind.CAMPAIGN_SENT).update(
                occurred_at=sent_at
            )
            links = list(CampaignLink.objects.filter(campaign=campaign))
            events = []
            for r in rows:
                boost = 1.3 if r.variant and r.variant.label == "B" else 1.0
                if rng.random() >= open_p * boost:
                    continue
                opened = sent_at + datetime.timedelta(hours=rng.expovariate(1 / 20))
                r.opened_at, r.open_count = opened, rng.randint(1, 3)
                events.append((r, EventKind.EMAIL_OPENED, opened, "Opened campaign email", {}))
                if links and rng.random() < click_p / open_p * boost:
                    link = rng.choice(links)
                    clicked = opened + datetime.timedelta(minutes=rng.randint(1, 90))
                    r.clicked_at, r.click_count = clicked, 1
                    link.clicks += 1
                    events.append(
                        (
                            r,
                            EventKind.EMAIL_CLICKED,
                            clicked,
                            "Clicked a link in campaign email",
                            {"url": link.url},
                        )
                    )
            CampaignRecipient.objects.bulk_update(
                rows, ["opened_at", "open_count", "clicked_at", "click_count"]
            )
            CampaignLink.objects.bulk_update(links, ["clicks"])
            written = TimelineEvent.objects.bulk_create(
                TimelineEvent(
                    kind=kind,
                    occurred_at=at,
                    summary=f"{summary}: {campaign.name}",
                    payload={"campaign_id": campaign.pk, **extra},
                    contact_id=r.contact_id,
                    account_id=r.contact.account_id if r.contact else None,
                    campaign_id=campaign.pk,
                )
                for r, kind, at, summary, extra in events
            )
            # Like every timeline write: the listeners (segments, automation, webhooks) hear it.
            events_written([as_columns(event) for event in written])
            send = services.send_settings(campaign)
            send.started_at, send.finished_at = sent_at, sent_at + datetime.timedelta(hours=1)
            send.save(update_fields=["started_at", "finished_at"])
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
        catalogue = services.campaign_create(
            actor=admin,
            fields={"name": "Winter catalogue (direct mail)", "kind": "direct_mail", "cost": 1200},
            send={"include_segments": [segment.pk]},
        )
        services.campaign_start(campaign=catalogue, actor=admin)
        services.campaign_create(
            actor=admin,
            fields={"name": "Winter sale (draft)", "utm_campaign": "winter-sale"},
            send={**base_send, "subject": "Winter sale: {{ contact.first_name }}"},
        )
    return 4

"""Demo marketing: three campaigns with costs, two web forms with submissions, a tracking
consent and some website sessions, and campaign touches before some deals — so the ROI,
attribution, web form and timeline pages show numbers."""

import datetime
import random
import time
from decimal import Decimal

from django.utils import timezone

FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "David",
    "Eva",
    "Femi",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
]
LAST = ["Lind", "Okafor", "Moreau", "Novak", "Silva", "Berg", "Kowalski", "Rossi", "Sato", "Weber"]


def demo_marketing(*, admin, sellers, contacts, seed: int = 42) -> dict:
    from rapport.campaigns.models import Campaign
    from rapport.consent.models import ConsentPurpose
    from rapport.consent.services import consent_record
    from rapport.timeline.models import EventKind
    from rapport.timeline.services import timeline_record
    from rapport.webforms import services as forms
    from rapport.webforms import spam
    from rapport.webtrack.services import page_view_record

    rng = random.Random(seed + 13)
    now = timezone.now()
    campaigns = {}
    for key, name, kind, cost in (
        ("spring-fair", "Spring trade fair", "event", Decimal("2500")),
        ("nov-news", "November newsletter", "email", Decimal("400")),
        ("q4-ads", "Search ads Q4", "ads", Decimal("1800")),
    ):
        campaigns[key], _ = Campaign.objects.get_or_create(
            utm_campaign=key,
            defaults={
                "name": name,
                "kind": kind,
                "cost": cost,
                "status": "running",
                "created_by": admin,
            },
        )
    newsletter, _ = ConsentPurpose.objects.get_or_create(
        slug="newsletter",
        defaults={
            "name": "Newsletter",
            "policy_text": "Our monthly newsletter; unsubscribe any time.",
        },
    )
    tracking, _ = ConsentPurpose.objects.get_or_create(
        slug="web-tracking",
        defaults={
            "name": "Website analytics",
            "policy_text": "We record which pages of our website you visit, to serve you better.",
            "requires_double_opt_in": False,
        },
    )
    contact_form = forms.form_create(
        actor=admin,
        data={
            "name": "Contact us",
            "title": "Talk to our team",
            "intro": "Tell us what you need; we answer within a working day.",
            "target": "lead",
            "assign_user": sellers[0],
            "fields": [
                {"key": "first_name", "label": "First name"},
                {"key": "last_name", "label": "Last name", "required": True},
                {"key": "email", "label": "Work email", "required": True},
                {"key": "company", "label": "Company"},
                {"key": "description", "label": "How can we help?"},
            ],
            "campaign": campaigns["q4-ads"],
        },
        purposes=[newsletter, tracking],
    )
    fair_form = forms.form_create(
        actor=admin,
        data={
            "name": "Trade fair sign-up",
            "title": "Meet us at the fair",
            "target": "contact",
            "assign_user": sellers[1],
            "fields": [
                {"key": "first_name", "label": "First name"},
                {"key": "last_name", "label": "Last name", "required": True},
                {"key": "email", "label": "Email", "required": True},
            ],
            "campaign": campaigns["spring-fair"],
        },
        purposes=[newsletter],
    )
    submitted = 0
    for i in range(14):
        form = contact_form if i % 2 else fair_form
        utm = (
            {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "q4-ads"}
            if i % 3 == 0
            else {}
        )
        data = {
            spam.STAMP: spam.stamp(form),
            "first_name": rng.choice(FIRST),
            "last_name": rng.choice(LAST),
            "email": f"visitor{i}@example.net",
            "company": f"{rng.choice(LAST)} GmbH",
            "consent_newsletter": "on" if i % 2 == 0 else "",
            "consent_web-tracking": "on",
            **utm,
        }
        forms.form_submit(
            form=form, data=data, ip=f"192.0.2.{i + 1}", user_agent="demo", now=time.time() + 30
        )
        submitted += 1

    # Website sessions of contacts who agreed to tracking (some from a newsletter click).
    sessions = 0
    for contact in contacts[:8]:
        if not contact.email:
            continue
        consent_record(
            person=contact, channel="web", purpose=tracking, action="opt_in", source="form"
        )
        for days in (rng.randint(2, 20), rng.randint(21, 40)):
            start = now - datetime.timedelta(days=days, hours=rng.randint(0, 8))
            campaign = rng.choice(["nov-news", "q4-ads", ""])
            query = (
                f"?utm_source=rapport&utm_medium=email&utm_campaign={campaign}" if campaign else ""
            )
            for n, (path, title) in enumerate(
                [("/", "Home"), ("/pricing", "Pricing"), ("/customers", "Customer stories")][
                    : rng.randint(1, 3)
                ]
            ):
                page_view_record(
                    person=contact,
                    url=f"https://www.example.com{path}{query if n == 0 else ''}",
                    title=title,
                    at=start + datetime.timedelta(minutes=3 * n),
                )
            sessions += 1

    # Campaign touches before some deals: newsletter clicks and fair visits.
    touched = 0
    for contact in contacts[8:60]:
        if not contact.account_id or rng.random() < 0.4:
            continue
        key = rng.choice(["nov-news", "spring-fair", "q4-ads"])
        kind = EventKind.EMAIL_CLICKED if key == "nov-news" else EventKind.FORM_SUBMITTED
        timeline_record(
            subject=contact,
            kind=kind,
            summary=f"{campaigns[key].name}: {'link clicked' if kind == EventKind.EMAIL_CLICKED else 'signed up'}",
            campaign_id=campaigns[key].pk,
            occurred_at=now - datetime.timedelta(days=rng.randint(1, 60)),
            payload={"demo": True},
        )
        touched += 1
    return {"forms": 2, "submissions": submitted, "sessions": sessions, "touches": touched}

"""Event-based journeys are automation rules (one engine): this module lists the rules that
act on marketing triggers and offers ready-made presets that create ordinary rules the user
then edits in the rule builder."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet

from rapport.automation.models import Rule, TriggerType

MARKETING_TRIGGERS = (
    TriggerType.FORM_SUBMITTED,
    TriggerType.SEGMENT_ENTERED,
    TriggerType.SEGMENT_LEFT,
    TriggerType.ORDER_PLACED,
    TriggerType.CHURN_RISK_CROSSED,
    TriggerType.DATE_RELATIVE,
    TriggerType.SCHEDULE,
)


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    description: str
    templates: tuple[tuple[str, str, str], ...]  # (name, subject, body) created if missing

    def rule_data(self) -> dict:
        return PRESET_RULES[self.key]()


def _welcome() -> dict:
    return {
        "name": "Welcome series after a web form",
        "description": "Journey preset: a welcome mail at once, a second one three days later "
        "and a follow-up task for the owner.",
        "trigger_type": TriggerType.FORM_SUBMITTED,
        "object_type": "",
        "trigger_config": {},
        "conditions": {},
        "actions": [
            {"type": "send_email", "params": {"template": "Journey: welcome"}},
            {"type": "wait", "params": {"hours": 72}},
            {"type": "send_email", "params": {"template": "Journey: welcome, part 2"}},
            {
                "type": "create_task",
                "params": {
                    "subject": "Follow up the web form sign-up",
                    "kind": "task",
                    "due_in_days": 1,
                    "assign_to": "record_owner",
                },
            },
        ],
        "is_active": False,
    }


def _black_friday() -> dict:
    return {
        "name": "Black Friday offer",
        # Cron cannot say "the day after the fourth Thursday of November"; it can say the
        # fourth Thursday (4#4), and the journey waits a day.
        "description": "Journey preset: on the fourth Thursday of November at 09:00, wait a "
        "day, then send the offer (Black Friday morning) to every contact matching the "
        "conditions — add one, e.g. a lifecycle stage.",
        "trigger_type": TriggerType.SCHEDULE,
        "object_type": "contact",
        "trigger_config": {"cron": "0 9 * 11 4#4"},
        "conditions": {},
        "actions": [
            {"type": "wait", "params": {"hours": 24}},
            {"type": "send_email", "params": {"template": "Journey: Black Friday offer"}},
        ],
        "is_active": False,
    }


def _win_back() -> dict:
    return {
        "name": "Win-back when churn risk rises",
        "description": "Journey preset: when an analytics refresh moves a customer's churn "
        "risk above the alert threshold, the owner gets a call task and the customer a "
        "we-miss-you mail.",
        "trigger_type": TriggerType.CHURN_RISK_CROSSED,
        "object_type": "",
        "trigger_config": {},
        "conditions": {},
        "actions": [
            {
                "type": "create_task",
                "params": {
                    "subject": "Win-back call: churn risk rose",
                    "kind": "call",
                    "due_in_days": 2,
                    "assign_to": "record_owner",
                },
            },
            {"type": "send_email", "params": {"template": "Journey: we miss you"}},
        ],
        "is_active": False,
    }


PRESET_RULES = {"welcome": _welcome, "black_friday": _black_friday, "win_back": _win_back}

PRESETS = [
    Preset(
        "welcome",
        "Welcome series after a form",
        "When someone sends a web form: a welcome mail, another three days later, and a "
        "follow-up task for the owner.",
        (
            (
                "Journey: welcome",
                "Welcome, {{ person.first_name }}",
                "Thank you for getting in touch.",
            ),
            (
                "Journey: welcome, part 2",
                "A few ideas to get started",
                "Here is what our customers do first.",
            ),
        ),
    ),
    Preset(
        "black_friday",
        "Black Friday offer",
        "A calendar-date journey: the offer goes out on Black Friday morning.",
        (("Journey: Black Friday offer", "Our Black Friday offer", "This weekend only."),),
    ),
    Preset(
        "win_back",
        "Win-back when churn risk rises",
        "When a customer's churn risk crosses the alert threshold: a call task and a mail.",
        (("Journey: we miss you", "We miss you", "It has been a while — here is what is new."),),
    ),
]


def journeys() -> QuerySet[Rule]:
    """Automation rules acting on marketing triggers (schedules only when they target people)."""
    return (
        Rule.objects.filter(trigger_type__in=MARKETING_TRIGGERS)
        .exclude(Q(trigger_type=TriggerType.SCHEDULE) & ~Q(object_type__in=["contact", "lead"]))
        .exclude(
            Q(trigger_type=TriggerType.DATE_RELATIVE) & ~Q(object_type__in=["contact", "lead"])
        )
        .order_by("name", "id")
    )


def preset_create(*, key: str, actor) -> Rule:
    """Create the preset's rule (inactive, for the user to review) and its mail templates
    (marketing purpose) when missing. Administrators only, like every rule."""
    from rapport.automation.services import rule_create
    from rapport.consent.models import ConsentPurpose
    from rapport.mail.models import EmailTemplate, Purpose

    preset = next((p for p in PRESETS if p.key == key), None)
    if preset is None:
        from django.core.exceptions import ValidationError

        raise ValidationError({"preset": ["Unknown journey preset"]})
    # Marketing mail needs the recipient's consent to a purpose: the newsletter's if any.
    purpose = (
        ConsentPurpose.objects.filter(active=True, slug="newsletter").first()
        or ConsentPurpose.objects.filter(active=True).exclude(slug="web-tracking").first()
    )
    with transaction.atomic():
        rule = rule_create(actor=actor, data=preset.rule_data())
        for name, subject, body in preset.templates:
            EmailTemplate.objects.get_or_create(
                name=name,
                defaults={
                    "purpose": Purpose.MARKETING,
                    "subject": subject,
                    "body_text": body,
                    "created_by": actor,
                    "consent_purpose": purpose,
                },
            )
    return rule

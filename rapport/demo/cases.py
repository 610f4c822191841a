"""Demo data of the service desk: a business calendar and SLA policies, queues with agents,
categories, routing rules, macros and twelve weeks of cases in every state with their
conversations, written through the cases services (numbers, timeline events, routing, the
SLA clock) so the demo shows what real use would. Cases arrive mostly on weekdays in
business hours, so the Service dashboard's charts and demand forecast have a real weekly
pattern to show. Past agent replies are written as history (no mail is sent for them)."""

import datetime
import random

from django.utils import timezone

from rapport.calendars.services import calendar_save
from rapport.cases import services
from rapport.cases.models import (
    AgentAvailability,
    AgentStatus,
    AssignmentMode,
    Case,
    CaseCategory,
    CaseEntry,
    CaseEntryKind,
    Macro,
    Queue,
    QueueMember,
    RoutingRule,
)

SUBJECTS = [
    ("Billing", "Invoice shows the wrong amount", "refund"),
    ("Billing", "Please refund the duplicate charge", "refund"),
    ("Delivery", "Parcel has not arrived", "delivery"),
    ("Delivery", "Wrong item delivered", "delivery"),
    ("Product", "Device does not switch on", "product"),
    ("Product", "How do I reset my password?", "product"),
    ("Product", "Feature request: export to PDF", "product"),
    ("Account", "Change the billing address", "account"),
]
CUSTOMER_LINES = [
    "Could you please look into this as soon as possible?",
    "I tried again this morning and it still does not work.",
    "Thanks, that helped, but there is one more thing.",
    "Any news on this?",
]
AGENT_LINES = [
    "Thanks for reaching out, we are looking into it.",
    "Could you send us the order number?",
    "This is fixed now; let us know if anything else comes up.",
    "I have escalated this to our specialists.",
]


WEEKDAY_WEIGHTS = (10, 9, 9, 8, 7, 2, 1)  # Monday … Sunday
HOUR_WEIGHTS = dict(zip(range(7, 20), (1, 4, 8, 9, 8, 6, 7, 8, 7, 6, 4, 2, 1), strict=True))


def _arrival(rng: random.Random, now: datetime.datetime, weeks: int) -> datetime.datetime:
    """A past moment with the weekly and daily shape of a service desk's inbound demand."""
    while True:
        day = (now - datetime.timedelta(days=rng.randint(0, weeks * 7))).date()
        if rng.random() * 10 < WEEKDAY_WEIGHTS[day.weekday()]:
            break
    hour = rng.choices(list(HOUR_WEIGHTS), weights=list(HOUR_WEIGHTS.values()))[0]
    moment = datetime.datetime.combine(
        day, datetime.time(hour, rng.randint(0, 59)), tzinfo=timezone.get_current_timezone()
    )
    return min(moment, now - datetime.timedelta(minutes=30))


def _sla_setup(admin) -> None:
    from rapport.sla.policies import sla_policy_save

    nine_to_five = [(datetime.time(9), datetime.time(17))]
    calendar = calendar_save(
        actor=admin,
        name="Support hours",
        time_zone="Europe/Berlin",
        week={day: nine_to_five for day in range(5)},
        holiday_country="DE",
    )
    sla_policy_save(
        actor=admin,
        data={
            "name": "Urgent and high priority",
            "position": 0,
            "priorities": ["urgent", "high"],
            "first_response_minutes": 60,
            "next_response_minutes": 120,
            "resolution_minutes": 8 * 60,
            "calendar": calendar,
            "warn_percent_before": 25,
        },
        escalations={"warning": {"notify_owner": True}, "breach": {"notify_queue": True}},
    )
    sla_policy_save(
        actor=admin,
        data={
            "name": "Standard",
            "position": 1,
            "first_response_minutes": 4 * 60,
            "next_response_minutes": 8 * 60,
            "resolution_minutes": 5 * 8 * 60,
            "calendar": calendar,
            "warn_percent_before": 20,
        },
        escalations={"breach": {"notify_owner": True}},
    )


def _past_reply(case: Case, agent, body: str, at: datetime.datetime) -> None:
    """An agent's answer from before the demo began: history, so no mail is sent."""
    from rapport.sla.services import sla_on_case_event

    CaseEntry.objects.create(
        case=case, kind=CaseEntryKind.REPLY, author=agent, body=body, created_at=at
    )
    values = {"last_agent_message_at": at}
    if case.first_response_at is None:
        values["first_response_at"] = at
    Case.objects.filter(pk=case.pk).update(**values)
    for key, value in values.items():
        setattr(case, key, value)
    sla_on_case_event(case=case, event="agent_replied", at=at, actor=agent)


# Cases per demo account: the default demo (200 accounts, `make run`) gets a service desk of
# 300 cases; a small test demo gets a few, and the bulk generator's bootstrap (no accounts)
# only the desk's set-up. Cases go through the services one by one, which made them most of
# a small demo's build time when their number was fixed.
CASES_PER_ACCOUNT = 1.5


def demo_case_count(accounts: int) -> int:
    return round(accounts * CASES_PER_ACCOUNT)


def demo_cases(*, admin, agents, contacts, count: int, seed: int = 42, say=print) -> int:
    rng = random.Random(seed)
    now = timezone.now()
    _sla_setup(admin)
    parents = {}
    for name in ("Billing", "Delivery", "Product", "Account"):
        parents[name] = CaseCategory.objects.create(name=name, position=len(parents))
    CaseCategory.objects.create(name="Refunds", parent=parents["Billing"])
    general = Queue.objects.create(name="General support", assignment=AssignmentMode.ROUND_ROBIN)
    billing = Queue.objects.create(name="Billing", assignment=AssignmentMode.LEAST_OPEN)
    vip = Queue.objects.create(name="Key accounts", assignment=AssignmentMode.MANUAL)
    for i, agent in enumerate(agents):
        QueueMember.objects.create(queue=general, user=agent, capacity=15)
        if i % 2 == 0:
            QueueMember.objects.create(queue=billing, user=agent, capacity=10)
        AgentStatus.objects.create(
            user=agent,
            availability=AgentAvailability.AVAILABLE if i % 3 else AgentAvailability.AWAY,
        )
    QueueMember.objects.create(queue=vip, user=agents[0], capacity=10)
    RoutingRule.objects.create(
        name="Key accounts", position=0, tier="platinum", queue=vip, priority="high"
    )
    RoutingRule.objects.create(
        name="Billing words", position=1, keywords="refund, invoice, charge", queue=billing
    )
    RoutingRule.objects.create(
        name="Billing category", position=2, category=parents["Billing"], queue=billing
    )
    RoutingRule.objects.create(name="Everything else", position=9, queue=general)
    # Two key accounts get platinum by hand (the account page's Cases card shows it); their
    # cases route to "Key accounts".
    key_accounts = list(dict.fromkeys(c.account for c in contacts[:40] if c.account_id))[:2]
    for account in key_accounts:
        services.account_tier_set(
            account=account, tier="platinum", actor=admin, note="Key account: board sponsor"
        )
    Macro.objects.create(
        name="Ask for the order number",
        body="Hello {{ contact.first_name | default('there') }},\n\nCould you send us the order "
        "number for case #{{ case.number }}?\n\nBest regards,\n{{ agent.first_name }}",
        set_fields={"status": "pending_customer"},
        created_by=admin,
    )
    Macro.objects.create(
        name="Resolved",
        body="Hello {{ contact.first_name | default('there') }},\n\nWe have resolved your "
        "request. Reply to this email if anything is still wrong.\n\n{{ agent.first_name }}",
        set_fields={"status": "resolved"},
        created_by=admin,
    )
    made = 0
    for _ in range(count):
        category, subject, _ = rng.choice(SUBJECTS)
        contact = rng.choice(contacts) if contacts else None
        opened = _arrival(rng, now, weeks=12)
        case = services.case_create(
            actor=admin,
            fields={
                "subject": subject,
                "description": rng.choice(CUSTOMER_LINES),
                "contact": contact,
                "category": parents[category],
                "channel": rng.choice(["email", "email", "phone", "chat", "web_form"]),
                "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
            },
            body=rng.choice(CUSTOMER_LINES),
            at=opened,
        )
        Case.objects.filter(pk=case.pk).update(created_at=opened)  # history: when it came in
        agent = case.owner or rng.choice(agents)
        age = now - opened
        # Recent cases are more often still open; old ones mostly resolved or closed.
        untouched = age < datetime.timedelta(days=2) and rng.random() < 0.6
        if untouched:
            made += 1
            continue
        answered = opened + datetime.timedelta(minutes=rng.randint(8, 6 * 60))
        if answered >= now:
            made += 1
            continue
        if case.owner_id is None and rng.random() < 0.8:
            services.case_assign(case=case, actor=admin, owner=agent, at=answered)
        if rng.random() < 0.3:
            services.case_note(case=case, actor=agent, body=rng.choice(AGENT_LINES), at=answered)
        _past_reply(case, agent, rng.choice(AGENT_LINES), answered)
        if age < datetime.timedelta(days=4):
            target = rng.choice(["open", "open", "open", "pending_customer", "on_hold", "resolved"])
        else:
            target = rng.choices(
                ["resolved", "closed", "pending_customer", "on_hold"], weights=[40, 52, 6, 2]
            )[0]
        settled = min(answered + datetime.timedelta(hours=rng.randint(1, 72)), now)
        if target in ("resolved", "closed"):
            services.case_set_status(case=case, status="resolved", actor=agent, at=settled)
            if target == "closed":
                services.case_set_status(case=case, status="closed", actor=agent, at=settled)
        else:
            services.case_set_status(case=case, status=target, actor=agent, at=settled)
        made += 1
    say(f"{made} cases")
    return made

"""Demo data of territories, assignment rules and scoring (issue 15, branch sfa): four
territories with rules, reps and managers, existing accounts placed; a lead assignment rule;
rule points; a history of closed leads with a planted pattern so the learned score has
something to learn, then both models trained and every open lead and deal scored."""

import datetime
import random

from django.utils import timezone


def demo_sales_depth(*, admin, seed: int = 42, say=print) -> None:
    from rapport.accounts.models import Account
    from rapport.activities.models import Activity
    from rapport.identity.models import User
    from rapport.leads.models import Lead
    from rapport.scoring import services as scoring
    from rapport.territories import services as territories
    from rapport.territories.models import AssignmentRule, RepAvailability, Strategy
    from rapport.territories.placement import Placer, place

    rng = random.Random(seed + 15)
    users = {u.username: u for u in User.objects.all()}
    emea = territories.territory_save(
        actor=admin, fields={"name": "EMEA", "priority": 100, "description": "Europe"}
    )
    specs = [
        ("DACH", emea, 10, [{"field": "country", "values": ["DE", "AT", "CH"]}], ["sam"], []),
        (
            "Western Europe",
            emea,
            20,
            [{"field": "country", "values": ["FR", "ES", "IT", "GB", "BE", "NL"]}],
            ["rita"],
            [],
        ),
        (
            "Americas",
            None,
            30,
            [{"field": "country", "values": ["US", "CA"]}],
            ["nick", "lena"],
            ["alex"],
        ),
    ]
    territories.territory_set_members(
        actor=admin, territory=emea, reps=[], managers=[users["maria"]]
    )
    for name, parent, priority, rules, reps, managers in specs:
        t = territories.territory_save(
            actor=admin, fields={"name": name, "parent": parent, "priority": priority}
        )
        territories.territory_set_rules(actor=admin, territory=t, rules=rules)
        territories.territory_set_members(
            actor=admin,
            territory=t,
            reps=[users[u] for u in reps if u in users],
            managers=[users[u] for u in managers if u in users],
        )
    placer = Placer()
    place("account", list(Account.objects.values_list("id", flat=True)), log=False, placer=placer)
    AssignmentRule.objects.create(
        name="Leads go to their territory's rep", position=0, strategy=Strategy.TERRITORY_REP
    )
    for username in ("sam", "rita", "nick", "lena"):
        if username in users:
            RepAvailability.objects.create(user=users[username], capacity=60)
    for fields in (
        {"kind": "fit", "field": "source", "value": "referral, partner", "points": 25},
        {"kind": "fit", "field": "title", "operator": "not_empty", "points": 10},
        {"kind": "fit", "field": "industry", "value": "software, finance", "points": 10},
        {"kind": "engagement", "field": "web_visits", "points": 5, "cap": 4},
        {"kind": "engagement", "field": "emails", "points": 5, "cap": 3},
    ):
        scoring.rule_save(actor=admin, fields=fields)

    # A year of closed leads: referrals, software and engaged leads convert more often.
    now = timezone.now()
    sellers = [users[u] for u in ("sam", "rita", "nick", "lena") if u in users]
    history, visits = [], []
    for i in range(360):
        source = rng.choice(["web", "referral", "event", "partner", "advertising"])
        industry = rng.choice(["Software", "Retail", "Manufacturing", "Finance", "Media"])
        web = rng.choice([0, 0, 1, 2, 3, 5, 8])
        logit = (
            -1.8
            + 0.4 * web
            + (0.9 if source in ("referral", "partner") else 0)
            + (0.5 if industry == "Software" else 0)
        )
        converted = rng.random() < 1 / (1 + 2.718**-logit)
        # Like the leads people type in, many arrive without an industry.
        sparse = rng.random() < 0.4
        at = now - datetime.timedelta(days=rng.randint(30, 365))
        history.append(
            Lead(
                owner=rng.choice(sellers),
                first_name=rng.choice(["Ana", "Ben", "Chen", "Dana", "Eli", "Fatou", "Gus"]),
                last_name=f"History {i}",
                company=f"Prospect {i}",
                source=source,
                industry="" if sparse else industry,
                country=rng.choice(["DE", "FR", "US", "GB", "CA"]),
                title=rng.choice(["", "CTO", "Head of Sales", ""]),
                status="converted" if converted else "disqualified",
                disqualified_reason=""
                if converted
                else rng.choice(["No budget", "No fit", "Went silent"]),
                converted_at=at if converted else None,
            )
        )
        visits.append((web, at))
    Lead.objects.bulk_create(history)
    ids = list(
        Lead.objects.filter(last_name__startswith="History ")
        .order_by("id")
        .values_list("id", "owner_id")
    )
    Activity.objects.bulk_create(
        [
            Activity(
                kind="interaction",
                channel="web",
                subject="Visited the pricing page",
                owner_id=owner_id,
                lead_id=pk,
                occurred_at=at - datetime.timedelta(days=k + 1),
            )
            for (pk, owner_id), (n, at) in zip(ids, visits, strict=True)
            for k in range(n)
        ]
    )
    place("lead", [pk for pk, _ in ids], log=False, placer=placer)
    # Today's open leads have been on the website too, some a lot.
    open_leads = Lead.objects.filter(status__in=["new", "working", "qualified"]).values_list(
        "id", "owner_id"
    )
    Activity.objects.bulk_create(
        [
            Activity(
                kind="interaction",
                channel="web",
                subject="Visited the pricing page",
                owner_id=owner_id,
                lead_id=pk,
                occurred_at=now - datetime.timedelta(days=k + 1),
            )
            for pk, owner_id in open_leads
            for k in range(rng.choice([0, 0, 1, 2, 4, 7]))
        ]
    )
    result = scoring.retrain_all(actor=admin)
    say(
        f"4 territories, {result['leads_scored']} leads and "
        f"{result['opportunities_scored']} opportunities scored"
    )

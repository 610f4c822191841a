"""Demo data: a small company's CRM, built through the same services the app uses, so the
timeline, versions and visibility are exactly what real use produces."""

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rapport.identity.models import Role, User
from rapport.identity.services import team_create, user_create

DEMO_PASSWORD = "rapport-demo"

INDUSTRIES = ["Software", "Retail", "Manufacturing", "Healthcare", "Logistics", "Finance", "Media"]
CITIES = [
    ("Berlin", "DE"),
    ("Paris", "FR"),
    ("Madrid", "ES"),
    ("London", "GB"),
    ("Boston", "US"),
    ("Austin", "US"),
    ("Toronto", "CA"),
    ("Milan", "IT"),
    ("Lyon", "FR"),
    ("Hamburg", "DE"),
]
FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Luis",
    "Maya",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
]
LAST = [
    "Schmidt",
    "Martin",
    "García",
    "Smith",
    "Rossi",
    "Dubois",
    "Müller",
    "Brown",
    "Lopez",
    "Weber",
    "Moreau",
    "Wilson",
    "Bianchi",
    "Fischer",
    "Taylor",
    "Bernard",
    "Novak",
    "Kowalski",
]
WORDS = [
    "Nord",
    "Blue",
    "Summit",
    "Atlas",
    "Pine",
    "Bright",
    "Iron",
    "Nova",
    "Delta",
    "Harbor",
    "Vertex",
    "Oak",
    "Silver",
    "Quantum",
    "Maple",
    "Crest",
    "Lumen",
    "Terra",
]
SUFFIX = ["GmbH", "SA", "Ltd", "Inc", "Group", "Labs", "Systems", "Partners"]
TITLES = ["CEO", "CTO", "Head of Sales", "Buyer", "Office Manager", "IT Director", "CFO", "Owner"]
SOURCES = ["web", "referral", "event", "partner", "cold call", "advertising"]
CATEGORIES = {
    "Software": ["CRM Seat", "Analytics Add-on", "API Package", "Support Plan"],
    "Hardware": ["Barcode Scanner", "POS Terminal", "Receipt Printer"],
    "Services": ["Onboarding", "Training Day", "Data Migration"],
    "Supplies": ["Paper Rolls", "Label Pack"],
}


@dataclass
class DemoResult:
    counts: dict[str, int] = field(default_factory=dict)


DEMO_LOGINS = [
    ("admin", "administrator: sees and configures everything"),
    ("maria", "manager of Sales EMEA (sam, rita)"),
    ("alex", "manager of Sales Americas (nick, lena)"),
    ("sam", "sales rep, EMEA"),
    ("nick", "sales rep, Americas"),
    ("viewer", "read-only, EMEA: sees the EMEA team's records"),
]


def _users() -> tuple[User, list[User]]:
    def make(username, first, last, role, team=None):
        user = user_create(
            username=username,
            email=f"{username}@rapport.example",
            password=DEMO_PASSWORD,
            first_name=first,
            last_name=last,
            role=role,
            team=team,
            validate=False,
        )
        return user

    admin = make("admin", "Ada", "Admin", Role.ADMIN)
    maria = make("maria", "Maria", "Manager", Role.MANAGER)
    alex = make("alex", "Alex", "Lead", Role.MANAGER)
    emea = team_create(name="Sales EMEA", manager=maria)
    americas = team_create(name="Sales Americas", manager=alex)
    for boss, team in ((maria, emea), (alex, americas)):
        boss.team = team
        boss.save(update_fields=["team"])
    reps = [
        make("sam", "Sam", "Seller", Role.SALES_REP, emea),
        make("rita", "Rita", "Rep", Role.SALES_REP, emea),
        make("nick", "Nick", "Closer", Role.SALES_REP, americas),
        make("lena", "Lena", "Hunter", Role.SALES_REP, americas),
    ]
    make("viewer", "Vic", "Viewer", Role.READ_ONLY, emea)
    # Notification emails: Maria reads a daily digest in Berlin, Alex an hourly one in New
    # York; the others get each email on its own (the default).
    from rapport.notifications.services import preferences_update

    preferences_update(
        user=maria, changes={"email_delivery": "daily", "time_zone": "Europe/Berlin"}
    )
    preferences_update(
        user=alex, changes={"email_delivery": "hourly", "time_zone": "America/New_York"}
    )
    return admin, reps + [maria, alex]


def _team_readable(record, owner: User) -> None:
    """Share the record read-only with its owner's team: every demo record is private to its
    owner and managers by default, so without this the read-only EMEA user would see nothing
    (and a rep nothing of a teammate's). Teams still do not see each other's records."""
    from rapport.records.services import record_share

    if owner.team_id:
        record_share(record=record, actor=owner, team=owner.team)


def _standard_pipeline(admin: User):
    """The migration's "Sales" pipeline, made again if a database flush removed it."""
    from importlib import import_module

    from rapport.sales.services import pipeline_create

    stages = import_module("rapport.sales.migrations.0002_default_pipeline").STAGES
    return pipeline_create(
        actor=admin,
        name="Sales",
        is_default=True,
        stages=[{"name": n, "probability": p, "kind": k} for n, p, k in stages],
    )


def demo_build(*, accounts: int = 200, seed: int = 42, progress=None) -> DemoResult:
    """Build the demo company; `accounts` scales everything else with it."""
    from rapport.accounts.services import account_create, contact_create
    from rapport.leads.services import lead_create
    from rapport.sales.models import Stage, StageKind
    from rapport.sales.selectors import default_pipeline
    from rapport.sales.services import (
        line_item_add,
        opportunity_create,
        opportunity_move_stage,
        price_book_create,
        price_book_entry_set,
        product_create,
    )

    rng = random.Random(seed)
    now = timezone.now()
    result = DemoResult()
    say = progress or (lambda msg: None)

    with transaction.atomic():
        admin, sellers = _users()
        say("users and teams")
        book = price_book_create(
            actor=admin, fields={"name": "Standard", "currency": "EUR", "is_default": True}
        )
        products = []
        for category, names in CATEGORIES.items():
            for name in names:
                price = Decimal(rng.choice([19, 49, 99, 249, 499, 990, 1900]))
                product = product_create(
                    actor=admin,
                    fields={
                        "sku": name.upper().replace(" ", "-")[:20],
                        "name": name,
                        "category": category,
                        "unit_price": price,
                        "unit_cost": (price * Decimal("0.55")).quantize(Decimal("0.01")),
                    },
                )
                price_book_entry_set(
                    price_book=book, product=product, unit_price=price, actor=admin
                )
                products.append(product)
        say(f"{len(products)} products")
        # Installed base: some products are tracked; their sales make assets (rapport/assets).
        hardware = [p for p in products if p.category == "Hardware"]
        for product, months in zip(hardware, (24, 12, 36), strict=False):
            product.is_tracked, product.warranty_months = True, months
            product.save(update_fields=["is_tracked", "warranty_months"])

        account_rows, contact_rows = [], []
        for i in range(accounts):
            owner = rng.choice(sellers)
            city, country = rng.choice(CITIES)
            name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIX)}"
            slug = name.lower().replace(" ", "")[:20]
            account = account_create(
                actor=owner,
                owner=owner,
                fields={
                    "name": name,
                    "website": f"https://www.{slug}{i}.example",
                    "industry": rng.choice(INDUSTRIES),
                    "size": rng.choice(["1-9", "10-49", "50-249", "250-999", "1000+"]),
                    "annual_revenue": Decimal(rng.randint(1, 500) * 100_000),
                    "city": city,
                    "country": country,
                },
                tags=rng.sample(
                    ["customer", "prospect", "partner", "vip", "newsletter"], k=rng.randint(0, 2)
                ),
            )
            _team_readable(account, owner)
            account_rows.append(account)
            for _ in range(rng.randint(1, 3)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                contact = contact_create(
                    actor=owner,
                    owner=owner,
                    fields={
                        "first_name": first,
                        "last_name": last,
                        "title": rng.choice(TITLES),
                        "account": account,
                        "city": city,
                        "country": country,
                    },
                    emails=[
                        {
                            "email": f"{first}.{last}.{i}@{slug}{i}.example".lower()
                            .encode("ascii", "ignore")
                            .decode()
                        }
                    ],
                    phones=[{"number": f"+1415555{rng.randint(1000, 9999)}", "kind": "work"}],
                )
                _team_readable(contact, owner)
                contact_rows.append(contact)
        say(f"{len(account_rows)} accounts, {len(contact_rows)} contacts")

        for i in range(int(accounts * 0.75)):
            owner = rng.choice(sellers)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            status = rng.choice(["new", "new", "working", "qualified", "disqualified"])
            lead = lead_create(
                actor=owner,
                owner=owner,
                fields={
                    "first_name": first,
                    "last_name": last,
                    "company": f"{rng.choice(WORDS)} {rng.choice(SUFFIX)}",
                    "email": f"lead{i}@{rng.choice(WORDS).lower()}.example",
                    "source": rng.choice(SOURCES),
                    # A country without drawing from rng (the rest of the demo stays the same):
                    # leads land in the demo's territories.
                    "country": CITIES[i % len(CITIES)][1],
                    "status": status,
                    "disqualified_reason": "No budget" if status == "disqualified" else "",
                },
            )
            _team_readable(lead, owner)
        say(f"{int(accounts * 0.75)} leads")

        pipeline = default_pipeline() or _standard_pipeline(admin)
        stages = list(Stage.objects.filter(pipeline=pipeline).order_by("position"))
        open_stages = [s for s in stages if s.kind == StageKind.OPEN]
        won = next(s for s in stages if s.kind == StageKind.WON)
        lost = next(s for s in stages if s.kind == StageKind.LOST)
        from rapport.sales.services.lost_reasons import lost_reason_create

        # The lost-reason picklist (the deals below are lost for the first one).
        for reason in ("Chose a competitor", "Price", "No budget", "No decision", "Timing"):
            lost_reason_create(actor=admin, name=reason)
        opportunities = 0
        for account in rng.sample(account_rows, k=min(len(account_rows), accounts)):
            owner = account.owner
            contact = next((c for c in contact_rows if c.account_id == account.pk), None)
            opp = opportunity_create(
                actor=owner,
                owner=owner,
                fields={
                    "name": f"{account.name} – {rng.choice(['new licence', 'renewal', 'expansion', 'pilot'])}",
                    "account": account,
                    "primary_contact": contact,
                    "source": rng.choice(SOURCES),
                    "expected_close_date": (
                        now + datetime.timedelta(days=rng.randint(-120, 150))
                    ).date(),
                },
            )
            _team_readable(opp, owner)
            for product in rng.sample(products, k=rng.randint(1, 3)):
                line_item_add(
                    opportunity=opp,
                    actor=owner,
                    product=product,
                    quantity=Decimal(rng.randint(1, 20)),
                )
            target = rng.choice(open_stages + [won, won, lost])
            for stage in open_stages:
                if stage.position >= target.position or stage.pk == opp.stage_id:
                    continue
                if stage.position > opp.stage.position:
                    opportunity_move_stage(opportunity=opp, stage=stage, actor=owner)
            if target.pk != opp.stage_id:
                opportunity_move_stage(
                    opportunity=opp,
                    stage=target,
                    actor=owner,
                    lost_reason="Chose a competitor" if target.kind == StageKind.LOST else "",
                )
            opportunities += 1
        say(f"{opportunities} opportunities")

        _orders_and_activities(rng, now, account_rows, contact_rows, products, say)

        from rapport.demo.cases import demo_case_count, demo_cases

        demo_cases(
            admin=admin,
            agents=sellers[:4],
            contacts=contact_rows[:40],
            count=demo_case_count(accounts),
            seed=seed,
            say=say,
        )
        from rapport.demo.knowledge import demo_knowledge

        say(f"{demo_knowledge(admin=admin, writers=sellers)} knowledge articles")
        # The newer modules' demo data needs customers: the bulk generator builds users and
        # the catalogue through here with accounts=0 and must find no other records.
        if contact_rows:
            from rapport.demo.field import demo_delivery, demo_work_orders

            say(f"delivery data on {demo_delivery(seed=seed)} orders")
            technician = next((u for u in sellers if u.username == "sam"), sellers[0])
            say(f"{demo_work_orders(manager=admin, technician=technician, seed=seed)} work orders")

            from rapport.demo.quotes import demo_playbooks, demo_quotes

            say(f"{demo_quotes(admin=admin, seed=seed)} quotes")
            say(f"{demo_playbooks(admin=admin)} playbook steps")
            from rapport.demo.marketing import demo_marketing

            marketing = demo_marketing(admin=admin, sellers=sellers, contacts=contact_rows)
            say(
                f"{marketing['submissions']} web form submissions, {marketing['sessions']} web sessions"
            )
            from rapport.demo.aftersale import demo_aftersale

            aftersale = demo_aftersale(
                admin=admin, agents=sellers[:4], contacts=contact_rows, seed=seed
            )
            say(", ".join(f"{n} {what}" for what, n in aftersale.items()))
            from rapport.demo.sales_depth import demo_sales_depth

            demo_sales_depth(admin=admin, seed=seed, say=say)
            from rapport.demo.sequences import demo_sequences

            say(f"{demo_sequences(admin=admin, sellers=sellers)} sequence enrolments")
            from rapport.demo.forecasts import demo_forecasts

            demo_forecasts(admin=admin, say=say)
            from rapport.demo.campaigns import demo_campaigns

            say(
                f"{demo_campaigns(admin=admin, contacts=contact_rows, seed=seed, say=say)} campaigns"
            )

    from rapport.accounts.models import Account, Contact
    from rapport.activities.models import Activity
    from rapport.leads.models import Lead
    from rapport.orders.models import Order
    from rapport.sales.models import Opportunity

    result.counts = {
        m._meta.verbose_name_plural: m.objects.count()
        for m in (Account, Contact, Lead, Opportunity, Order, Activity)
    }
    return result


CALL_NOTES = [
    "Discussed renewal timeline",
    "Asked for a pricing update",
    "Left a voicemail",
    "Walked through the new reporting",
    "Follow-up on the support ticket",
]
NOTES = [
    "Prefers email over phone.",
    "Budget approved for Q3.",
    "Uses a competitor for invoicing.",
    "Decision maker is the CFO.",
    "Happy with onboarding so far.",
]


def _orders_and_activities(rng, now, accounts, contacts, products, say) -> None:
    """Purchase history (for analytics) and a working history of calls, notes, meetings,
    tasks and web/chat interactions on the accounts."""
    from rapport.activities.services import activity_log
    from rapport.orders.services import order_create

    contacts_by_account: dict[int, list] = {}
    for contact in contacts:
        contacts_by_account.setdefault(contact.account_id, []).append(contact)
    orders = activities = 0
    for account in accounts:
        people = contacts_by_account.get(account.pk, [])
        # A few loyal customers buy often, most buy a little, some never: realistic for RFM.
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5, 8, 12])):
            ordered_at = now - datetime.timedelta(
                days=rng.randint(1, 720), hours=rng.randint(0, 23)
            )
            lines = [
                {
                    "product_id": p.pk,
                    "quantity": Decimal(rng.randint(1, 5)),
                    "unit_price": p.unit_price,
                }
                for p in rng.sample(products, k=rng.randint(1, 3))
            ]
            order_create(
                actor=account.owner,
                account=account,
                contact=rng.choice(people) if people else None,
                fields={
                    "ordered_at": ordered_at,
                    "channel": rng.choice(["web", "web", "store", "phone", "partner"]),
                    "status": "paid",
                },
                lines=lines,
            )
            orders += 1
        owner = account.owner
        person = rng.choice(people) if people else None
        links = {"account_id": account.pk, "contact_id": person.pk if person else None}
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(["call", "call", "note", "meeting", "task", "email", "interaction"])
            when = now - datetime.timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 8))
            if kind == "call":
                fields = {
                    "subject": rng.choice(CALL_NOTES),
                    "direction": rng.choice(["inbound", "outbound"]),
                    "duration_seconds": rng.randint(60, 1800),
                    "outcome": "connected",
                    "occurred_at": when,
                }
            elif kind == "note":
                fields = {"body": rng.choice(NOTES), "occurred_at": when}
            elif kind == "meeting":
                start = now + datetime.timedelta(days=rng.randint(-60, 20), hours=rng.randint(1, 6))
                fields = {
                    "subject": "Quarterly review",
                    "starts_at": start,
                    "ends_at": start + datetime.timedelta(hours=1),
                    "location": "Video call",
                }
            elif kind == "task":
                fields = {
                    "subject": rng.choice(
                        ["Send proposal", "Call back", "Prepare demo", "Check invoice"]
                    ),
                    "due_at": now + datetime.timedelta(days=rng.randint(-5, 10)),
                    "priority": rng.choice(["low", "normal", "high"]),
                }
            elif kind == "email":
                fields = {
                    "subject": "Re: your order",
                    "body": "Thanks for the quick delivery!",
                    "direction": "inbound",
                    "occurred_at": when,
                }
            else:
                fields = {
                    "channel": rng.choice(["chat", "web", "social", "store"]),
                    "direction": "inbound",
                    "subject": rng.choice(
                        ["Visited pricing page", "Chat about shipping", "Store visit"]
                    ),
                    "occurred_at": when,
                }
            activity_log(actor=owner, kind=kind, fields=fields, links=links)
            activities += 1
    say(f"{orders} orders, {activities} activities")

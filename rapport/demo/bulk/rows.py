"""The rows of each record type and their related rows and timeline events, as the
services would write them (see the package docstring for the shortcuts)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from rapport.demo.bulk.writing import CHUNK, HISTORY_DAYS, Writer, chunks, words

CALL_SUBJECTS = [
    "Discussed renewal timeline",
    "Asked for a pricing update",
    "Left a voicemail",
    "Walked through the new reporting",
    "Follow-up on the support ticket",
]
NOTES = ["Prefers email over phone.", "Budget approved for Q3.", "Evaluating two vendors."]
TASKS = ["Send proposal", "Call back", "Prepare demo", "Check invoice"]
INTERACTIONS = ["Visited pricing page", "Chat about shipping", "Store visit"]
ACTIVITY_KINDS = ["call", "call", "email", "email", "note", "task", "meeting", "interaction"]
KIND_LABELS = {
    "task": "Task",
    "call": "Call",
    "meeting": "Meeting",
    "email": "Email",
    "note": "Note",
    "interaction": "Interaction",
}
SYLLABLES = words(
    "ba be bi bo da de di do fa fe ka ke ki ko la le li lo ma me mi mo na ne ni no pa pe ra "
    "re ri ro sa se si so ta te ti to va ve vi za zo son berg man stein ton ley ford field "
    "wood ski ova ini"
)


@dataclass
class Counts:
    accounts: int
    contacts: int
    leads: int
    opportunities: int
    orders: int
    activities: int


def _person(rng: random.Random, first_names: list[str]) -> tuple[str, str]:
    last = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    return rng.choice(first_names), last


class Generator:
    """Writes the rows of one load; ids continue from the tables' maxima."""

    def __init__(
        self, w: Writer, rng, counts: Counts, users, products, open_stages, won, lost, pipeline
    ):
        self.w, self.rng, self.c = w, rng, counts
        self.users, self.products = users, products
        self.open_stages, self.won, self.lost, self.pipeline = open_stages, won, lost, pipeline
        self.days = HISTORY_DAYS
        from rapport.demo.builder import FIRST

        self.first_names = FIRST
        # First ids of what this run adds.
        self.account0 = w.next_id("accounts_account")
        self.contact0 = w.next_id("accounts_contact")
        self.lead0 = w.next_id("leads_lead")
        self.opp0 = w.next_id("sales_opportunity")
        self.order0 = w.next_id("orders_order")
        self.activity0 = w.next_id("activities_activity")
        self.event_id = w.next_id("timeline_timelineevent")
        clock = timezone.now()
        # What happened is in the past: no event after this moment.
        self.now = w.ts(HISTORY_DAYS, clock.hour * 3600 + clock.minute * 60 + clock.second)

    # Relations by arithmetic (see the module docstring).
    def account_of_contact(self, k: int) -> int:
        return k * self.c.accounts // self.c.contacts if self.c.accounts else -1

    def first_contact_of_account(self, j: int) -> int | None:
        if not self.c.contacts:
            return None
        k = -(-j * self.c.contacts // self.c.accounts)
        return k if k < self.c.contacts and self.account_of_contact(k) == j else None

    def owner_of_account(self, j: int):
        return self.users[j % len(self.users)]

    def created_day(self, j: int, n: int) -> int:
        """Records are created in id order over the history (ids and dates agree)."""
        return j * self.days // max(n, 1)

    def steps(self):
        return [
            ("accounts", self.accounts),
            ("contacts, emails and phones", self.contacts),
            ("leads", self.leads),
            ("opportunities, line items and stage changes", self.opportunities),
            ("orders and lines", self.orders),
            ("activities", self.activities),
        ]

    def events(self, rows: Iterable[tuple]) -> int:
        """Timeline events: (kind, actor, occurred_at, summary, payload, account, contact,
        lead, opportunity, activity, order)."""

        def numbered():
            for row in rows:
                yield (self.event_id, *row)
                self.event_id += 1

        return self.w.write(
            "timeline_timelineevent",
            words(
                "id kind actor_id occurred_at summary payload account_id contact_id lead_id "
                "opportunity_id activity_id order_id"
            ),
            rows=numbered(),
        )

    # ----- records --------------------------------------------------------------------

    def accounts(self) -> int:
        from rapport.demo.builder import CITIES, INDUSTRIES, SUFFIX, WORDS

        rng, w, n = self.rng, self.w, self.c.accounts
        made: list[tuple] = []

        def rows():
            for j in range(n):
                owner, team = self.owner_of_account(j)
                city, country = rng.choice(CITIES)
                name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIX)} {j}"
                domain = f"{name.split()[0].lower()}{self.account0 + j}.example"
                at = w.ts(self.created_day(j, n), rng.randrange(86400))
                made.append((self.account0 + j, owner, at, name))
                yield (
                    self.account0 + j, owner, team, 1, "{}", at, at, city, country, name,
                    f"https://www.{domain}", domain, rng.choice(INDUSTRIES),
                    rng.choice(["1-9", "10-49", "50-249", "250-999", "1000+"]),
                    Decimal(rng.randint(1, 500) * 100_000), "EUR",
                    "", "", "", "", "", "", "", "", "",
                )  # fmt: skip

        cols = words(
            "id owner_id team_id version custom created_at updated_at city country name website "
            "domain industry size annual_revenue currency street region postal_code "
            "shipping_street shipping_city shipping_region shipping_postal_code shipping_country "
            "description"
        )
        rows_written = 0
        for chunk in chunks(rows(), CHUNK):
            rows_written += w.write("accounts_account", cols, chunk)
            self.events(
                (
                    "created",
                    owner,
                    at,
                    f"Created {name}"[:300],
                    "{}",
                    pk,
                    None,
                    None,
                    None,
                    None,
                    None,
                )
                for pk, owner, at, name in made
            )
            made.clear()
        return rows_written

    def contacts(self) -> int:
        from rapport.demo.builder import CITIES, TITLES

        rng, w, n = self.rng, self.w, self.c.contacts
        made: list[tuple] = []

        def rows():
            for k in range(n):
                j = self.account_of_contact(k)
                owner, team = (
                    self.owner_of_account(j) if j >= 0 else self.users[k % len(self.users)]
                )
                first, last = _person(rng, self.first_names)
                pk = self.contact0 + k
                email = (
                    f"{first}.{last}.{pk}@example.com".lower().encode("ascii", "ignore").decode()
                )
                phone = f"+1{200 + pk // 10_000_000 % 800}{pk % 10_000_000:07d}"
                city, country = rng.choice(CITIES)
                at = w.ts(self.created_day(k, n), rng.randrange(86400))
                account = self.account0 + j if j >= 0 else None
                made.append((pk, owner, at, f"{first} {last}", account, email, phone))
                yield (
                    pk, owner, team, 1, "{}", at, at, "", city, "", "", country, first, last,
                    rng.choice(TITLES), account, email, phone, "",
                )  # fmt: skip

        cols = words(
            "id owner_id team_id version custom created_at updated_at street city region "
            "postal_code country first_name last_name title account_id email phone description"
        )
        written = 0
        for chunk in chunks(rows(), CHUNK):
            written += w.write("accounts_contact", cols, chunk)
            w.write(
                "accounts_contactemail",
                ("contact_id", "email", "kind", "is_primary"),
                ((pk, email, "work", True) for pk, _, _, _, _, email, _ in made),
            )
            w.write(
                "accounts_contactphone",
                ("contact_id", "number", "kind", "is_primary"),
                ((pk, phone, "work", True) for pk, _, _, _, _, _, phone in made),
            )
            self.events(
                (
                    "created",
                    owner,
                    at,
                    f"Created {name}"[:300],
                    "{}",
                    account,
                    pk,
                    None,
                    None,
                    None,
                    None,
                )
                for pk, owner, at, name, account, _, _ in made
            )
            made.clear()
        return written * 3

    def leads(self) -> int:
        from rapport.demo.builder import SOURCES, SUFFIX, WORDS

        rng, w, n = self.rng, self.w, self.c.leads
        made: list[tuple] = []

        def rows():
            for i in range(n):
                owner, team = self.users[i % len(self.users)]
                first, last = _person(rng, self.first_names)
                pk = self.lead0 + i
                status = rng.choice(["new", "new", "working", "qualified", "disqualified"])
                at = w.ts(self.created_day(i, n), rng.randrange(86400))
                made.append((pk, owner, at, f"{first} {last}"))
                yield (
                    pk, owner, team, 1, "{}", at, at, "", "", "", "", "", first, last, "",
                    f"lead{pk}@{rng.choice(WORDS).lower()}.example", f"+4930{pk:08d}",
                    f"{rng.choice(WORDS)} {rng.choice(SUFFIX)}", "", "", rng.choice(SOURCES), "",
                    status, "No budget" if status == "disqualified" else "", "",
                )  # fmt: skip

        cols = words(
            "id owner_id team_id version custom created_at updated_at street city region "
            "postal_code country first_name last_name title email phone company website industry "
            "source campaign status disqualified_reason description"
        )
        written = 0
        for chunk in chunks(rows(), CHUNK):
            written += w.write("leads_lead", cols, chunk)
            self.events(
                ("created", owner, at, f"Created {name}", "{}", None, None, pk, None, None, None)
                for pk, owner, at, name in made
            )
            made.clear()
        return written

    def opportunities(self) -> int:
        from rapport.demo.builder import SOURCES

        rng, w, n = self.rng, self.w, self.c.opportunities
        if not self.c.accounts:
            return 0
        stage_refs = {
            s.pk: {"id": s.pk, "name": s.name} for s in [*self.open_stages, self.won, self.lost]
        }
        lines: list[tuple] = []
        changes: list[tuple] = []
        events: list[tuple] = []

        def rows():
            for o in range(n):
                pk = self.opp0 + o
                j = o * self.c.accounts // n
                account = self.account0 + j
                owner, team = self.owner_of_account(j)
                k = self.first_contact_of_account(j)
                contact = self.contact0 + k if k is not None else None
                amount = Decimal(0)
                for position, (product, _, price) in enumerate(
                    rng.sample(self.products, k=min(len(self.products), rng.randint(1, 3)))
                ):
                    quantity = rng.randint(1, 20)
                    lines.append((pk, product, Decimal(quantity), price, Decimal(0), position, 1))
                    amount += price * quantity
                target = rng.choice([*self.open_stages, self.won, self.won, self.lost])
                path = [s for s in self.open_stages if s.position < target.position] or [
                    self.open_stages[0]
                ]
                if target.pk != path[-1].pk:
                    path.append(target)
                day = self.created_day(o, n)
                name = f"Deal {pk} – {rng.choice(['new licence', 'renewal', 'expansion', 'pilot'])}"
                created = min(w.ts(day, rng.randrange(86400)), self.now)
                events.append(
                    ("created", owner, created, f"Created {name}", "{}", account, None, None, pk, None, None)
                )  # fmt: skip
                at = created
                previous = None
                for step, stage in enumerate(path):
                    if step:
                        day = min(day + rng.randint(1, 30), HISTORY_DAYS)
                        at = min(w.ts(day, rng.randrange(86400)), self.now)
                        payload = {
                            "from": stage_refs[previous.pk],
                            "to": stage_refs[stage.pk],
                            "amount": str(amount),
                            "probability": stage.probability,
                        }
                        if stage.kind == "lost":
                            payload["lost_reason"] = "Chose a competitor"
                        events.append(
                            (
                                "stage_changed", owner, at,
                                f"Stage moved from {previous.name} to {stage.name}",
                                json.dumps(payload), account, None, None, pk, None, None,
                            )
                        )  # fmt: skip
                    changes.append(
                        (pk, previous.pk if previous else None, stage.pk, at, owner, amount)
                    )
                    previous = stage
                closed = at if target.kind in ("won", "lost") else None
                planned = w.date(min(day + rng.randint(0, 90), len(w._days) - 1))
                yield (
                    pk, owner, team, 1, "{}", created, at, name, account, contact,
                    self.pipeline.pk, target.pk, amount, "EUR", target.probability,
                    closed[:10] if closed else planned, closed,
                    "Chose a competitor" if target.kind == "lost" else "",
                    rng.choice(SOURCES), "", at,
                )  # fmt: skip

        cols = words(
            "id owner_id team_id version custom created_at updated_at name account_id "
            "primary_contact_id pipeline_id stage_id amount currency probability "
            "expected_close_date closed_at lost_reason source description stage_changed_at"
        )
        written = 0
        for chunk in chunks(rows(), CHUNK):
            written += w.write("sales_opportunity", cols, chunk)
            written += w.write(
                "sales_lineitem",
                ("opportunity_id", "product_id", "quantity", "unit_price", "discount_percent",
                 "position", "version"),
                lines,
            )  # fmt: skip
            written += w.write(
                "sales_stagechange",
                ("opportunity_id", "from_stage_id", "to_stage_id", "changed_at", "changed_by_id",
                 "amount"),
                changes,
            )  # fmt: skip
            self.events(events)
            lines.clear()
            changes.clear()
            events.clear()
        return written

    def orders(self) -> int:
        rng, w, n = self.rng, self.w, self.c.orders
        if not (self.c.contacts or self.c.accounts):
            return 0
        lines: list[tuple] = []
        events: list[tuple] = []

        def rows():
            for i in range(n):
                pk = self.order0 + i
                if self.c.contacts:
                    k = rng.randrange(self.c.contacts)
                    contact = self.contact0 + k
                    j = self.account_of_contact(k)
                else:
                    contact, j = None, rng.randrange(self.c.accounts)
                account = self.account0 + j if j >= 0 else None
                owner, _ = self.owner_of_account(j) if j >= 0 else self.users[0]
                total = Decimal(0)
                for product, name, price in rng.sample(
                    self.products, k=min(len(self.products), rng.randint(1, 3))
                ):
                    quantity = rng.randint(1, 5)
                    lines.append((pk, product, name, Decimal(quantity), price))
                    total += price * quantity
                channel = rng.choice(["web", "web", "store", "phone", "partner", "email"])
                status = rng.choice(["paid", "paid", "paid", "shipped", "placed", "cancelled"])
                at = w.ts(rng.randrange(self.days), rng.randrange(86400))
                external = f"DEMO-{pk}"
                payload = {
                    "order": pk,
                    "external_id": external,
                    "total": str(total),
                    "currency": "EUR",
                    "channel": channel,
                    "status": status,
                }
                events.append(
                    ("order_placed", owner, at, f"Order {external} placed: {total} EUR",
                     json.dumps(payload), account, contact, None, None, None, pk)
                )  # fmt: skip
                yield (
                    pk,
                    external,
                    account,
                    contact,
                    at,
                    channel,
                    status,
                    "EUR",
                    total,
                    owner,
                    1,
                    at,
                    at,
                )

        cols = words(
            "id external_id account_id contact_id ordered_at channel status currency total "
            "created_by_id version created_at updated_at"
        )
        written = 0
        for chunk in chunks(rows(), CHUNK):
            written += w.write("orders_order", cols, chunk)
            written += w.write(
                "orders_orderline",
                ("order_id", "product_id", "description", "quantity", "unit_price"),
                lines,
            )
            self.events(events)
            lines.clear()
            events.clear()
        return written

    def activities(self) -> int:
        rng, w, n = self.rng, self.w, self.c.activities
        today = HISTORY_DAYS
        events: list[tuple] = []
        has_opps = self.c.opportunities > 0 and self.c.accounts > 0
        now = self.now

        def rows():
            for i in range(n):
                pk = self.activity0 + i
                kind = rng.choice(ACTIVITY_KINDS)
                account = contact = opportunity = lead = None
                r = rng.random()
                if r < 0.1 and self.c.leads:
                    lead = self.lead0 + rng.randrange(self.c.leads)
                    owner, _ = self.users[(lead - self.lead0) % len(self.users)]
                elif r < 0.25 and has_opps:
                    o = rng.randrange(self.c.opportunities)
                    opportunity = self.opp0 + o
                    j = o * self.c.accounts // self.c.opportunities
                    account = self.account0 + j
                    owner, _ = self.owner_of_account(j)
                elif self.c.contacts:
                    k = rng.randrange(self.c.contacts)
                    contact = self.contact0 + k
                    j = self.account_of_contact(k)
                    account = self.account0 + j if j >= 0 else None
                    owner, _ = self.owner_of_account(j) if j >= 0 else self.users[0]
                elif self.c.accounts:
                    j = rng.randrange(self.c.accounts)
                    account = self.account0 + j
                    owner, _ = self.owner_of_account(j)
                else:
                    owner, _ = self.users[i % len(self.users)]
                # Activities spread over the history, a few in the days to come.
                day = min(i * (today + 14) // n, len(w._days) - 1)
                at = w.ts(day, rng.randrange(8 * 3600, 19 * 3600))
                subject = body = direction = outcome = location = channel = ""
                due = starts = ends = done_at = duration = None
                priority, done = "normal", False
                if kind == "call":
                    subject = rng.choice(CALL_SUBJECTS)
                    direction = rng.choice(["inbound", "outbound"])
                    duration, outcome = rng.randint(60, 1800), "connected"
                elif kind == "note":
                    body = rng.choice(NOTES)
                elif kind == "meeting":
                    subject, location = "Quarterly review", "Video call"
                    starts = at
                    ends = w.ts(day, (int(at[11:13]) + 1) * 3600)
                elif kind == "task":
                    subject = rng.choice(TASKS)
                    due = at
                    priority = rng.choice(["low", "normal", "high"])
                    done = day < today - 7 and rng.random() < 0.9
                    done_at = at if done else None
                elif kind == "email":
                    subject, body, direction = (
                        "Re: your order",
                        "Thanks for the quick delivery!",
                        "inbound",
                    )
                else:
                    channel = rng.choice(["chat", "web", "social", "store"])
                    subject, direction = rng.choice(INTERACTIONS), "inbound"
                text = subject or body[:80]
                label = KIND_LABELS[kind]
                payload = {"kind": kind, "subject": subject}
                payload.update(
                    {k: v for k, v in (("channel", channel), ("direction", direction)) if v}
                )
                # As activity_log: a planned activity is logged now, not ahead on the timeline.
                logged = min(at, now)
                events.append(
                    ("activity_logged", owner, logged, f"{label}: {text}" if text else label,
                     json.dumps(payload), account, contact, lead, opportunity, pk, None)
                )  # fmt: skip
                yield (
                    pk, kind, subject, body, owner, owner, account, contact, lead, opportunity,
                    at, due, priority, done, done_at, direction, duration, outcome, starts, ends,
                    location, channel, None, 1, logged, logged,
                )  # fmt: skip

        cols = words(
            "id kind subject body owner_id created_by_id account_id contact_id lead_id "
            "opportunity_id occurred_at due_at priority done done_at direction duration_seconds "
            "outcome starts_at ends_at location channel external_id version created_at updated_at"
        )
        written = 0
        for chunk in chunks(rows(), CHUNK):
            written += w.write("activities_activity", cols, chunk)
            written += self.events(events)
            events.clear()
        return written

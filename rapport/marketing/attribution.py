"""Attribution of leads, opportunities and won revenue to campaigns (reads only).

Touches are timeline events that carry a campaign and show the person engaging:
`email_clicked`, `form_submitted` and `web_session`. `campaign_sent` and `email_opened`
are left out: a send is not an engagement, and opens are inflated by mail privacy proxies.

What counts as the touches of a conversion:
  - a lead: the touches on the lead up to `LEAD_GRACE` after its creation (the form
    submission that created it is written in the same transaction, a moment later); a
    contact created by a web form counts as a lead too, with its own touches;
  - an opportunity (created in the period): the touches on its account (events of the
    account's contacts carry the account), its primary contact and the lead it was
    converted from, up to `LEAD_GRACE` after the opportunity's creation;
  - a won deal (closed in the period, stage kind "won"): the same people's touches up to
    the close; its amount is shared out.
Models: first touch (all credit to the earliest touch), last touch (to the latest), linear
(equal shares). A conversion without a touch is "unattributed". Amounts are summed as they
are (one currency assumed, like the analytics overview).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from rapport.campaigns.models import Campaign
from rapport.leads.models import Lead
from rapport.sales.models import Opportunity, StageKind
from rapport.timeline.models import EventKind, TimelineEvent

TOUCH_KINDS = (EventKind.EMAIL_CLICKED, EventKind.FORM_SUBMITTED, EventKind.WEB_SESSION)
MODELS = {"first": "First touch", "last": "Last touch", "linear": "Linear"}
LEAD_GRACE = datetime.timedelta(minutes=10)


@dataclass
class Touch:
    at: datetime.datetime
    pk: int
    campaign_id: int


@dataclass
class CampaignCredit:
    leads: float = 0.0
    opportunities: float = 0.0
    won: float = 0.0
    revenue: Decimal = field(default_factory=lambda: Decimal("0"))


@dataclass
class Attribution:
    model: str
    by_campaign: dict[int, CampaignCredit]
    totals: dict[str, float | Decimal]
    unattributed: dict[str, float | Decimal]


def credits(touches: list[Touch], model: str) -> dict[int, float]:
    """Campaign id → share of one conversion (sums to 1 when there is a touch)."""
    if not touches:
        return {}
    ordered = sorted(touches, key=lambda t: (t.at, t.pk))
    if model == "first":
        return {ordered[0].campaign_id: 1.0}
    if model == "last":
        return {ordered[-1].campaign_id: 1.0}
    share = 1.0 / len(ordered)
    out: dict[int, float] = defaultdict(float)
    for t in ordered:
        out[t.campaign_id] += share
    return dict(out)


def _touch_index(until: datetime.datetime):
    by_lead, by_contact, by_account = defaultdict(list), defaultdict(list), defaultdict(list)
    rows = TimelineEvent.objects.filter(
        campaign_id__isnull=False, kind__in=TOUCH_KINDS, occurred_at__lte=until
    ).values_list("pk", "occurred_at", "campaign_id", "lead_id", "contact_id", "account_id")
    for pk, at, campaign_id, lead_id, contact_id, account_id in rows.iterator(chunk_size=2000):
        touch = Touch(at, pk, campaign_id)
        if lead_id:
            by_lead[lead_id].append(touch)
        if contact_id:
            by_contact[contact_id].append(touch)
        if account_id:
            by_account[account_id].append(touch)
    return by_lead, by_contact, by_account


def _before(touches, limit) -> list[Touch]:
    return [t for t in touches if t.at <= limit]


def attribute(
    *,
    model: str = "linear",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> Attribution:
    """Credit every lead and opportunity created, and every deal won, in [start, end]."""
    if model not in MODELS:
        model = "linear"
    end = end or timezone.now()
    start = start or datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    by_lead, by_contact, by_account = _touch_index(end + LEAD_GRACE)
    out: dict[int, CampaignCredit] = defaultdict(CampaignCredit)
    totals = {"leads": 0.0, "opportunities": 0.0, "won": 0.0, "revenue": Decimal("0")}
    missing = {"leads": 0.0, "opportunities": 0.0, "won": 0.0, "revenue": Decimal("0")}

    for lead_id, created in Lead.objects.filter(
        created_at__gte=start, created_at__lte=end
    ).values_list("pk", "created_at"):
        totals["leads"] += 1
        shares = credits(_before(by_lead.get(lead_id, []), created + LEAD_GRACE), model)
        if not shares:
            missing["leads"] += 1
        for campaign_id, share in shares.items():
            out[campaign_id].leads += share

    # A contact a web form created is a new lead too (a "create or update contact" form).
    from rapport.webforms.models import FormSubmission, SubmissionOutcome

    for contact_id, created in (
        FormSubmission.objects.filter(
            outcome=SubmissionOutcome.CONTACT_CREATED,
            contact__isnull=False,
            submitted_at__gte=start,
            submitted_at__lte=end,
        )
        .values_list("contact_id", "contact__created_at")
        .distinct()
    ):
        totals["leads"] += 1
        shares = credits(_before(by_contact.get(contact_id, []), created + LEAD_GRACE), model)
        if not shares:
            missing["leads"] += 1
        for campaign_id, share in shares.items():
            out[campaign_id].leads += share

    from_lead = dict(
        Lead.all_objects.filter(converted_opportunity__isnull=False).values_list(
            "converted_opportunity_id", "pk"
        )
    )

    def people_touches(opp_id, account_id, contact_id):
        seen: dict[int, Touch] = {}
        for t in (
            by_account.get(account_id, [])
            + by_contact.get(contact_id, [])
            + by_lead.get(from_lead.get(opp_id), [])
        ):
            seen[t.pk] = t
        return list(seen.values())

    opps = Opportunity.objects.filter(
        Q(created_at__gte=start, created_at__lte=end)
        | Q(stage__kind=StageKind.WON, closed_at__gte=start, closed_at__lte=end)
    ).values_list(
        "pk", "account_id", "primary_contact_id", "created_at", "closed_at", "amount", "stage__kind"
    )
    for pk, account_id, contact_id, created, closed, amount, kind in opps:
        touches = people_touches(pk, account_id, contact_id)
        if start <= created <= end:
            totals["opportunities"] += 1
            shares = credits(_before(touches, created + LEAD_GRACE), model)
            if not shares:
                missing["opportunities"] += 1
            for campaign_id, share in shares.items():
                out[campaign_id].opportunities += share
        if kind == StageKind.WON and closed and start <= closed <= end:
            amount = amount or Decimal("0")
            totals["won"] += 1
            totals["revenue"] += amount
            shares = credits(_before(touches, closed), model)
            if not shares:
                missing["won"] += 1
                missing["revenue"] += amount
            for campaign_id, share in shares.items():
                out[campaign_id].won += share
                out[campaign_id].revenue += (amount * Decimal(str(share))).quantize(Decimal("0.01"))
    return Attribution(model, dict(out), totals, missing)


@dataclass
class RoiRow:
    campaign: Campaign
    cost: Decimal
    leads: float
    opportunities: float
    won: float
    revenue: Decimal

    @property
    def cost_per_lead(self) -> Decimal | None:
        return (
            (self.cost / Decimal(str(self.leads))).quantize(Decimal("0.01")) if self.leads else None
        )

    @property
    def cost_per_sale(self) -> Decimal | None:
        return (self.cost / Decimal(str(self.won))).quantize(Decimal("0.01")) if self.won else None

    @property
    def roi(self) -> float | None:
        """(won revenue − cost) / cost."""
        return float((self.revenue - self.cost) / self.cost) if self.cost else None


def campaign_roi(
    *, model: str = "linear", start=None, end=None
) -> tuple[list[RoiRow], dict, Attribution]:
    """One row per campaign (cost, attributed leads / opportunities / won deals / revenue,
    cost per lead, cost per sale, ROI) and the organisation-wide figures."""
    result = attribute(model=model, start=start, end=end)
    rows = []
    for campaign in Campaign.objects.order_by("name", "id"):
        credit = result.by_campaign.get(campaign.pk, CampaignCredit())
        rows.append(
            RoiRow(
                campaign,
                campaign.cost or Decimal("0"),
                credit.leads,
                credit.opportunities,
                credit.won,
                credit.revenue,
            )
        )
    cost = sum((r.cost for r in rows), Decimal("0"))
    leads = sum(r.leads for r in rows)
    won = sum(r.won for r in rows)
    revenue = sum((r.revenue for r in rows), Decimal("0"))
    org = {
        "cost": cost,
        "leads": leads,
        "won": won,
        "revenue": revenue,
        "cost_per_lead": (cost / Decimal(str(leads))).quantize(Decimal("0.01")) if leads else None,
        "cost_per_sale": (cost / Decimal(str(won))).quantize(Decimal("0.01")) if won else None,
        "roi": float((revenue - cost) / cost) if cost else None,
    }
    return rows, org, result

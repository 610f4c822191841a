"""Routing: which queue and priority a new case gets (ordered rules, data not code), which
agent in the queue takes it (round robin or least open work, among available agents under
their capacity), and the customer's service tier (analytics or a manual override)."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from rapport.cases.models import (
    OPEN_STATUSES,
    AccountServiceTier,
    AgentAvailability,
    AssignmentMode,
    Case,
    Queue,
    QueueMember,
    RoutingRule,
    ServiceTier,
)

# CLV thresholds (organisation currency) for the tiers; a customer at risk of churning
# with at least the silver CLV is lifted one tier (keep the valuable ones).
DEFAULT_TIER_THRESHOLDS = {"platinum": 50_000, "gold": 10_000, "silver": 2_000}
_ORDER = [ServiceTier.STANDARD, ServiceTier.SILVER, ServiceTier.GOLD, ServiceTier.PLATINUM]
_LOYAL_SEGMENTS = {"champions", "loyal", "loyal_customers"}


def tier_thresholds() -> dict[str, Decimal]:
    raw = getattr(settings, "RAPPORT_SERVICE_TIER_THRESHOLDS", None) or DEFAULT_TIER_THRESHOLDS
    return {k: Decimal(str(v)) for k, v in raw.items()}


def tier_from_scores(*, clv, churn_risk: float = 0.0, at_risk: bool = False, segment="") -> str:
    """The tier analytics gives a customer: CLV bands, lifted one tier when at risk of
    churning (and worth at least silver) or in a loyal RFM segment."""
    clv = Decimal(str(clv or 0))
    limits = tier_thresholds()
    if clv >= limits["platinum"]:
        tier = ServiceTier.PLATINUM
    elif clv >= limits["gold"]:
        tier = ServiceTier.GOLD
    elif clv >= limits["silver"]:
        tier = ServiceTier.SILVER
    else:
        tier = ServiceTier.STANDARD
    lift = (at_risk or churn_risk >= 0.5) and clv >= limits["silver"]
    lift = lift or (segment or "").lower() in _LOYAL_SEGMENTS
    if lift and tier != ServiceTier.PLATINUM:
        tier = _ORDER[_ORDER.index(tier) + 1]
    return tier


def tier_of_account(account) -> str:
    """The manual override when set, else the tier from the account's analytics scores,
    else standard."""
    manual = AccountServiceTier.objects.filter(account=account).values_list("tier", flat=True)
    manual_tier = next(iter(manual), None)
    if manual_tier:
        return manual_tier
    from rapport.analytics.models import CustomerScore

    score = (
        CustomerScore.objects.filter(account=account)
        .values("clv", "churn_risk", "at_risk", "segment")
        .first()
    )
    if score is None:
        return ServiceTier.STANDARD
    return tier_from_scores(**score)


def _matches(rule: RoutingRule, fields: dict[str, Any]) -> bool:
    def pk(name):
        value = fields.get(name)
        return getattr(value, "pk", value)

    if rule.category_id and rule.category_id not in (pk("category"), pk("subcategory")):
        return False
    if rule.channel and rule.channel != fields.get("channel", "email"):
        return False
    if rule.mailbox_id and rule.mailbox_id != pk("mailbox"):
        return False
    if rule.language and rule.language.lower() != (fields.get("language") or "").lower():
        return False
    if rule.tier and rule.tier != (fields.get("tier") or ServiceTier.STANDARD):
        return False
    words = [w.strip().lower() for w in rule.keywords.split(",") if w.strip()]
    if words:
        text = f"{fields.get('subject', '')}\n{fields.get('description', '')}".lower()
        if not any(w in text for w in words):
            return False
    return True


def match_rule(fields: dict[str, Any]) -> RoutingRule | None:
    """The first active rule (by position) whose every set condition matches."""
    rules = RoutingRule.objects.filter(is_active=True, queue__is_active=True).select_related(
        "queue"
    )
    for rule in rules:
        if _matches(rule, fields):
            return rule
    return None


def pick_agent(queue: Queue):
    """The agent who takes the next case of `queue`: members who are available, active and
    under their capacity of open cases in the queue; round robin takes the one assigned
    longest ago, least open work the one with the fewest open cases. None for a manual
    queue or when nobody qualifies."""
    if queue.assignment == AssignmentMode.MANUAL:
        return None
    members = (
        QueueMember.objects.filter(
            queue=queue,
            user__is_active=True,
            user__agent_status__availability=AgentAvailability.AVAILABLE,
        )
        .exclude(user__role="read_only")
        .annotate(
            open_cases=Coalesce(
                Subquery(
                    Case.objects.filter(
                        queue=queue,
                        owner_id=OuterRef("user_id"),
                        status__in=OPEN_STATUSES,
                        deleted_at__isnull=True,
                    )
                    .order_by()
                    .values("owner_id")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
                0,
            )
        )
        .filter(open_cases__lt=F("capacity"))
        .select_related("user")
    )
    if queue.assignment == AssignmentMode.ROUND_ROBIN:
        members = members.order_by(F("last_assigned_at").asc(nulls_first=True), "id")
    else:
        members = members.order_by("open_cases", F("last_assigned_at").asc(nulls_first=True), "id")
    member = members.first()
    return member.user if member is not None else None


def open_load(queue: Queue) -> dict[int, int]:
    """Open cases per owner in a queue (the workspace shows it)."""
    rows = (
        Case.objects.filter(queue=queue, status__in=OPEN_STATUSES, owner__isnull=False)
        .values("owner_id")
        .annotate(n=Count("id"))
    )
    return {r["owner_id"]: r["n"] for r in rows}

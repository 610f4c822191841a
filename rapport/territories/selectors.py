"""Reads of territories: the tree with rules and members, and the territory report (open
pipeline, won and activities per rep), counted only over records the reader may see."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q, Sum

from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import visible
from rapport.territories.models import (
    AssignmentRule,
    Realignment,
    Territory,
    TerritoryMember,
    TerritoryMembership,
)


def territories_all():
    return Territory.objects.select_related("parent").prefetch_related("rules", "members__user")


def territory_get(pk: int) -> Territory:
    territory = territories_all().filter(pk=pk).first()
    if territory is None:
        raise RecordNotFound("No such territory")
    return territory


def tree(territories) -> list[tuple[Territory, int]]:
    """Depth-first order with depths, for the list page."""
    children = defaultdict(list)
    for t in territories:
        children[t.parent_id].append(t)
    out = []

    def walk(parent_id, depth):
        for t in children.get(parent_id, []):
            out.append((t, depth))
            walk(t.pk, depth + 1)

    walk(None, 0)
    return out


def counts_by_territory() -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"account": 0, "lead": 0})
    for territory_id, object_type, n in (
        TerritoryMembership.objects.values("territory_id", "object_type")
        .annotate(n=Count("id"))
        .values_list("territory_id", "object_type", "n")
    ):
        out[territory_id][object_type] = n
    return out


def descendants(territory: Territory) -> list[int]:
    children = defaultdict(list)
    for pk, parent_id in Territory.objects.values_list("id", "parent_id"):
        children[parent_id].append(pk)
    out, stack = [], [territory.pk]
    while stack:
        pk = stack.pop()
        out.append(pk)
        stack.extend(children.get(pk, []))
    return out


def territory_report(territory: Territory, user: User) -> dict:
    """Per rep (owner) of the territory's records (and its sub-territories'): open pipeline,
    won amount and count, activities logged on those accounts and leads; only records the
    reader may see are counted."""
    from rapport.activities.models import Activity
    from rapport.leads.models import Lead
    from rapport.sales.models import Opportunity

    ids = descendants(territory)
    accounts = TerritoryMembership.objects.filter(
        territory_id__in=ids, object_type="account"
    ).values("object_id")
    leads = TerritoryMembership.objects.filter(territory_id__in=ids, object_type="lead").values(
        "object_id"
    )
    rows: dict[int, dict] = defaultdict(
        lambda: {
            "pipeline": Decimal("0"),
            "open_deals": 0,
            "won": Decimal("0"),
            "won_deals": 0,
            "activities": 0,
            "leads": 0,
        }
    )
    opps = visible(Opportunity.objects.filter(account_id__in=accounts), user)
    for owner_id, kind, total, n in (
        opps.values("owner_id", "stage__kind")
        .annotate(total=Sum("amount"), n=Count("id"))
        .values_list("owner_id", "stage__kind", "total", "n")
    ):
        if kind == "open":
            rows[owner_id]["pipeline"] += total or 0
            rows[owner_id]["open_deals"] += n
        elif kind == "won":
            rows[owner_id]["won"] += total or 0
            rows[owner_id]["won_deals"] += n
    for owner_id, n in (
        visible(Lead.objects.filter(pk__in=leads), user)
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    ):
        rows[owner_id]["leads"] += n
    from rapport.accounts.models import Account

    seen_accounts = visible(Account.objects.filter(pk__in=accounts), user).values("pk")
    seen_leads = visible(Lead.objects.filter(pk__in=leads), user).values("pk")
    for owner_id, n in (
        Activity.objects.filter(Q(account_id__in=seen_accounts) | Q(lead_id__in=seen_leads))
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    ):
        rows[owner_id]["activities"] += n
    users = {u.pk: u for u in User.objects.filter(pk__in=list(rows))}
    reps = set(
        TerritoryMember.objects.filter(territory_id__in=ids, role="rep").values_list(
            "user_id", flat=True
        )
    )
    out = [
        {"user_id": pk, "user": users.get(pk), "is_rep": pk in reps, **values}
        for pk, values in rows.items()
    ]
    cents = Decimal("0.01")
    for r in out:
        r["pipeline"], r["won"] = r["pipeline"].quantize(cents), r["won"].quantize(cents)
    out.sort(key=lambda r: (-r["pipeline"], -r["won"], r["user_id"]))
    totals = {
        key: sum(r[key] for r in out)
        for key in ("pipeline", "open_deals", "won", "won_deals", "activities", "leads")
    }
    return {"rows": out, "totals": totals}


def assignment_rules():
    return AssignmentRule.objects.select_related("user", "team")


def realignments():
    return Realignment.objects.select_related("requested_by")[:10]

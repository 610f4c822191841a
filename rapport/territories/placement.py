"""Placing accounts and leads in territories: the rules compiled once per call, evaluated in
Python over plain rows (so a batch of 5,000 records costs one read and a few writes), the
`TerritoryMembership` rows written only where the territory changes.

Called explicitly by every write path: `account_create`/`account_update`,
`lead_create`/`lead_update` (UI and API go through them) and the importers (after each
chunk's inserts and updates). No signals."""

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import Model
from django.utils import timezone

from rapport.territories.models import RuleField, Territory, TerritoryMembership, TerritoryRule

PLACED_TYPES = ("account", "lead")
# Fields whose change may move a record (an edit of anything else skips placement).
PLACEMENT_FIELDS = frozenset(
    {"country", "region", "postal_code", "industry", "size", "annual_revenue", "name", "company"}
)
_ROW_FIELDS = {
    "account": (
        "id",
        "country",
        "region",
        "postal_code",
        "industry",
        "size",
        "annual_revenue",
        "name",
    ),
    "lead": ("id", "country", "region", "postal_code", "industry", "company"),
}


def model_of(object_type: str) -> type[Model]:
    from rapport.accounts.models import Account
    from rapport.leads.models import Lead

    return {"account": Account, "lead": Lead}[object_type]


def _postcode(value) -> str:
    return "".join(str(value or "").split()).upper()


def _in_range(value: str, low: str, high: str) -> bool:
    value, low, high = _postcode(value), _postcode(low), _postcode(high)
    if not value:
        return False
    if value.isdigit() and (not low or low.isdigit()) and (not high or high.isdigit()):
        # Numeric postcodes compare as numbers of the same width ("7500" < "75000").
        width = max(len(value), len(low), len(high))
        value, low, high = (
            value.zfill(width),
            low.zfill(width) if low else "",
            high.zfill(width) if high else "",
        )
    return (not low or value >= low) and (not high or value <= high)


def _decimal(text) -> Decimal | None:
    try:
        return Decimal(str(text)) if text not in (None, "") else None
    except InvalidOperation:
        return None


@dataclass
class _Check:
    field: str
    values: frozenset
    low: str
    high: str
    names: frozenset = frozenset()  # named accounts' names (leads match on their company)

    def matches(self, object_type: str, row: dict) -> bool:
        field = self.field
        if field == RuleField.NAMED:
            if object_type == "account":
                return str(row["id"]) in self.values
            return (row.get("company") or "").strip().lower() in self.names
        if field == RuleField.POSTCODE:
            return _in_range(row.get("postal_code") or "", self.low, self.high)
        if field == RuleField.REVENUE:
            if "annual_revenue" not in row:
                return False
            revenue = row["annual_revenue"]
            if revenue is None:
                return False
            low, high = _decimal(self.low), _decimal(self.high)
            return (low is None or revenue >= low) and (high is None or revenue <= high)
        if field not in row:
            return False  # a lead has no company size
        return (row.get(field) or "").strip().lower() in self.values


class Placer:
    """The active territories' rules, compiled; `territory_for(object_type, row)` → id|None."""

    def __init__(self):
        rules: dict[int, list[TerritoryRule]] = {}
        for rule in TerritoryRule.objects.filter(territory__is_active=True):
            rules.setdefault(rule.territory_id, []).append(rule)
        named_ids = {
            int(v)
            for rs in rules.values()
            for r in rs
            if r.field == RuleField.NAMED
            for v in r.values
            if str(v).isdigit()
        }
        names = {}
        if named_ids:
            names = dict(
                model_of("account").all_objects.filter(pk__in=named_ids).values_list("id", "name")
            )
        self.order: list[tuple[int, list[_Check]]] = []
        for territory in Territory.objects.filter(is_active=True).order_by("priority", "id"):
            checks = []
            for r in rules.get(territory.pk, []):
                values = frozenset(str(v).strip().lower() for v in (r.values or []))
                checks.append(
                    _Check(
                        field=r.field,
                        values=values,
                        low=r.low,
                        high=r.high,
                        names=frozenset(
                            names[int(v)].strip().lower()
                            for v in (r.values or [])
                            if str(v).isdigit() and int(v) in names
                        ),
                    )
                )
            if checks:
                self.order.append((territory.pk, checks))

    def territory_for(self, object_type: str, row: dict) -> int | None:
        for territory_id, checks in self.order:
            if all(check.matches(object_type, row) for check in checks):
                return territory_id
        return None


def rows_of(object_type: str, ids: Iterable[int]):
    model = model_of(object_type)
    return model.all_objects.filter(pk__in=list(ids)).values(*_ROW_FIELDS[object_type])


def plan(object_type: str, rows: Iterable[dict], placer: Placer) -> tuple[dict, dict]:
    """(new territory by id, current territory by id) for the rows."""
    rows = list(rows)
    wanted = {row["id"]: placer.territory_for(object_type, row) for row in rows}
    current = dict(
        TerritoryMembership.objects.filter(
            object_type=object_type, object_id__in=list(wanted)
        ).values_list("object_id", "territory_id")
    )
    return wanted, current


def write(object_type: str, wanted: dict, current: dict, now: datetime.datetime) -> list[tuple]:
    """Write the memberships that change; returns the moves as (id, old, new)."""
    moves = [(pk, current.get(pk), new) for pk, new in wanted.items() if current.get(pk) != new]
    return write_moves(object_type, moves, now)


def write_moves(object_type: str, moves: list[tuple], now: datetime.datetime) -> list[tuple]:
    """Write these moves (id, old, new) to the memberships; returns them."""
    if not moves:
        return moves
    gone = [pk for pk, old, new in moves if new is None]
    if gone:
        TerritoryMembership.objects.filter(object_type=object_type, object_id__in=gone).delete()
    by_territory: dict[int, list[int]] = {}
    fresh = []
    for pk, old, new in moves:
        if new is None:
            continue
        if old is None:
            fresh.append(
                TerritoryMembership(
                    object_type=object_type, object_id=pk, territory_id=new, placed_at=now
                )
            )
        else:
            by_territory.setdefault(new, []).append(pk)
    for territory_id, pks in by_territory.items():
        for start in range(0, len(pks), 900):
            TerritoryMembership.objects.filter(
                object_type=object_type, object_id__in=pks[start : start + 900]
            ).update(territory_id=territory_id, placed_at=now)
    if fresh:
        # A concurrent placement of the same new record wins; ours is then moot.
        TerritoryMembership.objects.bulk_create(fresh, batch_size=900, ignore_conflicts=True)
    return moves


def territory_names() -> dict[int, str]:
    return dict(Territory.objects.values_list("id", "name"))


def moved_events(object_type: str, moves: list[tuple], *, actor, reason: str, now) -> list[dict]:
    names = territory_names()
    link = f"{object_type}_id"
    events = []
    for pk, old, new in moves:
        events.append(
            {
                "kind": "territory_changed",
                "actor_id": actor.pk if actor is not None else None,
                "occurred_at": now,
                "summary": (
                    f"Territory: {names.get(old, 'none') if old else 'none'} → "
                    f"{names.get(new, 'none') if new else 'none'}"
                )[:300],
                "payload": {"territory": {"old": old, "new": new}, "reason": reason},
                link: pk,
            }
        )
    return events


def moved_event_columns(
    object_type: str, moves: list[tuple], *, actor_id: int | None, reason: str
) -> list[dict]:
    """The `territory_changed` events of these moves as the timeline listeners receive them
    (for events written in SQL, `placement_sql.apply_batch`)."""
    link = f"{object_type}_id"
    return [
        {
            "kind": "territory_changed",
            "actor_id": actor_id,
            "payload": {"territory": {"old": old, "new": new}, "reason": reason},
            link: pk,
        }
        for pk, old, new in moves
    ]


def place(
    object_type: str,
    ids: Iterable[int],
    *,
    actor=None,
    reason: str = "edit",
    log: bool = True,
    placer: Placer | None = None,
) -> list[tuple]:
    """Place these records (after a write): memberships follow the rules; a move of an
    existing record logs `territory_changed` (a first placement on creation does not)."""
    from rapport.imports.services.base import events_insert

    if object_type not in PLACED_TYPES:
        return []
    ids = list(ids)
    if not ids:
        return []
    placer = placer or Placer()
    now = timezone.now()
    moves = []
    for start in range(0, len(ids), 5000):
        wanted, current = plan(object_type, rows_of(object_type, ids[start : start + 5000]), placer)
        moves.extend(write(object_type, wanted, current, now))
    if log:
        logged = [m for m in moves if m[1] is not None or reason != "created"]
        if logged:
            events_insert(moved_events(object_type, logged, actor=actor, reason=reason, now=now))
    return moves


def place_record(record: Model, *, actor=None, created: bool = False) -> int | None:
    """Place one record after a service wrote it; returns its territory id."""
    object_type = record.OBJECT_TYPE
    place(object_type, [record.pk], actor=actor, reason="created" if created else "edit")
    return territory_of(object_type, record.pk)


def territory_of(object_type: str, object_id: int) -> int | None:
    return (
        TerritoryMembership.objects.filter(object_type=object_type, object_id=object_id)
        .values_list("territory_id", flat=True)
        .first()
    )


def summarise(moves: list[tuple], names: dict[int, str]) -> Counter:
    return Counter(
        (names.get(old, "—") if old else "—", names.get(new, "—") if new else "—")
        for _, old, new in moves
    )


def placed_territory_expr(object_type: str):
    """The territory id of the row (a correlated primary-key probe), for list annotations."""
    from django.db.models import OuterRef, Subquery

    return Subquery(
        TerritoryMembership.objects.filter(object_type=object_type, object_id=OuterRef("pk"))
        .order_by()
        .values("territory_id")[:1]
    )


def territory_name(object_type: str, object_id: int) -> str:
    row = (
        TerritoryMembership.objects.filter(object_type=object_type, object_id=object_id)
        .values_list("territory__name", flat=True)
        .first()
    )
    return row or ""

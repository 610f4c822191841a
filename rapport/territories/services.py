"""Writes for territories: the territories, their rules and members, and realignment
(a preview of what would move, then a batched background run)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from rapport.identity.models import User
from rapport.records.dates import check_date_range
from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.territories import placement
from rapport.territories.models import (
    MemberRole,
    Realignment,
    RealignmentStatus,
    RuleField,
    Territory,
    TerritoryMember,
    TerritoryRule,
)

BATCH = 5000


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only administrators change territories and assignment rules")


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _check_parent(territory: Territory | None, parent: Territory | None) -> None:
    seen = set()
    node = parent
    while node is not None:
        if territory is not None and node.pk == territory.pk:
            raise _error("parent_id", "A territory cannot sit under itself", "cycle")
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


def territory_save(
    *, actor: User, fields: dict[str, Any], territory: Territory | None = None
) -> Territory:
    """Create or change a territory (name, parent, priority, description, is_active)."""
    require_admin(actor)
    territory = territory or Territory()
    parent = fields.get("parent", territory.parent if territory.pk else None)
    _check_parent(territory if territory.pk else None, parent)
    for key in ("name", "parent", "priority", "description", "is_active"):
        if key in fields:
            setattr(territory, key, fields[key])
    territory.full_clean()
    territory.save()
    return territory


def territory_delete(*, actor: User, territory: Territory) -> None:
    require_admin(actor)
    if territory.children.exists():
        raise Conflict("Move or delete the territories under it first", code="has_children")
    territory.delete()
    from rapport.territories.access import forget_managers

    forget_managers()
    transaction.on_commit(forget_managers)


def _clean_rule(rule: dict, index: int) -> TerritoryRule:
    field = rule.get("field")
    prefix = f"rules[{index}]"
    if field not in RuleField.values:
        raise _error(f"{prefix}.field", f"Unknown rule field {field!r}")
    values = rule.get("values") or []
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    low, high = str(rule.get("low") or "").strip(), str(rule.get("high") or "").strip()
    if field in (RuleField.POSTCODE, RuleField.REVENUE):
        if not low and not high:
            raise _error(f"{prefix}.low", "Give the low or the high end of the range", "required")
        if field == RuleField.REVENUE:
            for name, text in (("low", low), ("high", high)):
                if text and placement._decimal(text) is None:
                    raise _error(f"{prefix}.{name}", "Not a number")
    else:
        if not values:
            raise _error(f"{prefix}.values", "List at least one value", "required")
        if field == RuleField.NAMED and not all(str(v).isdigit() for v in values):
            raise _error(f"{prefix}.values", "Named accounts are account ids")
        if field == RuleField.COUNTRY:
            values = [str(v).upper() for v in values]
    return TerritoryRule(field=field, values=[str(v) for v in values], low=low, high=high)


def territory_set_rules(*, actor: User, territory: Territory, rules: list[dict]) -> list:
    """Replace the territory's rules (placement changes only at the next realignment or
    write of each record; preview the realignment to see what would move)."""
    require_admin(actor)
    cleaned = [_clean_rule(rule, i) for i, rule in enumerate(rules)]
    with transaction.atomic():
        TerritoryRule.objects.filter(territory=territory).delete()
        for rule in cleaned:
            rule.territory = territory
        TerritoryRule.objects.bulk_create(cleaned)
    return cleaned


def territory_set_members(
    *, actor: User, territory: Territory, reps: list[User], managers: list[User]
) -> None:
    require_admin(actor)
    from rapport.territories.access import forget_managers

    transaction.on_commit(forget_managers)
    forget_managers()
    with transaction.atomic():
        TerritoryMember.objects.filter(territory=territory).delete()
        TerritoryMember.objects.bulk_create(
            [TerritoryMember(territory=territory, user=u, role=MemberRole.REP) for u in reps]
            + [
                TerritoryMember(territory=territory, user=u, role=MemberRole.MANAGER)
                for u in managers
            ]
        )
    forget_managers()


# ----- realignment ---------------------------------------------------------------------------


def _id_batches(object_type: str):
    model = placement.model_of(object_type)
    bounds = model.all_objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return
    start = bounds["lo"]
    while start <= bounds["hi"]:
        yield start, start + BATCH
        start += BATCH


def _batch_rows(object_type: str, lo: int, hi: int):
    model = placement.model_of(object_type)
    return model.objects.filter(id__gte=lo, id__lt=hi).values(*placement._ROW_FIELDS[object_type])


def realignment_preview(*, actor: User, sample: int = 20) -> dict:
    """What a realignment would move, written nowhere: counts per (from, to) and per object
    type, and a sample of moves with the records' names. The same moves query as the run
    (`placement_sql`), over the whole table at once."""
    from rapport.territories import placement_sql

    require_admin(actor)
    placer = placement.Placer()
    names = placement.territory_names()
    flows: dict = {}
    counts = {}
    samples = []
    scanned = 0
    for object_type in placement.PLACED_TYPES:
        n, groups, rows = placement_sql.preview(object_type, placer, sample - len(samples))
        scanned += n
        counts[object_type] = sum(count for _, _, count in groups)
        for old, new, count in groups:
            key = (
                object_type,
                names.get(old, "—") if old else "—",
                names.get(new, "—") if new else "—",
            )
            flows[key] = flows.get(key, 0) + count
        for pk, old, new, label in rows:
            samples.append(
                {
                    "object_type": object_type,
                    "id": pk,
                    "name": label or f"#{pk}",
                    "from": names.get(old) if old else None,
                    "to": names.get(new) if new else None,
                }
            )
    return {
        "scanned": scanned,
        "moves": counts,
        "total": sum(counts.values()),
        "flows": [
            {"object_type": ot, "from": a, "to": b, "count": n}
            for (ot, a, b), n in sorted(flows.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "sample": samples,
    }


def realignment_start(*, actor: User) -> Realignment:
    """Queue a realignment (runs as a background task, batched)."""
    require_admin(actor)
    from rapport.territories.tasks import realignment_task

    if Realignment.objects.filter(
        status__in=[RealignmentStatus.QUEUED, RealignmentStatus.RUNNING]
    ).exists():
        raise Conflict("A realignment is already running", code="realignment_running")
    run = Realignment.objects.create(requested_by=actor)
    transaction.on_commit(lambda: realignment_task.enqueue(run.pk))
    return run


def realignment_run(run_id: int) -> Realignment:
    """Place every account and lead again, 5,000 per transaction; each move logs
    `territory_changed` in the same transaction as the membership write. Set-based
    (`placement_sql.apply_batch`): the database places the batch, rewrites the memberships
    that change and writes their events; the timeline listeners are then told about the
    events as for any bulk insert of events."""
    from rapport.territories import placement_sql
    from rapport.timeline.hooks import events_written

    run = Realignment.objects.get(pk=run_id)
    Realignment.objects.filter(pk=run.pk).update(status=RealignmentStatus.RUNNING)
    placer = placement.Placer()
    actor_id = run.requested_by_id
    scanned = moved = 0
    try:
        for object_type in placement.PLACED_TYPES:
            for lo, hi in _id_batches(object_type):
                with transaction.atomic():
                    n, moves = placement_sql.apply_batch(
                        object_type,
                        placer,
                        lo,
                        hi,
                        now=timezone.now(),
                        actor_id=actor_id,
                        reason="realignment",
                    )
                    scanned += n
                    moved += len(moves)
                    if moves:
                        events_written(
                            placement.moved_event_columns(
                                object_type, moves, actor_id=actor_id, reason="realignment"
                            )
                        )
                    Realignment.objects.filter(pk=run.pk).update(scanned=scanned, moved=moved)
    except Exception as exc:
        Realignment.objects.filter(pk=run.pk).update(
            status=RealignmentStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    Realignment.objects.filter(pk=run.pk).update(
        status=RealignmentStatus.DONE, scanned=scanned, moved=moved, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


# ----- assignment rules and availability -----------------------------------------------------

_CONDITION_FIELDS = {
    "source",
    "industry",
    "country",
    "region",
    "campaign",
    "status",
    "size",
    "territory",
}


def assignment_rule_save(*, actor: User, fields: dict, rule=None):
    from rapport.identity.models import Team
    from rapport.territories.models import AssignmentRule, Strategy

    require_admin(actor)
    rule = rule or AssignmentRule()
    for key in ("name", "object_type", "position", "is_active", "conditions", "strategy"):
        if key in fields:
            setattr(rule, key, fields[key])
    if "user_id" in fields:
        rule.user = (
            User.objects.filter(pk=fields["user_id"], is_active=True).first()
            if fields["user_id"]
            else None
        )
        if fields["user_id"] and rule.user is None:
            raise _error("user_id", "No such active user")
    if "team_id" in fields:
        rule.team = Team.objects.filter(pk=fields["team_id"]).first() if fields["team_id"] else None
        if fields["team_id"] and rule.team is None:
            raise _error("team_id", "No such team")
    for key in rule.conditions or {}:
        if key not in _CONDITION_FIELDS:
            raise _error(
                f"conditions.{key}", f"Conditions may test {', '.join(sorted(_CONDITION_FIELDS))}"
            )
    if rule.strategy == Strategy.USER and rule.user is None:
        raise _error("user_id", "Choose the user", "required")
    if rule.strategy in (Strategy.ROUND_ROBIN, Strategy.LEAST_LOADED) and rule.team is None:
        raise _error("team_id", "Choose the team", "required")
    rule.full_clean()
    rule.save()
    return rule


def assignment_rule_delete(*, actor: User, rule) -> None:
    require_admin(actor)
    rule.delete()


def availability_save(*, actor: User, user: User, fields: dict):
    """A user's capacity, working hours and absence: admins, the user's managers and the
    user themselves (absence) may set them."""
    from rapport.calendars.models import BusinessCalendar
    from rapport.records.visibility import managed_team_ids
    from rapport.territories.models import RepAvailability

    if not (actor.is_admin or actor.pk == user.pk or (user.team_id in managed_team_ids(actor))):
        raise PermissionDenied("Only the user, their managers and administrators set this")
    av, _ = RepAvailability.objects.get_or_create(user=user)
    if "calendar_id" in fields:
        av.calendar = (
            BusinessCalendar.objects.filter(pk=fields["calendar_id"]).first()
            if fields["calendar_id"]
            else None
        )
    for key in ("away_from", "away_until"):
        check_date_range(fields.get(key), key)
    for key in ("capacity", "away_from", "away_until"):
        if key in fields:
            setattr(av, key, fields[key])
    if av.away_from and av.away_until and av.away_until <= av.away_from:
        raise _error("away_until", "The absence must end after it starts")
    av.save()
    return av

"""Assignment rules: who owns a new lead (or account, contact, opportunity).

Ordered rules (position, id); the first active rule whose conditions match and that finds
an available user assigns the record: a named user, round robin in a team, the least loaded
in a team, or the rep of the record's territory (round robin among its reps). Available
means active, not read-only, not away now (`RepAvailability.away_from/until`), inside their
working hours when they have a business calendar, and under their capacity of open records.

Called synchronously by the creation services (`lead_create`, the lead importer, the
account/contact/opportunity create services when rules for them exist) so a record is never
seen unassigned, and offered to the automation engine as the `assign_by_rules` action (for
re-assigning later, e.g. when a lead has waited a day). Round robin moves its cursor under a
row lock on the rule: concurrent creations never pick the same turn.
"""

import datetime

from django.db import transaction
from django.db.models import Count, F, Model
from django.utils import timezone

from rapport.identity.models import Role, User
from rapport.territories.models import (
    AssignmentRule,
    MemberRole,
    RepAvailability,
    Strategy,
    TerritoryMember,
)

OPEN_LEAD_STATUSES = ("new", "working", "qualified")


def _open_filter(object_type: str) -> dict:
    if object_type == "lead":
        return {"status__in": OPEN_LEAD_STATUSES}
    if object_type == "opportunity":
        return {"stage__kind": "open"}
    return {}


def _field_value(record: Model, field: str) -> str:
    if field == "territory":
        from rapport.territories.placement import territory_of

        return str(territory_of(record.OBJECT_TYPE, record.pk) or "")
    value = getattr(record, field, "")
    return "" if value is None else str(value)


def rule_matches(rule: AssignmentRule, record: Model) -> bool:
    for field, accepted in (rule.conditions or {}).items():
        if not isinstance(accepted, list):
            accepted = [accepted]
        wanted = {str(v).strip().lower() for v in accepted}
        if wanted and _field_value(record, field).strip().lower() not in wanted:
            return False
    return True


def _is_away(av: RepAvailability | None, now: datetime.datetime) -> bool:
    if av is None:
        return False
    if av.away_from is None and av.away_until is None:
        return False
    return (av.away_from is None or av.away_from <= now) and (
        av.away_until is None or now < av.away_until
    )


def _off_hours(av: RepAvailability | None, now: datetime.datetime) -> bool:
    if av is None or av.calendar_id is None:
        return False
    from rapport.calendars.clock import CalendarUnusable, is_open_at, spec_of

    try:
        return not is_open_at(spec_of(av.calendar), now)
    except CalendarUnusable:
        return False


def open_load(model: type[Model], object_type: str, user_ids: list[int]) -> dict[int, int]:
    return dict(
        model.objects.filter(owner_id__in=user_ids, **_open_filter(object_type))
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )


def available(
    users: list[User], *, model: type[Model], object_type: str, now: datetime.datetime
) -> tuple[list[User], dict[int, int], dict[int, str]]:
    """(available users, their open load, why each other user was skipped)."""
    users = [u for u in users if u.is_active and u.role != Role.READ_ONLY]
    if not users:
        return [], {}, {}
    avail = {
        a.user_id: a
        for a in RepAvailability.objects.filter(user__in=users).select_related("calendar")
    }
    load = open_load(model, object_type, [u.pk for u in users])
    out, skipped = [], {}
    for user in users:
        av = avail.get(user.pk)
        if _is_away(av, now):
            skipped[user.pk] = "away"
        elif _off_hours(av, now):
            skipped[user.pk] = "outside working hours"
        elif av is not None and av.capacity is not None and load.get(user.pk, 0) >= av.capacity:
            skipped[user.pk] = "at capacity"
        else:
            out.append(user)
    return out, load, skipped


def _candidates(rule: AssignmentRule, record: Model) -> list[User]:
    if rule.strategy == Strategy.USER:
        return [rule.user] if rule.user_id else []
    if rule.strategy in (Strategy.ROUND_ROBIN, Strategy.LEAST_LOADED):
        if not rule.team_id:
            return []
        return list(User.objects.filter(team_id=rule.team_id).order_by("id"))
    if rule.strategy == Strategy.TERRITORY_REP:
        from rapport.territories.placement import territory_of

        territory_id = territory_of(record.OBJECT_TYPE, record.pk)
        if territory_id is None:
            return []
        return list(
            User.objects.filter(
                pk__in=TerritoryMember.objects.filter(
                    territory_id=territory_id, role=MemberRole.REP
                ).values("user_id")
            ).order_by("id")
        )
    return []


def _round_robin(rule: AssignmentRule, users: list[User], now) -> User:
    # The rule row is locked: a concurrent creation waits here and then sees our turn.
    locked = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    state = dict(locked.state or {})
    chosen = min(users, key=lambda u: (state.get(str(u.pk), ""), u.pk))
    # Microsecond stamps plus a sequence keep the order strict even within one clock tick.
    seq = int(state.get("_seq", 0)) + 1
    state["_seq"] = seq
    state[str(chosen.pk)] = f"{seq:012d}"
    AssignmentRule.objects.filter(pk=rule.pk).update(state=state)
    rule.state = state
    return chosen


def choose(
    record: Model, *, now: datetime.datetime | None = None
) -> tuple[User, AssignmentRule] | None:
    """The user the rules give this record, and the rule; None when no rule applies."""
    now = now or timezone.now()
    object_type = record.OBJECT_TYPE
    model = type(record)
    rules = AssignmentRule.objects.filter(object_type=object_type, is_active=True).select_related(
        "user"
    )
    for rule in rules:
        if not rule_matches(rule, record):
            continue
        users, load, _ = available(
            _candidates(rule, record), model=model, object_type=object_type, now=now
        )
        if not users:
            continue
        if rule.strategy == Strategy.LEAST_LOADED:
            chosen = min(users, key=lambda u: (load.get(u.pk, 0), u.pk))
        elif rule.strategy in (Strategy.ROUND_ROBIN, Strategy.TERRITORY_REP) and len(users) > 1:
            chosen = _round_robin(rule, users, now)
        else:
            chosen = users[0]
        return chosen, rule
    return None


def assign(record: Model, *, actor: User | None, now=None) -> User | None:
    """Apply the rules to a record that was just written: set its owner (and team), log
    `assigned`. Returns the new owner, or None when no rule applied. Inside the caller's
    transaction, so the record is never committed unassigned."""
    from rapport.timeline.services import timeline_record

    if not AssignmentRule.objects.filter(object_type=record.OBJECT_TYPE, is_active=True).exists():
        return None
    with transaction.atomic():
        picked = choose(record, now=now)
        if picked is None:
            return None
        owner, rule = picked
        if owner.pk != record.owner_id:
            type(record).all_objects.filter(pk=record.pk).update(
                owner_id=owner.pk, team_id=owner.team_id, version=F("version") + 1
            )
            record.owner, record.team_id = owner, owner.team_id
            record.version += 1
        timeline_record(
            subject=record,
            kind="assigned",
            actor=actor,
            summary=f"Assigned to {owner.get_full_name() or owner.username} by rule “{rule.name}”",
            payload={"owner": owner.pk, "rule": rule.pk, "strategy": rule.strategy},
        )
    return owner


def assign_many(model: type[Model], ids: list[int], *, actor: User | None) -> int:
    """The importer's path: assign each new record of a chunk (rules are per record)."""
    if (
        not ids
        or not AssignmentRule.objects.filter(object_type=model.OBJECT_TYPE, is_active=True).exists()
    ):
        return 0
    n = 0
    for record in model.all_objects.filter(pk__in=ids).order_by("id"):
        if assign(record, actor=actor) is not None:
            n += 1
    return n


# ----- the automation action --------------------------------------------------------------


def _assign_action(ctx, params: dict) -> dict:
    from rapport.automation.actions import ActionFailed, _require_subject

    record = _require_subject(ctx)
    owner = assign(record, actor=ctx.actor, now=ctx.now)
    if owner is None:
        raise ActionFailed("No assignment rule applies, or nobody is available")
    return {"owner_id": owner.pk}


def assignment_action_spec():
    from rapport.automation.actions import OWNED, ActionSpec

    return ActionSpec(
        "assign_by_rules",
        "Assign by assignment rules",
        _assign_action,
        [],
        OWNED,
        provided_by="territories",
    )

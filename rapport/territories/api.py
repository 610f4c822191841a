"""REST endpoints of territories (tree, rules, members, realignment, report), assignment
rules and reps' availability. Thin over services and selectors."""

from django.shortcuts import get_object_or_404
from ninja import Router, Status

from rapport.api.patch import PatchDict
from rapport.identity.models import User
from rapport.records.api import ERRORS
from rapport.records.exceptions import RecordNotFound
from rapport.territories import selectors, services
from rapport.territories.models import AssignmentRule, Realignment, RepAvailability, Territory
from rapport.territories.schemas import (
    AssignmentRuleIn,
    AssignmentRuleOut,
    RepAvailabilityIn,
    RepAvailabilityOut,
    TerritoryIn,
    TerritoryOut,
    TerritoryPreviewOut,
    TerritoryRealignmentOut,
    TerritoryReportOut,
)

router = Router(tags=["territories"])


def _out(t: Territory, counts=None) -> dict:
    members = list(t.members.all())
    c = (counts or {}).get(t.pk, {})
    return {
        "id": t.pk,
        "name": t.name,
        "parent_id": t.parent_id,
        "priority": t.priority,
        "description": t.description,
        "is_active": t.is_active,
        "rules": [
            {"field": r.field, "values": r.values, "low": r.low, "high": r.high}
            for r in t.rules.all()
        ],
        "rep_ids": [m.user_id for m in members if m.role == "rep"],
        "manager_ids": [m.user_id for m in members if m.role == "manager"],
        "accounts": c.get("account", 0),
        "leads": c.get("lead", 0),
    }


def _users(ids: list[int], field: str) -> list[User]:
    users = list(User.objects.filter(pk__in=ids, is_active=True))
    if len(users) != len(set(ids)):
        from django.core.exceptions import ValidationError

        raise ValidationError({field: [ValidationError("No such active user", code="invalid")]})
    return users


def _apply(request, territory: Territory | None, data: dict) -> Territory:
    fields = {k: data[k] for k in ("name", "priority", "description", "is_active") if k in data}
    if "parent_id" in data:
        fields["parent"] = (
            get_object_or_404(Territory, pk=data["parent_id"]) if data["parent_id"] else None
        )
    territory = services.territory_save(actor=request.user, fields=fields, territory=territory)
    if data.get("rules") is not None:
        services.territory_set_rules(actor=request.user, territory=territory, rules=data["rules"])
    if data.get("rep_ids") is not None or data.get("manager_ids") is not None:
        current = list(territory.members.all())
        reps = data.get("rep_ids")
        managers = data.get("manager_ids")
        services.territory_set_members(
            actor=request.user,
            territory=territory,
            reps=_users(reps, "rep_ids")
            if reps is not None
            else [m.user for m in current if m.role == "rep"],
            managers=_users(managers, "manager_ids")
            if managers is not None
            else [m.user for m in current if m.role == "manager"],
        )
    return selectors.territory_get(territory.pk)


@router.get("", response={200: list[TerritoryOut], **ERRORS}, operation_id="territories_list")
def territories_list(request):
    """Every territory (a short list: a tree an admin maintains), with rules, members and
    how many accounts and leads sit in each."""
    counts = selectors.counts_by_territory()
    return [_out(t, counts) for t, _ in selectors.tree(selectors.territories_all())]


@router.post("", response={201: TerritoryOut, **ERRORS}, operation_id="territory_create")
def territory_create(request, payload: TerritoryIn):
    territory = _apply(request, None, payload.dict())
    return Status(201, _out(territory))


@router.get("/{int:pk}", response={200: TerritoryOut, **ERRORS}, operation_id="territory_get")
def territory_get(request, pk: int):
    return _out(selectors.territory_get(pk), selectors.counts_by_territory())


@router.patch("/{int:pk}", response={200: TerritoryOut, **ERRORS}, operation_id="territory_update")
def territory_update(request, pk: int, payload: PatchDict[TerritoryIn]):
    """Change the given fields: `null` clears the description, empties rules or members, and
    answers 422 naming the field for the name, the priority and the active flag."""
    territory = selectors.territory_get(pk)
    return _out(_apply(request, territory, dict(payload)))


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="territory_delete")
def territory_delete(request, pk: int):
    services.territory_delete(actor=request.user, territory=selectors.territory_get(pk))
    return Status(204, None)


@router.get(
    "/{int:pk}/report",
    response={200: TerritoryReportOut, **ERRORS},
    operation_id="territory_report",
)
def territory_report(request, pk: int):
    """Open pipeline, won and activities per rep over the territory and those below it,
    counting only records the caller may see."""
    report = selectors.territory_report(selectors.territory_get(pk), request.user)
    rows = [
        {**{k: v for k, v in r.items() if k != "user"}, "name": str(r["user"] or "")}
        for r in report["rows"]
    ]
    return {"territory_id": pk, "rows": rows, "totals": report["totals"]}


@router.post(
    "/realignment/preview",
    response={200: TerritoryPreviewOut, **ERRORS},
    operation_id="territory_realignment_preview",
)
def realignment_preview(request):
    """What a realignment would move now (counts per from → to, a sample); writes nothing."""
    return services.realignment_preview(actor=request.user)


@router.post(
    "/realignments",
    response={202: TerritoryRealignmentOut, **ERRORS},
    operation_id="territory_realignment_start",
)
def realignment_start(request):
    """Queue a realignment (a background task, 5,000 records per transaction)."""
    return Status(202, services.realignment_start(actor=request.user))


@router.get(
    "/realignments/{int:pk}",
    response={200: TerritoryRealignmentOut, **ERRORS},
    operation_id="territory_realignment_get",
)
def realignment_get(request, pk: int):
    services.require_admin(request.user)
    run = Realignment.objects.filter(pk=pk).first()
    if run is None:
        raise RecordNotFound("No such realignment")
    return run


@router.get(
    "/assignment-rules",
    response={200: list[AssignmentRuleOut], **ERRORS},
    operation_id="assignment_rules_list",
)
def assignment_rules_list(request):
    return list(selectors.assignment_rules())


@router.post(
    "/assignment-rules",
    response={201: AssignmentRuleOut, **ERRORS},
    operation_id="assignment_rule_create",
)
def assignment_rule_create(request, payload: AssignmentRuleIn):
    return Status(201, services.assignment_rule_save(actor=request.user, fields=payload.dict()))


@router.put(
    "/assignment-rules/{int:pk}",
    response={200: AssignmentRuleOut, **ERRORS},
    operation_id="assignment_rule_update",
)
def assignment_rule_update(request, pk: int, payload: AssignmentRuleIn):
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is None:
        raise RecordNotFound("No such assignment rule")
    return services.assignment_rule_save(actor=request.user, fields=payload.dict(), rule=rule)


@router.delete(
    "/assignment-rules/{int:pk}",
    response={204: None, **ERRORS},
    operation_id="assignment_rule_delete",
)
def assignment_rule_delete(request, pk: int):
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is None:
        raise RecordNotFound("No such assignment rule")
    services.assignment_rule_delete(actor=request.user, rule=rule)
    return Status(204, None)


@router.put(
    "/availability/{int:user_id}",
    response={200: RepAvailabilityOut, **ERRORS},
    operation_id="rep_availability_set",
)
def availability_set(request, user_id: int, payload: RepAvailabilityIn):
    """A rep's capacity (open leads), working-hours calendar and absence."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise RecordNotFound("No such user")
    return services.availability_save(
        actor=request.user, user=user, fields=payload.dict(exclude_unset=True)
    )


@router.get(
    "/availability/{int:user_id}",
    response={200: RepAvailabilityOut, **ERRORS},
    operation_id="rep_availability_get",
)
def availability_get(request, user_id: int):
    av = RepAvailability.objects.filter(user_id=user_id).first()
    if av is None:
        return {
            "user_id": user_id,
            "capacity": None,
            "calendar_id": None,
            "away_from": None,
            "away_until": None,
        }
    return av

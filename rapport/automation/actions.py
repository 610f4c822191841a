"""The action registry: what a rule's steps can do. Other apps add theirs with
`register_action` (the email app replaces the `send_email` slot, the webhooks app
`call_webhook`, the service desk `create_case`, marketing `add_to_segment`).

A handler is `handler(ctx, params) -> dict` (the step's output). It runs inside the step's
transaction, so its writes and the step's "done" commit together: a crash in between leaves
neither, and the step runs again on resume, never twice. Anything sent to the outside must be
written as an outbox row (email deliveries, webhook deliveries) for the same reason.

Raise `ActionFailed` for a permanent failure (no retry), any other exception to retry with
backoff up to the rule's `max_attempts`.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, ForeignKey, Model

from rapport.identity.models import Team, User


class ActionFailed(Exception):
    """A permanent failure: the step stops with this message, without retries."""


class ActionPostponed(Exception):  # noqa: N818 - a control signal, not an error
    """Not now: the run parks until `until` without counting an attempt or writing the step
    (e.g. a paused sequence enrolment); whatever woke the run earlier re-enters the step."""

    def __init__(self, until: datetime.datetime, reason: str = ""):
        super().__init__(reason or f"postponed until {until.isoformat()}")
        self.until = until


# A handler's output with this key set ends its run (state cancelled) right after the step
# commits: the action's own writes (e.g. "enrolment stopped: replied") are kept.
STOP_RUN = "stop_run"


@dataclass
class ActionContext:
    run: Any
    rule: Any
    subject: Model | None
    actor: User
    event: dict
    now: datetime.datetime


@dataclass
class Param:
    name: str
    label: str
    kind: str = "text"  # text, int, number, user, team, calendar, choice, fields
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False
    help: str = ""


@dataclass
class ActionSpec:
    type: str
    label: str
    handler: Callable[[ActionContext, dict], dict] | None
    params: list[Param] = field(default_factory=list)
    subject_types: tuple[str, ...] = ()  # empty: any
    provided_by: str = "automation"
    available: bool = True  # False for a slot whose app is not installed yet


# Handled by the engine itself (control flow), listed here for the builder and validation.
CONTROL = {"wait", "branch"}

_REGISTRY: dict[str, ActionSpec] = {}

OWNED = ("account", "contact", "lead", "opportunity")
# The record actions (update fields, assign owner, create task, tags) also act on cases,
# through the service desk's own services.
RECORDS = (*OWNED, "case")
MODELS = {
    "account": "accounts.Account",
    "contact": "accounts.Contact",
    "lead": "leads.Lead",
    "opportunity": "sales.Opportunity",
    "activity": "activities.Activity",
    "order": "orders.Order",
    "case": "cases.Case",
}


def model_for(object_type: str) -> type[Model] | None:
    label = MODELS.get(object_type)
    return apps.get_model(label) if label else None


def register_action(spec: ActionSpec, *, replace: bool = False) -> None:
    """Add an action type (or, with replace=True, provide the implementation of a slot)."""
    if spec.type in _REGISTRY and not replace:
        raise ValueError(f"Action {spec.type!r} is already registered")
    _REGISTRY[spec.type] = spec


def get_action(action_type: str) -> ActionSpec | None:
    return _REGISTRY.get(action_type)


def registry() -> dict[str, ActionSpec]:
    return dict(_REGISTRY)


# ----- built-in actions ------------------------------------------------------------------


def _require_subject(ctx: ActionContext, types=OWNED) -> Model:
    if ctx.subject is None:
        raise ActionFailed("This action needs a record, and the run has none (or it was deleted)")
    object_type = ctx.run.object_type
    if object_type not in types:
        raise ActionFailed(f"This action does not apply to a {object_type or 'run without record'}")
    return ctx.subject


def _update_service(object_type: str):
    from rapport.accounts.services import account_update, contact_update
    from rapport.leads.services import lead_update
    from rapport.sales.services import opportunity_update

    return {
        "account": lambda r, **kw: account_update(account=r, **kw),
        "contact": lambda r, **kw: contact_update(contact=r, **kw),
        "lead": lambda r, **kw: lead_update(lead=r, **kw),
        "opportunity": lambda r, **kw: opportunity_update(opportunity=r, **kw),
        "case": _case_update,
    }[object_type]


def _case_update(case, *, actor, fields, custom=None, owner=None, tags=None) -> dict:
    """A case is not an OwnedRecord: its fields, owner and tags go through the service
    desk's services (versioned update, assignment, SLA hook, timeline)."""
    from rapport.cases.services import case_assign, case_tags_set, case_update

    diff: dict = {}
    fields = dict(fields)
    if custom:
        fields["custom"] = {**(case.custom or {}), **custom}
    if fields:
        diff.update(case_update(case=case, actor=actor, fields=fields))
    if owner is not None:
        diff.update(case_assign(case=case, actor=actor, owner=owner))
    if tags is not None:
        diff.update(case_tags_set(case=case, actor=actor, names=tags))
    return diff


def _update(ctx: ActionContext, record: Model, **kwargs) -> dict:
    """Through the object's own update service: validation, visibility, timeline all hold."""
    try:
        diff = _update_service(ctx.run.object_type)(record, actor=ctx.actor, **kwargs)
    except ValidationError as exc:
        raise ActionFailed(_validation_text(exc)) from exc
    return {"changed": sorted(diff)}


def _validation_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def _typed(model: type[Model], name: str, value: Any) -> tuple[str, Any]:
    try:
        model_field = model._meta.get_field(name.removesuffix("_id"))
    except Exception as exc:
        raise ActionFailed(f"Unknown field {name!r}") from exc
    if isinstance(model_field, ForeignKey):
        if value in (None, ""):
            return model_field.name, None
        try:
            return model_field.name, model_field.related_model._default_manager.get(pk=value)
        except (ObjectDoesNotExist, ValueError, TypeError) as exc:
            raise ActionFailed(f"{name}: no record #{value}") from exc
    if value == "" and model_field.null:
        value = None
    try:
        return model_field.name, model_field.to_python(value)
    except ValidationError as exc:
        raise ActionFailed(f"{name}: {' '.join(exc.messages)}") from exc


def update_fields(ctx: ActionContext, params: dict) -> dict:
    record = _require_subject(ctx, RECORDS)
    values = params.get("fields") or {}
    if not isinstance(values, dict) or not values:
        raise ActionFailed("Give the fields to set")
    fields, custom = {}, {}
    for name, value in values.items():
        if name.startswith("custom."):
            custom[name.split(".", 1)[1]] = value
        elif name in ("owner", "owner_id", "tags", "version", "id"):
            raise ActionFailed(f"{name} cannot be set here; use its own action")
        else:
            key, typed = _typed(type(record), name, value)
            fields[key] = typed
    return _update(ctx, record, fields=fields, custom=custom or None)


def _members(team_id: Any) -> list[User]:
    try:
        team = Team.objects.get(pk=team_id)
    except (Team.DoesNotExist, ValueError, TypeError) as exc:
        raise ActionFailed(f"No team #{team_id}") from exc
    members = list(User.objects.filter(team=team, is_active=True).order_by("id"))
    if not members:
        raise ActionFailed(f"Team {team.name} has no active member")
    return members


def assign_owner(ctx: ActionContext, params: dict) -> dict:
    record = _require_subject(ctx, RECORDS)
    mode = params.get("mode") or "user"
    if mode == "user":
        try:
            owner = User.objects.get(pk=params.get("user_id"), is_active=True)
        except (User.DoesNotExist, ValueError, TypeError) as exc:
            raise ActionFailed(f"No active user #{params.get('user_id')}") from exc
    elif mode == "round_robin":
        members = _members(params.get("team_id"))
        from rapport.automation.models import Rule

        # The cursor moves under a row lock: two runs never pick the same turn.
        rule = Rule.objects.select_for_update().get(pk=ctx.rule.pk)
        key = f"round_robin:{params.get('team_id')}"
        last = rule.state.get(key)
        ids = [m.pk for m in members]
        following = [pk for pk in ids if last is None or pk > last]
        owner_id = following[0] if following else ids[0]
        rule.state[key] = owner_id
        Rule.objects.filter(pk=rule.pk).update(state=rule.state)
        owner = next(m for m in members if m.pk == owner_id)
    elif mode == "least_loaded":
        members = _members(params.get("team_id"))
        model = type(record)
        load = model.objects.filter(owner__in=members)
        if ctx.run.object_type == "case":
            from rapport.cases.models import OPEN_STATUSES

            load = load.filter(status__in=OPEN_STATUSES)  # open work, not history
        counts = dict(load.values("owner").annotate(n=Count("id")).values_list("owner", "n"))
        owner = min(members, key=lambda m: (counts.get(m.pk, 0), m.pk))
    else:
        raise ActionFailed(f"Unknown assignment mode {mode!r}")
    if record.owner_id == owner.pk:
        return {"owner_id": owner.pk, "unchanged": True}
    out = _update(ctx, record, fields={}, owner=owner)
    return {**out, "owner_id": owner.pk}


def create_task(ctx: ActionContext, params: dict) -> dict:
    from rapport.activities.services import activity_log

    record = _require_subject(ctx, RECORDS)
    subject = (params.get("subject") or "").strip()
    if not subject:
        raise ActionFailed("Give the task a subject")
    try:
        days = float(params.get("due_in_days") or 0)
    except (TypeError, ValueError) as exc:
        raise ActionFailed("due_in_days must be a number") from exc
    assign_to = params.get("assign_to") or "record_owner"
    if assign_to == "record_owner":
        owner = record.owner
        if owner is None:  # a case waiting in a queue has no owner yet
            raise ActionFailed("The record has no owner to give the task to")
    elif assign_to == "rule_user":
        owner = ctx.actor
    else:
        owner = User.objects.filter(pk=assign_to, is_active=True).first()
        if owner is None:
            raise ActionFailed(f"No active user #{assign_to}")
    body = params.get("body") or ""
    if ctx.run.object_type == "case":
        # Activities link to the case's customer; the task names the case.
        links = {"account_id": record.account_id, "contact_id": record.contact_id}
        body = f"Case #{record.number}: {record.subject}\n{_case_url(record)}\n\n{body}".strip()
    else:
        links = {f"{ctx.run.object_type}_id": record.pk}
    try:
        activity, _ = activity_log(
            actor=ctx.actor,
            kind=params.get("kind") or "task",
            fields={
                "subject": subject[:200],
                "body": body,
                **(
                    {"due_at": ctx.now + datetime.timedelta(days=days)}
                    if (params.get("kind") or "task") == "task"
                    else {}
                ),
            },
            links=links,
            owner=owner,
            # Replay or retry of the same step never logs a second task.
            external_id=f"automation-run-{ctx.run.pk}-{params.get('_path', '')}",
            source="automation",
        )
    except ValidationError as exc:
        raise ActionFailed(_validation_text(exc)) from exc
    return {"activity_id": activity.pk, "owner_id": owner.pk}


def _case_url(case) -> str:
    from rapport.web.links import record_url

    return record_url(case)


def _tag(ctx: ActionContext, params: dict, add: bool) -> dict:
    record = _require_subject(ctx, RECORDS)
    name = (params.get("tag") or "").strip()
    if not name:
        raise ActionFailed("Name the tag")
    current = sorted(record.tags.values_list("name", flat=True))
    wanted = sorted(set(current) | {name}) if add else [t for t in current if t != name]
    if wanted == current:
        return {"tags": current, "unchanged": True}
    _update(ctx, record, fields={}, tags=wanted)
    return {"tags": wanted}


def add_tag(ctx: ActionContext, params: dict) -> dict:
    return _tag(ctx, params, True)


def remove_tag(ctx: ActionContext, params: dict) -> dict:
    return _tag(ctx, params, False)


def unavailable(provider: str):
    def handler(ctx: ActionContext, params: dict) -> dict:
        raise ActionFailed(f"not available: this action needs the {provider}, not installed yet")

    return handler


def register_builtin_actions() -> None:
    builtin = [
        ActionSpec(
            "update_fields",
            "Update fields",
            update_fields,
            [Param("fields", "Fields to set", "fields", required=True)],
            RECORDS,
        ),
        ActionSpec(
            "assign_owner",
            "Assign owner",
            assign_owner,
            [
                Param(
                    "mode",
                    "How",
                    "choice",
                    [
                        ("user", "To a user"),
                        ("round_robin", "Round robin in a team"),
                        ("least_loaded", "Least loaded in a team"),
                    ],
                    required=True,
                ),
                Param("user_id", "User", "user"),
                Param("team_id", "Team", "team"),
            ],
            RECORDS,
        ),
        ActionSpec(
            "create_task",
            "Create a task or activity",
            create_task,
            [
                Param("subject", "Subject", required=True),
                Param(
                    "kind",
                    "Kind",
                    "choice",
                    [("task", "Task"), ("note", "Note"), ("call", "Call")],
                ),
                Param("due_in_days", "Due in (days)", "number"),
                Param(
                    "assign_to",
                    "Assign to",
                    "choice",
                    [("record_owner", "The record's owner"), ("rule_user", "The rule's user")],
                ),
            ],
            RECORDS,
        ),
        ActionSpec("add_tag", "Add a tag", add_tag, [Param("tag", "Tag", required=True)], RECORDS),
        ActionSpec(
            "remove_tag", "Remove a tag", remove_tag, [Param("tag", "Tag", required=True)], RECORDS
        ),
        ActionSpec(
            "wait",
            "Wait",
            None,
            [
                Param("hours", "Hours", "number"),
                Param("business_days", "Business days", "int"),
                Param("business_hours", "Business hours", "number"),
                Param("calendar_id", "Business calendar", "calendar"),
            ],
        ),
        ActionSpec("branch", "If / else", None, [Param("conditions", "Condition", "conditions")]),
        # send_email and call_webhook: automation/provided.py (the mail and webhooks apps).
        ActionSpec(
            "create_case",
            "Create a case",
            unavailable("service desk"),
            [Param("subject", "Subject")],
            provided_by="service",
            available=False,
        ),
        ActionSpec(
            "add_to_segment",
            "Add to a static segment",
            unavailable("marketing app (segments)"),
            [Param("segment_id", "Segment")],
            provided_by="marketing",
            available=False,
        ),
    ]
    for spec in builtin:
        if spec.type not in _REGISTRY:  # an app that loaded first may have provided a slot
            _REGISTRY[spec.type] = spec


__all__ = [
    "STOP_RUN",
    "ActionContext",
    "ActionFailed",
    "ActionPostponed",
    "ActionSpec",
    "Param",
    "get_action",
    "register_action",
    "registry",
]

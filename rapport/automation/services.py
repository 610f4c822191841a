"""Writes of the automation engine: rules (administrators only), manual runs, replays.

Other apps feed their events in with `emit` (re-exported from `outbox`, the one place it is
defined): `services.emit("segment.entered", subject=contact, payload={"segment_id": 7})`.
"""

import datetime
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from rapport.automation import conditions as cond
from rapport.automation.actions import CONTROL, get_action, model_for
from rapport.automation.engine import start_run
from rapport.automation.models import (
    Rule,
    Run,
    RunState,
    SubjectType,
    TriggerEvent,
    TriggerType,
)
from rapport.automation.outbox import emit  # noqa: F401 - the public entry for other apps
from rapport.automation.owners import rule_owner
from rapport.automation.schedules import next_cron_time
from rapport.identity.models import User
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.visibility import editable

MAX_ACTIONS = 50
MAX_NESTING = 4
MAX_MANUAL = 1000
RULE_FIELDS = (
    "name",
    "description",
    "is_active",
    "trigger_type",
    "object_type",
    "trigger_config",
    "conditions",
    "actions",
    "max_runs_per_hour",
    "max_attempts",
)


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _validate_actions(actions: Any, *, field: str = "actions", depth: int = 0) -> list[dict]:
    if not isinstance(actions, list):
        raise _error(field, "Actions are a list")
    if len(actions) > MAX_ACTIONS:
        raise _error(field, f"At most {MAX_ACTIONS} actions")
    if depth > MAX_NESTING:
        raise _error(field, f"At most {MAX_NESTING} nested branches")
    out = []
    for i, action in enumerate(actions):
        where = f"{field}[{i}]"
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise _error(f"{where}.type", "Each action names its type")
        kind = action["type"]
        if get_action(kind) is None:
            raise _error(f"{where}.type", f"Unknown action {kind!r}", "unknown_action")
        params = action.get("params") or {}
        if not isinstance(params, dict):
            raise _error(f"{where}.params", "Parameters are an object")
        clean = {"type": kind, "params": params}
        if kind == "branch":
            params["conditions"] = cond.validate(
                params.get("conditions"), field=f"{where}.params.conditions"
            )
            clean["then"] = _validate_actions(
                action.get("then") or [], field=f"{where}.then", depth=depth + 1
            )
            clean["else"] = _validate_actions(
                action.get("else") or [], field=f"{where}.else", depth=depth + 1
            )
        elif kind == "wait":
            try:
                hours = float(params.get("hours") or 0)
                days = int(params.get("business_days") or 0)
                bhours = float(params.get("business_hours") or 0)
            except (TypeError, ValueError):
                raise _error(f"{where}.params", "Wait for a number of hours or business days")
            if min(hours, days, bhours) < 0 or hours + days + bhours <= 0:
                raise _error(f"{where}.params", "Wait for a positive number of hours or days")
            if hours > 24 * 366 or days > 366 or bhours > 24 * 366:
                raise _error(f"{where}.params", "Wait at most a year")
        elif kind not in CONTROL and not isinstance(params, dict):
            raise _error(f"{where}.params", "Parameters are an object")
        out.append(clean)
    return out


def _validate_trigger(data: dict) -> dict:
    trigger = data.get("trigger_type")
    if trigger not in TriggerType.values:
        raise _error("trigger_type", f"Unknown trigger {trigger!r}", "invalid_choice")
    object_type = data.get("object_type") or ""
    if object_type not in SubjectType.values:
        raise _error("object_type", f"Unknown object {object_type!r}", "invalid_choice")
    config = data.get("trigger_config") or {}
    if not isinstance(config, dict):
        raise _error("trigger_config", "An object")
    if trigger == TriggerType.SCHEDULE:
        cron = str(config.get("cron") or "").strip()
        if not cron or not croniter.is_valid(cron):
            raise _error(
                "trigger_config.cron", "A cron expression like 0 9 * * 1-5", "invalid_cron"
            )
        config = {**config, "cron": cron}
    if trigger == TriggerType.DATE_RELATIVE:
        model = model_for(object_type)
        if model is None:
            raise _error("object_type", "Choose the object whose date field counts", "required")
        name = config.get("field") or ""
        try:
            field = model._meta.get_field(name)
        except Exception:
            field = None
        if not isinstance(field, models.DateField):  # DateTimeField is a DateField
            raise _error("trigger_config.field", f"{name!r} is not a date field", "invalid_field")
        try:
            offset = int(config.get("offset_days") or 0)
            at = datetime.time.fromisoformat(config.get("at") or "09:00")
        except (TypeError, ValueError):
            raise _error("trigger_config", "offset_days is a whole number, at is HH:MM")
        if abs(offset) > 3660:
            raise _error("trigger_config.offset_days", "At most ten years")
        config = {"field": name, "offset_days": offset, "at": at.strftime("%H:%M")}
        if data.get("trigger_config", {}).get("yearly"):
            # Anniversary: every year on the date's month and day (plus the offset).
            config["yearly"] = True
    if trigger == TriggerType.STAGE_MOVED and object_type not in ("", "opportunity"):
        raise _error("object_type", "Stages belong to opportunities")
    if trigger == TriggerType.LEAD_CONVERTED and object_type not in ("", "lead"):
        raise _error("object_type", "Lead conversion happens to leads")
    match = config.get("match")
    if match is not None and not isinstance(match, dict):
        raise _error("trigger_config.match", "An object of payload key → value")
    return config


def _clean(data: dict) -> dict:
    clean = {k: data[k] for k in RULE_FIELDS if k in data}
    name = str(clean.get("name", "")).strip()
    if not name:
        raise _error("name", "Give the rule a name", "required")
    clean["name"] = name[:120]
    clean["trigger_config"] = _validate_trigger(clean)
    clean["conditions"] = cond.validate(clean.get("conditions"))
    clean["actions"] = _validate_actions(clean.get("actions") or [])
    if not clean["actions"]:
        raise _error("actions", "Add at least one action", "required")
    for key, low, high in (("max_runs_per_hour", 1, 1_000_000), ("max_attempts", 1, 10)):
        if key in clean:
            try:
                value = int(clean[key])
            except (TypeError, ValueError):
                raise _error(key, "A whole number")
            if not low <= value <= high:
                raise _error(key, f"Between {low} and {high}")
            clean[key] = value
    return clean


def _next_fire(rule: Rule) -> None:
    if rule.trigger_type == TriggerType.SCHEDULE and rule.is_active:
        rule.next_fire_at = next_cron_time(rule.trigger_config["cron"], timezone.now())
    else:
        rule.next_fire_at = None


def rule_create(*, actor: User, data: dict, run_as: User | None = None) -> Rule:
    """Validate and store a rule; it acts on events from now on. Administrators only."""
    require_settings_admin(actor)
    clean = _clean({"description": "", "is_active": True, **data})
    rule = Rule(**clean, run_as=run_as or actor, created_by=actor)
    _next_fire(rule)
    rule.save()
    return rule


def rule_save_for_module(*, rule: Rule | None, data: dict, run_as: User) -> Rule:
    """Store a rule another module owns and keeps in step with its own rows (a sequence's
    steps): validated like any rule, without the settings-admin check, because the owning
    module's service decides who may change it (a rep edits their sequence)."""
    clean = _clean({"description": "", **data})
    with transaction.atomic():
        if rule is None:
            rule = Rule(**clean, run_as=run_as, created_by=run_as)
        else:
            rule = Rule.objects.select_for_update().get(pk=rule.pk)
            for key, value in clean.items():
                setattr(rule, key, value)
            rule.version += 1
        _next_fire(rule)
        rule.save()
    return rule


def _require_unowned(rule: Rule) -> None:
    """A rule another module keeps in step with its rows (a sequence's steps) is changed
    there only: edited or deleted here, it would break what that module runs."""
    owner = rule_owner(rule.pk)
    if owner is not None:
        raise Conflict(f"This rule runs {owner.label}: change it there ({owner.url})")


def rule_update(
    *, rule: Rule, actor: User, data: dict, expected_version: int | None = None
) -> Rule:
    """Replace the given fields (validated as a whole rule); versioned like records. Not for
    a rule another module owns (rapport/automation/owners.py)."""
    require_settings_admin(actor)
    _require_unowned(rule)
    current = {k: getattr(rule, k) for k in RULE_FIELDS}
    clean = _clean({**current, **data})
    with transaction.atomic():
        locked = Rule.objects.select_for_update().get(pk=rule.pk)
        if expected_version is not None and locked.version != expected_version:
            raise StaleVersion(locked.version)
        for key, value in clean.items():
            setattr(locked, key, value)
        schedule_changed = (
            current.get("trigger_config") != clean["trigger_config"]
            or current.get("is_active") != clean.get("is_active")
            or current.get("trigger_type") != clean["trigger_type"]
        )
        if schedule_changed or locked.next_fire_at is None:
            _next_fire(locked)
        locked.version += 1
        locked.save()
    return locked


def rule_delete(*, rule: Rule, actor: User) -> None:
    """Delete the rule with its run history (deactivate it to keep the history). Not for a
    rule another module owns."""
    require_settings_admin(actor)
    _require_unowned(rule)
    rule.delete()


def run_replay(*, run: Run, actor: User) -> Run:
    """Run the rule's current actions again on the same record and event input."""
    require_settings_admin(actor)
    if run.state in (RunState.PENDING, RunState.RUNNING, RunState.WAITING):
        raise Conflict("This run has not finished; replay it once it is done or failed")
    replay = start_run(
        rule=run.rule,
        object_type=run.object_type,
        object_id=run.object_id,
        input=run.input,
        started_by=actor,
        replay_of=run,
        depth=run.depth,
    )
    assert replay is not None
    return replay


def run_cancel(*, run: Run, actor: User) -> None:
    """Stop a pending or waiting run (its finished steps stay)."""
    require_settings_admin(actor)
    updated = Run.objects.filter(pk=run.pk, state__in=[RunState.PENDING, RunState.WAITING]).update(
        state=RunState.CANCELLED, finished_at=timezone.now(), locked_until=None
    )
    if not updated:
        raise Conflict("Only pending or waiting runs can be cancelled")


def rule_run_manual(*, rule: Rule, actor: User, object_ids: list[int]) -> dict:
    """Start the rule on selected records the actor may edit (the rule runs as its own
    user, so the selection is limited to what the person starting it could change)."""
    if not rule.is_active:
        raise Conflict("The rule is inactive; activate it first")
    if rule.trigger_type != TriggerType.MANUAL:
        raise Conflict("Only rules with the “manual run” trigger can be started on a selection")
    model = model_for(rule.object_type)
    if model is None:
        raise _error("object_type", "The rule names no object to run on")
    ids = list(dict.fromkeys(int(i) for i in object_ids))
    if not ids:
        raise _error("ids", "Select at least one record", "required")
    if len(ids) > MAX_MANUAL:
        raise _error("ids", f"At most {MAX_MANUAL} records at once", "too_many")
    allowed = {r.pk: r for r in editable(model._default_manager.filter(pk__in=ids), actor)}
    started, skipped = [], []
    for pk in ids:
        record = allowed.get(pk)
        if record is None or not cond.evaluate(rule.conditions, record=record):
            skipped.append(pk)
            continue
        run = start_run(
            rule=rule,
            object_type=rule.object_type,
            object_id=pk,
            input={"manual": True},
            started_by=actor,
        )
        started.append(run.pk)
    return {"started": started, "skipped": skipped}


def outbox_purge(*, older_than_days: int = 7) -> int:
    """Delete dispatched outbox events older than a week (runs keep their own input)."""
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    deleted, _ = TriggerEvent.objects.filter(dispatched_at__lt=cutoff).delete()
    return deleted

"""Writes of SLA policy administration (settings page and API): create, change, delete.

A saved or deleted policy changes the clocks of open cases: the recomputation runs in
the background after the commit (rapport.sla.tasks.sla_recompute_task).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.cases.models import (
    CaseCategory,
    CaseChannel,
    CasePriority,
    CaseStatus,
    Queue,
    ServiceTier,
)
from rapport.identity.services import require_settings_admin
from rapport.sla.models import EscalationLevel, SlaEscalation, SlaPolicy

POLICY_FIELDS = (
    "name",
    "position",
    "is_active",
    "priorities",
    "tiers",
    "channels",
    "first_response_minutes",
    "next_response_minutes",
    "resolution_minutes",
    "calendar",
    "pause_statuses",
    "warn_minutes_before",
    "warn_percent_before",
    "second_level_after_minutes",
    "escalate_in_business_hours_only",
    "escalation_calendar",
)
ACTION_FIELDS = (
    "notify_owner",
    "notify_queue",
    "notify_user",
    "reassign_user",
    "reassign_queue",
    "raise_priority",
)
PAUSABLE = [CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING_CUSTOMER, CaseStatus.ON_HOLD]


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _check_choices(field: str, values, allowed) -> list[str]:
    values = list(values or [])
    if any(not isinstance(v, str) for v in values):
        raise _error(field, "Give a list of values", "invalid")
    unknown = sorted(set(values) - {str(a) for a in allowed})
    if unknown:
        raise _error(field, f"Unknown value(s): {', '.join(unknown)}", "invalid_choice")
    return list(dict.fromkeys(values))


def _check(data: dict, policy: SlaPolicy | None) -> dict:
    name = (data.get("name") or "").strip()
    if not name:
        raise _error("name", "Give the policy a name", "required")
    clash = SlaPolicy.objects.filter(name=name)
    if policy is not None:
        clash = clash.exclude(pk=policy.pk)
    if clash.exists():
        raise _error("name", "Another policy has this name", "duplicate")
    data["name"] = name
    data["priorities"] = _check_choices("priorities", data.get("priorities"), CasePriority.values)
    data["tiers"] = _check_choices("tiers", data.get("tiers"), ServiceTier.values)
    data["channels"] = _check_choices("channels", data.get("channels"), CaseChannel.values)
    data["pause_statuses"] = _check_choices(
        "pause_statuses", data.get("pause_statuses", ["pending_customer", "on_hold"]), PAUSABLE
    )
    targets = [
        data.get(f)
        for f in ("first_response_minutes", "next_response_minutes", "resolution_minutes")
    ]
    if all(t is None for t in targets):
        raise _error("first_response_minutes", "Give at least one target", "required")
    for field in (
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "warn_minutes_before",
        "second_level_after_minutes",
    ):
        value = data.get(field)
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise _error(field, "Give a whole number of minutes above 0", "invalid")
    percent = data.get("warn_percent_before")
    if percent is not None and (not isinstance(percent, int) or not 0 < percent < 100):
        raise _error("warn_percent_before", "Give a percentage between 1 and 99", "invalid")
    if data.get("warn_minutes_before") and percent:
        raise _error("warn_percent_before", "Warn by minutes or by percent, not both", "both")
    if data.get("escalate_in_business_hours_only") and not (
        data.get("calendar") or data.get("escalation_calendar")
    ):
        raise _error(
            "escalation_calendar",
            "Choose the calendar whose hours escalations are sent in",
            "required",
        )
    return data


def _check_escalations(escalations: dict) -> dict:
    for level, actions in escalations.items():
        if level not in EscalationLevel.values:
            raise _error("escalations", f"Unknown escalation level {level!r}", "invalid_choice")
        unknown = set(actions) - set(ACTION_FIELDS)
        if unknown:
            raise _error("escalations", f"Unknown action(s): {', '.join(sorted(unknown))}")
        queue = actions.get("reassign_queue")
        if queue is not None and not isinstance(queue, Queue):
            raise _error("escalations", "Unknown queue", "invalid")
    return escalations


def sla_policy_save(
    *,
    actor,
    data: dict,
    categories: list[CaseCategory] | None = None,
    escalations: dict[str, dict] | None = None,
    policy: SlaPolicy | None = None,
) -> SlaPolicy:
    """Create or change a policy with its conditions, targets and escalation actions at
    once (`escalations`: level → actions; a level left out is removed). Open cases are
    recomputed after the commit."""
    require_settings_admin(actor)
    data = _check(dict(data), policy)
    escalations = _check_escalations(escalations or {})
    with transaction.atomic():
        policy = policy or SlaPolicy()
        for field in POLICY_FIELDS:
            if field in data:
                setattr(policy, field, data[field])
        policy.save()
        if categories is not None:
            policy.categories.set(categories)
        SlaEscalation.objects.filter(policy=policy).exclude(level__in=list(escalations)).delete()
        for level, actions in escalations.items():
            values = {f: actions.get(f) for f in ACTION_FIELDS}
            for flag in ("notify_owner", "notify_queue", "raise_priority"):
                values[flag] = bool(values[flag])
            SlaEscalation.objects.update_or_create(policy=policy, level=level, defaults=values)
        _recompute_after_commit(actor)
    return policy


def sla_policy_delete(*, actor, policy: SlaPolicy) -> None:
    """Delete a policy; its cases pick the next matching one (after the commit)."""
    require_settings_admin(actor)
    with transaction.atomic():
        policy.delete()
        _recompute_after_commit(actor)


def _recompute_after_commit(actor) -> None:
    from rapport.sla.tasks import sla_recompute_task

    transaction.on_commit(lambda: sla_recompute_task.enqueue(actor_id=actor.pk))

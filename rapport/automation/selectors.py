"""Reads of the automation engine. Rules and runs are organisation configuration: shown to
those who may see the settings (administrators, managers)."""

from django.db.models import Count, Max, Q, QuerySet

from rapport.automation.models import Rule, Run, RunState
from rapport.identity.models import User
from rapport.identity.services import can_view_settings
from rapport.records.exceptions import PermissionDenied, RecordNotFound


def require_viewer(user: User) -> None:
    if not can_view_settings(user):
        raise PermissionDenied("Only administrators and managers may see automation rules")


def rules_for(user: User) -> QuerySet[Rule]:
    require_viewer(user)
    return Rule.objects.select_related("run_as").annotate(
        failed_runs=Count("runs", filter=Q(runs__state=RunState.FAILED)),
        last_run_at=Max("runs__created_at"),
    )


def rule_get(user: User, pk: int) -> Rule:
    require_viewer(user)
    rule = Rule.objects.select_related("run_as").filter(pk=pk).first()
    if rule is None:
        raise RecordNotFound("rule")
    return rule


def runs_of(user: User, rule: Rule) -> QuerySet[Run]:
    require_viewer(user)
    return Run.objects.filter(rule=rule).order_by("-created_at", "-id")


def run_get(user: User, pk: int) -> Run:
    require_viewer(user)
    run = Run.objects.select_related("rule").filter(pk=pk).first()
    if run is None:
        raise RecordNotFound("run")
    return run


def manual_rules_for(user: User, object_type: str) -> list[Rule]:
    """Active manual rules a list page offers on its selection (to anyone who can edit)."""
    if not user.is_active:
        return []
    return list(Rule.objects.filter(is_active=True, trigger_type="manual", object_type=object_type))


def rule_get_for_runner(user: User, pk: int) -> Rule:
    """A manual rule anyone with edit rights may start (the selection is checked per record);
    other rules only for settings viewers; never an existence leak (404)."""
    rule = Rule.objects.filter(pk=pk).first()
    if rule is None or (rule.trigger_type != "manual" and not can_view_settings(user)):
        raise RecordNotFound("rule")
    return rule

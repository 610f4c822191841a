"""REST endpoints of the automation engine: rules (administrators write, managers read),
their runs and steps, replay, manual runs on a selection."""

from dataclasses import asdict

from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.automation import selectors, services
from rapport.automation.actions import registry
from rapport.automation.models import RunState
from rapport.automation.schemas import (
    ActionTypeOut,
    AutomationRunOut,
    ManualRunIn,
    ManualRunOut,
    RuleIn,
    RuleOut,
    RulePage,
    RunDetailOut,
    RunListParams,
    RunPage,
)
from rapport.records.api import ERRORS, ListParams, page_response

router = Router(tags=["automation"])


@router.get(
    "/actions", response={200: list[ActionTypeOut], **ERRORS}, operation_id="automation_actions"
)
def action_types(request):
    """The actions a rule may use; `available` is false for slots no app provides yet."""
    selectors.require_viewer(request.user)
    out = []
    for spec in registry().values():
        out.append(
            {
                "type": spec.type,
                "label": spec.label,
                "available": spec.available,
                "provided_by": spec.provided_by,
                "params": [asdict(p) for p in spec.params],
            }
        )
    return out


@router.get("/rules", response={200: RulePage, **ERRORS}, operation_id="automation_rules_list")
def rules_list(request, filters: Query[ListParams]):
    qs = selectors.rules_for(request.user)
    sort = filters.sort if filters.sort.lstrip("-") in {"name", "created_at", "id"} else "name"
    page = keyset_page(
        qs,
        sort=sort,
        allowed={"name", "created_at", "id"},
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.post("/rules", response={201: RuleOut, **ERRORS}, operation_id="automation_rule_create")
def rule_create(request, payload: RuleIn, response: HttpResponse):
    rule = services.rule_create(actor=request.user, data=payload.dict())
    set_etag(response, rule.version)
    return Status(201, rule)


@router.get("/rules/{pk}", response={200: RuleOut, **ERRORS}, operation_id="automation_rule_get")
def rule_get(request, pk: int, response: HttpResponse):
    rule = selectors.rule_get(request.user, pk)
    set_etag(response, rule.version)
    return rule


@router.patch(
    "/rules/{pk}", response={200: RuleOut, **ERRORS}, operation_id="automation_rule_update"
)
def rule_update(request, pk: int, payload: PatchDict[RuleIn], response: HttpResponse):
    """Change the given fields: `null` clears a text (a required one answers 422) and is
    refused for the others, naming the field."""
    rule = selectors.rule_get(request.user, pk)
    data = dict(payload)
    rule = services.rule_update(
        rule=rule, actor=request.user, data=data, expected_version=expected_version(request)
    )
    set_etag(response, rule.version)
    return rule


@router.delete("/rules/{pk}", response={204: None, **ERRORS}, operation_id="automation_rule_delete")
def rule_delete(request, pk: int):
    rule = selectors.rule_get(request.user, pk)
    services.rule_delete(rule=rule, actor=request.user)
    return Status(204, None)


@router.get(
    "/rules/{pk}/runs", response={200: RunPage, **ERRORS}, operation_id="automation_runs_list"
)
def runs_list(request, pk: int, filters: Query[RunListParams]):
    rule = selectors.rule_get(request.user, pk)
    qs = selectors.runs_of(request.user, rule)
    if filters.state:
        if filters.state not in RunState.values:
            from django.core.exceptions import ValidationError

            raise ValidationError(
                {"state": [ValidationError("Unknown run state", code="invalid_choice")]}
            )
        qs = qs.filter(state=filters.state)
    page = keyset_page(qs, sort="-id", allowed={"id"}, cursor=filters.cursor, limit=filters.limit)
    return page_response(page)


@router.post(
    "/rules/{pk}/run",
    response={202: ManualRunOut, **ERRORS},
    operation_id="automation_rule_run_manual",
    summary="Start a manual rule on selected records (those you may edit)",
)
def rule_run_manual(request, pk: int, payload: ManualRunIn):
    rule = selectors.rule_get_for_runner(request.user, pk)
    return Status(
        202, services.rule_run_manual(rule=rule, actor=request.user, object_ids=payload.ids)
    )


@router.get("/runs/{pk}", response={200: RunDetailOut, **ERRORS}, operation_id="automation_run_get")
def run_get(request, pk: int):
    run = selectors.run_get(request.user, pk)
    return run  # ninja lists the `steps` relation (ordered by Step.Meta.ordering)


@router.post(
    "/runs/{pk}/replay",
    response={202: AutomationRunOut, **ERRORS},
    operation_id="automation_run_replay",
)
def run_replay(request, pk: int):
    run = selectors.run_get(request.user, pk)
    return Status(202, services.run_replay(run=run, actor=request.user))


@router.post(
    "/runs/{pk}/cancel",
    response={200: AutomationRunOut, **ERRORS},
    operation_id="automation_run_cancel",
)
def run_cancel(request, pk: int):
    run = selectors.run_get(request.user, pk)
    services.run_cancel(run=run, actor=request.user)
    run.refresh_from_db()
    return run

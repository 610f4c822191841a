"""REST endpoints of scoring: the admin's rules, the current models with their holdout
metrics, and a retrain on demand (the scheduler retrains nightly)."""

from django.db import transaction
from ninja import Router, Status

from rapport.records.api import ERRORS
from rapport.records.exceptions import RecordNotFound
from rapport.scoring import services
from rapport.scoring.models import ScoringRule, Target
from rapport.scoring.schemas import (
    ScoringModelsOut,
    ScoringRuleIn,
    ScoringRuleOut,
    ScoringTrainOut,
)

router = Router(tags=["scoring"])


def _rule_out(rule: ScoringRule) -> dict:
    return {
        "id": rule.pk,
        "kind": rule.kind,
        "field": rule.field,
        "operator": rule.operator,
        "value": rule.value,
        "points": rule.points,
        "cap": rule.cap,
        "label": str(rule),
    }


@router.get(
    "/rules", response={200: list[ScoringRuleOut], **ERRORS}, operation_id="scoring_rules_list"
)
def rules_list(request):
    return [_rule_out(r) for r in ScoringRule.objects.all()]


@router.post("/rules", response={201: ScoringRuleOut, **ERRORS}, operation_id="scoring_rule_create")
def rule_create(request, payload: ScoringRuleIn):
    return Status(201, _rule_out(services.rule_save(actor=request.user, fields=payload.dict())))


@router.delete(
    "/rules/{int:pk}", response={204: None, **ERRORS}, operation_id="scoring_rule_delete"
)
def rule_delete(request, pk: int):
    rule = ScoringRule.objects.filter(pk=pk).first()
    if rule is None:
        raise RecordNotFound("No such scoring rule")
    services.rule_delete(actor=request.user, rule=rule)
    return Status(204, None)


@router.get("/models", response={200: ScoringModelsOut, **ERRORS}, operation_id="scoring_models")
def models(request):
    """The current lead and opportunity models: usable or why not, holdout AUC, Brier, ECE
    and reliability beside the naive-Bayes baseline (and the stage defaults)."""
    return {
        "lead": services.current_model(Target.LEAD),
        "opportunity": services.current_model(Target.OPPORTUNITY),
        "min_outcomes": services.min_outcomes(),
    }


@router.post("/train", response={202: ScoringTrainOut, **ERRORS}, operation_id="scoring_train")
def train(request):
    """Retrain both models and rescore (a background task)."""
    services._require_admin(request.user)
    from rapport.scoring.tasks import scoring_retrain_task

    transaction.on_commit(lambda: scoring_retrain_task.enqueue())
    return Status(202, {"queued": True})

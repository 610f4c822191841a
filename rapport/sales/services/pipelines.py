"""Pipelines and stages: admin configuration, kept usable (an open, a won and a lost
stage) with always one default pipeline."""

from typing import Any

from django.db import transaction
from django.db.models import Max, ProtectedError, Q

from rapport.identity.models import User
from rapport.records.exceptions import Conflict
from rapport.sales.models import Opportunity, Pipeline, Stage, StageChange, StageKind
from rapport.sales.selectors import REQUIRED_KINDS, pipeline_is_usable
from rapport.sales.services.guards import (
    check_probability,
    clean_name,
    field_error,
    make_default,
    require_admin,
    unique_or_conflict,
)


def _default_probability(kind: str) -> int:
    return {StageKind.WON: 100, StageKind.LOST: 0}.get(kind, 10)


def _stage_row(pipeline: Pipeline, data: dict[str, Any], position: int, prefix: str) -> Stage:
    kind = data.get("kind") or StageKind.OPEN
    if kind not in StageKind.values:
        raise field_error(f"{prefix}kind", "must be open, won or lost", "invalid_choice")
    probability = data.get("probability")
    probability = _default_probability(kind) if probability is None else probability
    check_probability(probability, f"{prefix}probability")
    stage_position = data.get("position")
    return Stage(
        pipeline=pipeline,
        name=clean_name(data.get("name"), f"{prefix}name"),
        position=position if stage_position is None else stage_position,
        probability=probability,
        kind=kind,
    )


def pipeline_create(
    *,
    actor: User,
    name: str,
    position: int = 0,
    is_default: bool = False,
    stages: list[dict[str, Any]] | None = None,
) -> Pipeline:
    """Create a pipeline (admins only), optionally with its stages; only a pipeline with an
    open, a won and a lost stage can be the default."""
    require_admin(actor, "pipelines")
    name = clean_name(name)
    with transaction.atomic():
        if Pipeline.objects.filter(name=name).exists():
            raise Conflict(f"A pipeline named {name!r} exists", code="duplicate", field="name")
        with unique_or_conflict(f"A pipeline named {name!r} exists", "name"):
            pipeline = Pipeline.objects.create(name=name, position=position)
        rows = [
            _stage_row(pipeline, dict(data), i, f"stages[{i - 1}].")
            for i, data in enumerate(stages or [], start=1)
        ]
        seen: set[str] = set()
        for i, row in enumerate(rows):
            if row.name in seen:
                raise field_error(f"stages[{i}].name", "Stage names must differ", "duplicate")
            seen.add(row.name)
        Stage.objects.bulk_create(rows)
        if is_default:
            if {r.kind for r in rows} < REQUIRED_KINDS:
                raise field_error(
                    "is_default",
                    "The default pipeline needs an open, a won and a lost stage",
                    "pipeline_incomplete",
                )
            make_default(Pipeline, pipeline)
    return pipeline


def pipeline_update(*, pipeline: Pipeline, actor: User, fields: dict[str, Any]) -> Pipeline:
    """Rename, reorder or make default (admins only); there is always one default pipeline."""
    require_admin(actor, "pipelines")
    update: list[str] = []
    with transaction.atomic():
        if "name" in fields:
            name = clean_name(fields["name"])
            if Pipeline.objects.filter(name=name).exclude(pk=pipeline.pk).exists():
                raise Conflict(f"A pipeline named {name!r} exists", code="duplicate", field="name")
            pipeline.name = name
            update.append("name")
        if fields.get("position") is not None:
            pipeline.position = fields["position"]
            update.append("position")
        if fields.get("is_default") is True and not pipeline.is_default:
            if not pipeline_is_usable(pipeline):
                raise field_error(
                    "is_default",
                    "The default pipeline needs an open, a won and a lost stage",
                    "pipeline_incomplete",
                )
            make_default(Pipeline, pipeline)
        elif fields.get("is_default") is False and pipeline.is_default:
            raise field_error(
                "is_default",
                "Make another pipeline the default instead",
                "default_required",
            )
        if update:
            with unique_or_conflict(f"A pipeline named {pipeline.name!r} exists", "name"):
                pipeline.save(update_fields=update)
    return pipeline


def pipeline_delete(*, pipeline: Pipeline, actor: User) -> None:
    """Delete an unused, non-default pipeline with its stages (admins only)."""
    require_admin(actor, "pipelines")
    if pipeline.is_default:
        raise Conflict(
            "The default pipeline cannot be deleted; make another one the default first",
            code="default_pipeline",
        )
    with transaction.atomic():
        used = Opportunity.all_objects.filter(pipeline=pipeline).exists() or (
            StageChange.objects.filter(
                Q(to_stage__pipeline=pipeline) | Q(from_stage__pipeline=pipeline)
            ).exists()
        )
        if used:
            raise Conflict("Opportunities use this pipeline", code="pipeline_in_use")
        pipeline.delete()


def _stage_in_use(stage: Stage) -> bool:
    # Soft-deleted opportunities and the stage history still point at the stage.
    return (
        Opportunity.all_objects.filter(stage=stage).exists()
        or StageChange.objects.filter(Q(to_stage=stage) | Q(from_stage=stage)).exists()
    )


def _kinds_without(stage: Stage, new_kind: str | None = None) -> set[str]:
    kinds = set(
        Stage.objects.filter(pipeline_id=stage.pipeline_id)
        .exclude(pk=stage.pk)
        .values_list("kind", flat=True)
    )
    if new_kind:
        kinds.add(new_kind)
    return kinds


def _keep_usable(stage: Stage, new_kind: str | None) -> None:
    """A usable pipeline must stay usable: its last open, won or lost stage stays."""
    before = _kinds_without(stage, stage.kind)
    if before >= REQUIRED_KINDS and not _kinds_without(stage, new_kind) >= REQUIRED_KINDS:
        raise Conflict(
            "A pipeline must keep at least one open, one won and one lost stage",
            code="pipeline_needs_stage_kinds",
            field="kind",
        )


def stage_create(*, pipeline: Pipeline, actor: User, fields: dict[str, Any]) -> Stage:
    """Add a stage to a pipeline (admins only); without a position it goes last."""
    require_admin(actor, "pipelines")
    with transaction.atomic():
        last = Stage.objects.filter(pipeline=pipeline).aggregate(m=Max("position"))["m"]
        stage = _stage_row(pipeline, fields, (last or 0) + 1, "")
        if Stage.objects.filter(pipeline=pipeline, name=stage.name).exists():
            raise Conflict(f"A stage named {stage.name!r} exists", code="duplicate", field="name")
        with unique_or_conflict(f"A stage named {stage.name!r} exists", "name"):
            stage.save()
    return stage


def stage_update(*, stage: Stage, actor: User, fields: dict[str, Any]) -> Stage:
    """Rename, reorder, re-weigh or re-kind a stage (admins only). The kind of a stage in use
    does not change (closed dates would lie) and a usable pipeline stays usable."""
    require_admin(actor, "pipelines")
    update: list[str] = []
    with transaction.atomic():
        if "name" in fields:
            name = clean_name(fields["name"])
            clash = Stage.objects.filter(pipeline_id=stage.pipeline_id, name=name)
            if clash.exclude(pk=stage.pk).exists():
                raise Conflict(f"A stage named {name!r} exists", code="duplicate", field="name")
            stage.name = name
            update.append("name")
        if fields.get("position") is not None:
            stage.position = fields["position"]
            update.append("position")
        if fields.get("probability") is not None:
            check_probability(fields["probability"])
            stage.probability = fields["probability"]
            update.append("probability")
        kind = fields.get("kind")
        if kind is not None and kind != stage.kind:
            if kind not in StageKind.values:
                raise field_error("kind", "must be open, won or lost", "invalid_choice")
            if Opportunity.all_objects.filter(stage=stage).exists():
                raise Conflict(
                    "Opportunities are in this stage; its kind cannot change",
                    code="stage_in_use",
                    field="kind",
                )
            _keep_usable(stage, kind)
            stage.kind = kind
            update.append("kind")
        if update:
            with unique_or_conflict(f"A stage named {stage.name!r} exists", "name"):
                stage.save(update_fields=update)
    return stage


def stage_delete(*, stage: Stage, actor: User) -> None:
    """Delete a stage no opportunity uses or used (admins only); a usable pipeline keeps
    an open, a won and a lost stage."""
    require_admin(actor, "pipelines")
    with transaction.atomic():
        if _stage_in_use(stage):
            raise Conflict("Opportunities use or used this stage", code="stage_in_use")
        _keep_usable(stage, None)
        try:
            with transaction.atomic():
                stage.delete()
        except ProtectedError:
            raise Conflict("Opportunities use or used this stage", code="stage_in_use")


def stage_move(*, stage: Stage, offset: int, actor: User) -> bool:
    """Move a stage up (-1) or down (+1) in its pipeline; the stages are renumbered 1…n in
    the new order through `stage_update`. Returns whether it moved."""
    require_admin(actor, "pipelines")
    with transaction.atomic():
        stages = list(
            Stage.objects.filter(pipeline_id=stage.pipeline_id).order_by("position", "id")
        )
        index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
        target = index + offset
        if offset not in (-1, 1) or not 0 <= target < len(stages):
            return False
        stages[index], stages[target] = stages[target], stages[index]
        for position, item in enumerate(stages, start=1):
            if item.position != position:
                stage_update(stage=item, actor=actor, fields={"position": position})
    return True

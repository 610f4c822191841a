"""Opportunities: creation (the leads app calls `opportunity_create`), stage moves as a
logged action, versioned updates, soft delete and restore."""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.identity.models import User
from rapport.records.exceptions import StaleVersion
from rapport.records.iso_codes import normalise_codes
from rapport.records.services import (
    record_create,
    record_edit,
    record_restore,
    record_soft_delete,
    require_editable,
    versioned_update,
)
from rapport.sales.models import LineItem, Opportunity, Pipeline, Stage, StageChange, StageKind
from rapport.sales.selectors import default_pipeline, first_open_stage, pipeline_is_usable
from rapport.sales.services.guards import check_probability, field_error, validated_probe
from rapport.sales.services.lost_reasons import lost_reason_choice
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

CLOSED_KINDS = (StageKind.WON, StageKind.LOST)
KEEP = object()  # _stage_move's close_date when the caller gives none


_TEXT_FIELDS = ("lost_reason", "lost_note", "source", "description")


def _opportunity_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = normalise_codes(fields, currencies=("currency",))
    for key in _TEXT_FIELDS:
        if key in fields and fields[key] is None:
            fields[key] = ""
    if isinstance(fields.get("lost_reason"), str):
        # The list's spelling; refused when not on the list (once an admin made one).
        fields["lost_reason"] = lost_reason_choice(fields["lost_reason"])
    if fields.get("probability") is not None:
        check_probability(fields["probability"])
    return fields


def _check_contact_account(account, contact) -> None:
    if account is not None and contact is not None and contact.account_id != account.pk:
        raise field_error(
            "primary_contact_id",
            "The primary contact does not belong to the opportunity's account",
            "contact_account",
        )


def _pipeline_and_stage(pipeline: Pipeline | None, stage: Stage | None) -> tuple[Pipeline, Stage]:
    if pipeline is None:
        pipeline = stage.pipeline if stage is not None else default_pipeline()
    if pipeline is None:
        raise field_error(
            "pipeline_id", "There is no default pipeline: give one", "no_default_pipeline"
        )
    if not pipeline_is_usable(pipeline):
        raise field_error(
            "pipeline_id",
            "The pipeline needs an open, a won and a lost stage first",
            "pipeline_incomplete",
        )
    if stage is None:
        stage = first_open_stage(pipeline)
    elif stage.pipeline_id != pipeline.pk:
        raise field_error("stage_id", "The stage belongs to another pipeline", "stage_pipeline")
    return pipeline, stage


def _check_lost_note(kind: str, lost_note: str) -> None:
    if kind != StageKind.LOST and lost_note:
        raise field_error("lost_note", "Only a lost opportunity has a lost note", "not_lost")


def _check_lost_reason(kind: str, lost_reason: str) -> None:
    if kind == StageKind.LOST and not lost_reason:
        raise field_error("lost_reason", "A lost opportunity needs a lost reason", "required")
    if kind != StageKind.LOST and lost_reason:
        raise field_error("lost_reason", "Only a lost opportunity has a lost reason", "not_lost")


def _stage_ref(stage: Stage | None) -> dict[str, Any] | None:
    if stage is None:
        return None
    return {"id": stage.pk, "name": stage.name, "kind": stage.kind}


def opportunity_create(
    *,
    actor: User,
    fields: dict,
    owner: User | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
) -> Opportunity:
    """Create an opportunity in its pipeline (default: the default pipeline) and stage
    (default: the first open one), with the initial stage change and a `created` event that
    also carries the account, so it shows on the account's timeline.

    `fields` holds model field names (name, account, primary_contact, pipeline, stage,
    amount, currency, probability, expected_close_date, source, description, lost_reason);
    the probability defaults to the stage's.
    """
    fields = _opportunity_fields(fields)
    pipeline, stage = _pipeline_and_stage(fields.pop("pipeline", None), fields.pop("stage", None))
    _check_contact_account(fields.get("account"), fields.get("primary_contact"))
    _check_lost_reason(stage.kind, fields.get("lost_reason") or "")
    _check_lost_note(stage.kind, fields.get("lost_note") or "")
    now = timezone.now()
    if stage.kind in CLOSED_KINDS and fields.get("expected_close_date") is None:
        # Created won or lost: it closed today unless the caller says when.
        fields["expected_close_date"] = timezone.localdate()
    fields.update(
        pipeline=pipeline,
        stage=stage,
        stage_changed_at=now,
        closed_at=now if stage.kind in CLOSED_KINDS else None,
    )
    if fields.get("probability") is None:
        fields["probability"] = stage.probability
    with transaction.atomic():
        opportunity = record_create(
            model=Opportunity, actor=actor, fields=fields, owner=owner, tags=tags, custom=custom
        )
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage=None,
            to_stage=stage,
            changed_at=now,
            changed_by=actor,
            amount=opportunity.amount,
        )
    return opportunity


def _stage_move(
    *,
    opportunity: Opportunity,
    stage: Stage,
    actor: User,
    lost_reason: str,
    expected_version: int | None,
    pipeline: Pipeline | None = None,
    close_date: datetime.date | None | object = KEEP,
    lost_note: str | object = KEEP,
) -> dict[str, dict[str, Any]]:
    """The one path by which an opportunity changes stage (and, with `pipeline`, pipeline).

    Winning or losing sets the close date (`expected_close_date`) to the day of the move,
    unless `close_date` gives the one the user chose in the same change; reports by month
    ("won by month") go by that date. Reopening keeps it. `lost_note` is free text beside
    the reason (a lost stage only; cleared when the opportunity leaves it)."""
    require_editable(opportunity, actor)
    if expected_version is not None and opportunity.version != expected_version:
        raise StaleVersion(opportunity.version)
    target = pipeline or opportunity.pipeline
    if stage.pipeline_id != target.pk:
        raise field_error("stage_id", "The stage belongs to another pipeline", "stage_pipeline")
    if target.pk != opportunity.pipeline_id and not pipeline_is_usable(target):
        raise field_error(
            "pipeline_id",
            "The pipeline needs an open, a won and a lost stage first",
            "pipeline_incomplete",
        )
    lost_reason = lost_reason_choice(lost_reason) if stage.kind == StageKind.LOST else ""
    if stage.kind == StageKind.LOST and not lost_reason:
        raise field_error("lost_reason", "Moving to a lost stage needs a lost reason", "required")
    if lost_note is KEEP:
        lost_note = opportunity.lost_note if stage.pk == opportunity.stage_id else ""
    lost_note = (lost_note or "").strip()
    _check_lost_note(stage.kind, lost_note)
    old_stage = opportunity.stage
    if stage.pk == opportunity.stage_id:
        # Not a move; on a lost opportunity the reason and the note may still be corrected.
        corrected = {
            key: value
            for key, value in (("lost_reason", lost_reason), ("lost_note", lost_note))
            if stage.kind == StageKind.LOST and value != getattr(opportunity, key)
        }
        if corrected:
            return record_edit(
                record=opportunity,
                actor=actor,
                fields=corrected,
                expected_version=expected_version,
            )
        return {}
    now = timezone.now()
    changes: dict[str, Any] = {
        "stage": stage,
        "probability": stage.probability,
        "stage_changed_at": now,
        "closed_at": now if stage.kind in CLOSED_KINDS else None,
        "lost_reason": lost_reason if stage.kind == StageKind.LOST else "",
        "lost_note": lost_note if stage.kind == StageKind.LOST else "",
    }
    if close_date is not KEEP:
        changes["expected_close_date"] = close_date
    elif stage.kind in CLOSED_KINDS:
        changes["expected_close_date"] = timezone.localdate()
    old_close_date = opportunity.expected_close_date
    if target.pk != opportunity.pipeline_id:
        changes["pipeline"] = target
    validated_probe(
        opportunity, {"lost_reason": changes["lost_reason"], "lost_note": changes["lost_note"]}
    )
    old_pipeline_id = opportunity.pipeline_id
    with transaction.atomic():
        diff = versioned_update(
            instance=opportunity, changes=changes, expected_version=expected_version
        )
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage=old_stage,
            to_stage=stage,
            changed_at=now,
            changed_by=actor,
            amount=opportunity.amount,
        )
        payload: dict[str, Any] = {
            "from": _stage_ref(old_stage),
            "to": _stage_ref(stage),
            "amount": str(opportunity.amount),
            "probability": stage.probability,
        }
        if "pipeline" in changes:
            payload["pipeline"] = {"old": old_pipeline_id, "new": target.pk}
        if opportunity.expected_close_date != old_close_date:
            payload["expected_close_date"] = {
                "old": old_close_date.isoformat() if old_close_date else None,
                "new": opportunity.expected_close_date.isoformat()
                if opportunity.expected_close_date
                else None,
            }
        if stage.kind == StageKind.LOST:
            payload["lost_reason"] = lost_reason
            if lost_note:
                payload["lost_note"] = lost_note
        timeline_record(
            subject=opportunity,
            kind=EventKind.STAGE_CHANGED,
            actor=actor,
            summary=f"Stage moved from {old_stage.name} to {stage.name}",
            payload=payload,
        )
    return diff


def opportunity_move_stage(
    *,
    opportunity: Opportunity,
    stage: Stage,
    actor: User,
    lost_reason: str = "",
    expected_version: int | None = None,
    lost_note: str = "",
) -> Opportunity:
    """Move to another stage of the same pipeline: a versioned write that sets the stage's
    probability and the closed date (won/lost; cleared when reopened), logs a StageChange
    and a `stage_changed` event. A lost stage needs a lost reason (from the picklist) and
    may carry a free-text note."""
    _stage_move(
        opportunity=opportunity,
        stage=stage,
        actor=actor,
        lost_reason=lost_reason,
        expected_version=expected_version,
        lost_note=lost_note,
    )
    return opportunity


def _chosen_close_date(opportunity: Opportunity, fields: dict):
    """The close date the user gives with a stage move, or KEEP: a form that sends the date
    it showed, unchanged, chose none (the move then dates a win or loss)."""
    if "expected_close_date" not in fields:
        return KEEP
    value = fields.pop("expected_close_date")
    return KEEP if value == opportunity.expected_close_date else value


def opportunity_update(
    *,
    opportunity: Opportunity,
    actor: User,
    fields: dict[str, Any],
    tags: list[str] | None = None,
    custom: dict | None = None,
    owner: User | None = None,
    expected_version: int | None = None,
) -> dict:
    """Versioned partial update. A new stage (or a new pipeline with a stage of it) goes
    through the stage move; the amount is the line items' sum once there are line items."""
    require_editable(opportunity, actor)
    if expected_version is not None and opportunity.version != expected_version:
        raise StaleVersion(opportunity.version)
    fields = _opportunity_fields(fields)
    pipeline = fields.pop("pipeline", None)
    stage = fields.pop("stage", None)
    new_pipeline = pipeline is not None and pipeline.pk != opportunity.pipeline_id
    if new_pipeline and stage is None:
        raise field_error("stage_id", "Moving to another pipeline needs a stage of it", "required")
    if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise field_error("stage_id", "The stage belongs to another pipeline", "stage_pipeline")
    moves = new_pipeline or (stage is not None and stage.pk != opportunity.stage_id)
    if "account" in fields or "primary_contact" in fields:
        _check_contact_account(
            fields.get("account", opportunity.account),
            fields.get("primary_contact", opportunity.primary_contact),
        )
    if (
        "amount" in fields
        and fields["amount"] != opportunity.amount
        and LineItem.objects.filter(opportunity=opportunity).exists()
    ):
        raise field_error(
            "amount",
            "The amount is the sum of the line items; change those instead",
            "amount_from_line_items",
        )
    if "lost_reason" in fields and not moves:
        _check_lost_reason(opportunity.stage.kind, fields["lost_reason"])
    if "lost_note" in fields and not moves:
        fields["lost_note"] = fields["lost_note"].strip()
        _check_lost_note(opportunity.stage.kind, fields["lost_note"])
    diff: dict[str, Any] = {}
    with transaction.atomic():
        if moves:
            diff.update(
                _stage_move(
                    opportunity=opportunity,
                    stage=stage,
                    actor=actor,
                    lost_reason=fields.pop("lost_reason", ""),
                    lost_note=fields.pop("lost_note", ""),
                    expected_version=expected_version,
                    pipeline=pipeline if new_pipeline else None,
                    close_date=_chosen_close_date(opportunity, fields),
                )
            )
            # The move checked the client's version; the rest applies on top of it.
            expected_version = None
        diff.update(
            record_edit(
                record=opportunity,
                actor=actor,
                fields=fields,
                tags=tags,
                custom=custom,
                owner=owner,
                expected_version=expected_version,
            )
        )
    return diff


def opportunity_delete(
    *, opportunity: Opportunity, actor: User, expected_version: int | None = None
) -> None:
    record_soft_delete(record=opportunity, actor=actor, expected_version=expected_version)


def opportunity_restore(*, opportunity: Opportunity, actor: User) -> None:
    record_restore(record=opportunity, actor=actor)

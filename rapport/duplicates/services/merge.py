"""Merging two records of one type into the survivor (undo.py undoes it).

A merge, in one transaction: the chosen values land on the survivor (one versioned write),
tags are united, a contact's emails and phones are united (one primary each), every row
that pointed at the merged record points at the survivor (record_types.MOVED_FKS, shares,
meeting attendances), the merged record is soft-deleted, and a MergeLog keeps the ids of
every moved row, the survivor's values before and after, and a snapshot of the merged
record. Undo (undo.py) replays the log backwards.

Rows that cannot move without breaking a unique rule stay on the (deleted) merged record,
so that undo is exact: a share whose user or team already has one on the survivor, a
meeting the survivor already attends, an email or phone the survivor already has.
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Model
from django.utils import timezone

from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, MergeLog
from rapport.duplicates.record_types import (
    MERGED,
    MOVED_FKS,
    SURVIVOR,
    default_choice,
    differing_fields,
    field_of,
    field_value,
    merge_fields,
    model_for,
)
from rapport.duplicates.services.detection import duplicate_keys_refresh
from rapport.identity.models import User
from rapport.records.exceptions import Conflict, RecordNotFound, StaleVersion
from rapport.records.models import OwnedRecord, RecordShare
from rapport.records.services import jsonable, require_editable, versioned_update
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

SHARES = "records.RecordShare.object_id"
ATTENDEES = "activities.Activity.attendee_contacts"
STATIC_MEMBERS = "segments.SegmentMember.contact"
ENROLMENTS = {"contact": "sequences.Enrolment.contact", "lead": "sequences.Enrolment.lead"}
CHUNK = 500


def _field_error(name: str, message: str, code: str) -> ValidationError:
    return ValidationError({f"fields.{name}": [ValidationError(message, code=code)]})


def _choices_check(object_type, survivor, merged, field_choices: dict[str, str]) -> dict:
    allowed = set(merge_fields(object_type, survivor, merged))
    for name, choice in field_choices.items():
        if name not in allowed:
            raise _field_error(name, "Not a field a merge can choose", "unknown_field")
        if choice not in (SURVIVOR, MERGED):
            raise _field_error(name, "Choose survivor or merged", "invalid_choice")
    return {
        name: field_choices.get(name) or default_choice(survivor, merged, name)
        for name in differing_fields(object_type, survivor, merged)
    }


def _lead_rules(survivor, merged, choices: dict[str, str], asked: dict[str, str]) -> None:
    """A lead's conversion is not a value to choose: a converted lead can only survive, and
    keeps its values (a converted lead no longer changes; its rows still gather on it)."""
    if merged.status == "converted" and survivor.status != "converted":
        raise Conflict(
            "The merged lead is converted: keep the converted lead as the survivor",
            code="merge_converted_lead",
            field="survivor_id",
        )
    if survivor.status == "converted":
        if MERGED in asked.values():
            raise Conflict(
                "The surviving lead is converted and its values can no longer change",
                code="lead_converted",
            )
        choices.clear()


def _changes(object_type, survivor, merged, choices: dict[str, str]) -> dict[str, Any]:
    """The survivor's new values: every field chosen from the merged record."""
    changes: dict[str, Any] = {}
    custom = dict(survivor.custom or {})
    for name, choice in choices.items():
        if choice != MERGED:
            continue
        value = field_value(merged, name)
        if name.startswith("custom."):
            key = name.removeprefix("custom.")
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
            continue
        changes[name] = value
        if name == "owner_id":
            owner = User.objects.filter(pk=value).first()
            if owner is None or not owner.is_active:
                raise _field_error(
                    name, "The merged record's owner is deactivated", "inactive_user"
                )
            changes["team_id"] = owner.team_id
        if name == "status":
            changes["disqualified_reason"] = merged.disqualified_reason
    if custom != (survivor.custom or {}):
        changes["custom"] = custom
    if object_type == "account":
        parent = changes.get("parent_id", survivor.parent_id)
        if parent in (survivor.pk, merged.pk):
            # Neither may become its own parent: the survivor takes the merged's place.
            parent = merged.parent_id if merged.parent_id not in (survivor.pk, merged.pk) else None
            changes["parent_id"] = parent
    return changes


def version_bump(model: type[Model], now: datetime.datetime) -> dict[str, Any]:
    """A moved row changes: clients holding its ETag must see a new version."""
    names = {f.name for f in model._meta.concrete_fields}
    out: dict[str, Any] = {}
    if "version" in names:
        out["version"] = F("version") + 1
    if "updated_at" in names:
        out["updated_at"] = now
    return out


def repoint_rows(model, attname: str, ids: list[int], to: int, now) -> int:
    """Point the rows `ids` of `model` at record `to` (in chunks); returns how many."""
    changed = 0
    for start in range(0, len(ids), CHUNK):
        changed += model._base_manager.filter(pk__in=ids[start : start + CHUNK]).update(
            **{attname: to}, **version_bump(model, now)
        )
    return changed


def _move_fks(object_type: str, survivor, merged, now) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for path in MOVED_FKS[object_type]:
        model, fk = field_of(path)
        qs = model._base_manager.filter(**{fk.attname: merged.pk})
        if model is type(survivor):
            qs = qs.exclude(pk__in=[survivor.pk, merged.pk])
        ids = sorted(qs.values_list("pk", flat=True))
        if ids:
            repoint_rows(model, fk.attname, ids, survivor.pk, now)
            moved[path] = ids
    return moved


def _move_shares(object_type: str, survivor, merged) -> list[int]:
    taken = set(
        RecordShare.objects.filter(object_type=object_type, object_id=survivor.pk).values_list(
            "user_id", "team_id"
        )
    )
    ids = sorted(
        pk
        for pk, user_id, team_id in RecordShare.objects.filter(
            object_type=object_type, object_id=merged.pk
        ).values_list("id", "user_id", "team_id")
        if (user_id, team_id) not in taken
    )
    RecordShare.objects.filter(pk__in=ids).update(object_id=survivor.pk)
    return ids


def _move_attendees(survivor, merged, now) -> list[int]:
    from rapport.activities.models import Activity

    through = Activity.attendee_contacts.through
    attending = set(
        through.objects.filter(contact_id=survivor.pk).values_list("activity_id", flat=True)
    )
    rows = [
        (pk, activity_id)
        for pk, activity_id in through.objects.filter(contact_id=merged.pk).values_list(
            "id", "activity_id"
        )
        if activity_id not in attending
    ]
    ids = sorted(pk for pk, _ in rows)
    through.objects.filter(pk__in=ids).update(contact_id=survivor.pk)
    Activity.objects.filter(pk__in={a for _, a in rows}).update(**version_bump(Activity, now))
    return ids


def _move_static_members(survivor, merged) -> list[int]:
    """Move the merged contact's hand-made segment memberships (static lists) to the survivor
    unless it is a member already; filter memberships are recomputed for it, not moved.
    Undo moves them back like any moved foreign key (their ids are in the log)."""
    from rapport.segments.models import MemberSource, SegmentMember

    have = set(
        SegmentMember.objects.filter(contact_id=survivor.pk).values_list("segment_id", flat=True)
    )
    ids = sorted(
        pk
        for pk, segment_id in SegmentMember.objects.filter(contact_id=merged.pk)
        .exclude(source=MemberSource.FILTER)
        .values_list("id", "segment_id")
        if segment_id not in have
    )
    SegmentMember.objects.filter(pk__in=ids).update(contact_id=survivor.pk)
    return ids


def _move_enrolments(object_type: str, survivor, merged) -> list[int]:
    """Move the merged person's sequence enrolments (their history and the open ones) to the
    survivor. An open one in a sequence the survivor is already open in is stopped instead: a
    person is in a sequence once at a time, and the merged record gets no more steps. Undo
    moves the moved ones back like any moved foreign key (their ids are in the log)."""
    from rapport.sequences.models import Enrolment, EnrolmentState, StopReason
    from rapport.sequences.services import enrolment_stop

    field = f"{object_type}_id"
    open_states = (EnrolmentState.ACTIVE, EnrolmentState.PAUSED)
    busy = set(
        Enrolment.objects.filter(**{field: survivor.pk}, state__in=open_states).values_list(
            "sequence_id", flat=True
        )
    )
    ids = []
    for enrolment in Enrolment.objects.filter(**{field: merged.pk}).order_by("pk"):
        if enrolment.state in open_states and enrolment.sequence_id in busy:
            enrolment_stop(enrolment=enrolment, actor=None, reason=StopReason.MANUAL)
        else:
            ids.append(enrolment.pk)
    Enrolment.objects.filter(pk__in=ids).update(**{field: survivor.pk})
    return ids


def _carry_opt_outs(object_type: str, survivor, merged, actor) -> list[int]:
    """The merged contact's (or lead's) opt-outs become the survivor's, as new ledger rows naming the
    merge (the ledger is append-only: the original rows stay as proof). Opt-ins are not
    carried: consent is asked again rather than assumed. Undo leaves them: an opt-out
    too many is the safe side."""
    from rapport.consent.models import ConsentAction, ConsentSource, ConsentState, ConsentStatus
    from rapport.consent.services import consent_record

    out = ConsentStatus.OPTED_OUT
    have = set(
        ConsentState.objects.filter(**{object_type: survivor}, status=out).values_list(
            "purpose_id", "channel"
        )
    )
    carried = []
    merged_states = ConsentState.objects.filter(**{object_type: merged}, status=out)
    for state in merged_states.select_related("purpose"):
        if (state.purpose_id, state.channel) in have:
            continue
        record = consent_record(
            person=survivor,
            channel=state.channel,
            purpose=state.purpose,
            action=ConsentAction.OPT_OUT,
            source=ConsentSource.AGENT,
            actor=actor,
            note=f"Carried over when {object_type} #{merged.pk} was merged into this one",
        )
        carried.append(record.pk)
    return carried


def _move_methods(model, value: str, survivor, merged) -> dict[str, Any]:
    """Move the merged contact's emails (or phones) the survivor lacks, as secondaries."""
    have = set(model.objects.filter(contact=survivor).values_list(value, flat=True))
    primary = model.objects.filter(contact=survivor, is_primary=True).values_list("pk", flat=True)
    rows = [
        (pk, flag)
        for pk, item, flag in model.objects.filter(contact=merged).values_list(
            "id", value, "is_primary"
        )
        if item not in have
    ]
    model.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        contact_id=survivor.pk, is_primary=False
    )
    return {
        "moved": {str(pk): flag for pk, flag in rows},
        "primary_before": next(iter(primary), None),
    }


def primary_set(model, value: str, contact, wanted: str) -> str:
    """Make the row holding `wanted` the contact's primary (else keep or pick the first);
    returns the primary's value ("" when the contact has none)."""
    rows = list(model.objects.filter(contact=contact).order_by("-is_primary", "id"))
    if not rows:
        return ""
    target = next((r for r in rows if getattr(r, value) == wanted), rows[0])
    if not target.is_primary:
        model.objects.filter(contact=contact, is_primary=True).update(is_primary=False)
        model.objects.filter(pk=target.pk).update(is_primary=True)
    return getattr(target, value)


def _snapshot(object_type: str, record: OwnedRecord) -> dict[str, Any]:
    data = {f.attname: jsonable(getattr(record, f.attname)) for f in record._meta.concrete_fields}
    data["tags"] = sorted(record.tags.values_list("name", flat=True))
    if object_type == "contact":
        data["emails"] = list(record.emails.values("id", "email", "kind", "is_primary"))
        data["phones"] = list(record.phones.values("id", "number", "kind", "is_primary"))
    return data


def locked_records(model, pks: list[int]) -> dict[int, OwnedRecord]:
    """The records re-read under a row lock, in id order (no deadlock between two merges)."""
    rows = model.all_objects.select_for_update().filter(pk__in=sorted(pks)).order_by("pk")
    return {r.pk: r for r in rows}


def _candidate_for(object_type: str, a: int, b: int) -> DuplicateCandidate | None:
    low, high = sorted((a, b))
    return DuplicateCandidate.objects.filter(
        object_type=object_type, record_a_id=low, record_b_id=high
    ).first()


def record_merge(
    *,
    object_type: str,
    survivor: OwnedRecord,
    merged: OwnedRecord,
    field_choices: dict[str, str],
    actor: User,
    expected_version: int | None = None,
    merged_version: int | None = None,
    candidate: DuplicateCandidate | None = None,
) -> MergeLog:
    """Merge `merged` into `survivor` (see the module docstring); all or nothing.

    `field_choices` maps a differing field to "survivor" or "merged"; a field left out keeps
    the survivor's value unless that is blank. Needs edit rights on both records
    (RecordNotFound / PermissionDenied); a stale `expected_version` (survivor) or
    `merged_version` raises StaleVersion and changes nothing.
    """
    model = model_for(object_type)
    if not isinstance(survivor, model) or not isinstance(merged, model):
        raise TypeError(f"both records must be {object_type}s")
    if survivor.pk == merged.pk:
        raise ValidationError(
            {
                "merged_id": [
                    ValidationError("A record cannot merge into itself", code="same_record")
                ]
            }
        )
    require_editable(survivor, actor)
    require_editable(merged, actor)
    now = timezone.now()
    with transaction.atomic():
        rows = locked_records(model, [survivor.pk, merged.pk])
        survivor, merged = rows.get(survivor.pk), rows.get(merged.pk)
        for record in (survivor, merged):
            if record is None or record.deleted_at is not None:
                raise RecordNotFound(model._meta.verbose_name)
        if expected_version is not None and survivor.version != expected_version:
            raise StaleVersion(survivor.version)
        if merged_version is not None and merged.version != merged_version:
            raise StaleVersion(merged.version)
        choices = _choices_check(object_type, survivor, merged, field_choices)
        if object_type == "lead":
            _lead_rules(survivor, merged, choices, field_choices)
        changes = _changes(object_type, survivor, merged, choices)
        snapshot = _snapshot(object_type, merged)

        moved = _move_fks(object_type, survivor, merged, now)
        extras: dict[str, Any] = {}
        shares = _move_shares(object_type, survivor, merged)
        if shares:
            moved[SHARES] = shares
        survivor_tags = set(survivor.tags.values_list("pk", flat=True))
        added = sorted(set(merged.tags.values_list("pk", flat=True)) - survivor_tags)
        if added:
            survivor.tags.add(*added)
            extras["tags_added"] = added
        if object_type in ("contact", "lead"):
            opt_outs = _carry_opt_outs(object_type, survivor, merged, actor)
            if opt_outs:
                extras["consent_opt_outs_carried"] = opt_outs
            enrolments = _move_enrolments(object_type, survivor, merged)
            if enrolments:
                moved[ENROLMENTS[object_type]] = enrolments
        if object_type == "contact":
            from rapport.accounts.models import ContactEmail, ContactPhone

            attendees = _move_attendees(survivor, merged, now)
            if attendees:
                moved[ATTENDEES] = attendees
            static_members = _move_static_members(survivor, merged)
            if static_members:
                moved[STATIC_MEMBERS] = static_members
            for key, method_model, value, denormalised in (
                ("emails", ContactEmail, "email", "email"),
                ("phones", ContactPhone, "number", "phone"),
            ):
                extras[key] = _move_methods(method_model, value, survivor, merged)
                wanted = changes.get(denormalised, getattr(survivor, denormalised))
                primary = primary_set(method_model, value, survivor, wanted)
                if primary and primary != wanted:
                    changes[denormalised] = primary

        before = {name: jsonable(getattr(survivor, name)) for name in changes}
        diff = versioned_update(
            instance=survivor,
            changes={**changes, "updated_at": now},
            expected_version=survivor.version,
        )
        diff.pop("updated_at", None)
        after = {name: jsonable(getattr(survivor, name)) for name in changes}
        versioned_update(instance=merged, changes={"deleted_at": now})

        candidate = candidate or _candidate_for(object_type, survivor.pk, merged.pk)
        if candidate is not None:
            candidate.status, candidate.resolved_at, candidate.resolved_by = (
                CandidateStatus.MERGED,
                now,
                actor,
            )
            candidate.save(update_fields=["status", "resolved_at", "resolved_by"])
        merge_log = MergeLog.objects.create(
            object_type=object_type,
            survivor_id=survivor.pk,
            merged_id=merged.pk,
            candidate=candidate,
            actor=actor,
            at=now,
            field_choices=choices,
            survivor_before=before,
            survivor_after=after,
            merged_snapshot=snapshot,
            moved=moved,
            extras=extras,
        )
        counts = {path: len(ids) for path, ids in moved.items()}
        timeline_record(
            subject=survivor,
            kind=EventKind.UPDATED,
            actor=actor,
            summary=f"Merged {merged} into {survivor}",
            payload={
                "merged": {
                    "object_type": object_type,
                    "merged_id": merged.pk,
                    "merge_log_id": merge_log.pk,
                    "moved": counts,
                },
                "changes": diff,
            },
            occurred_at=now,
        )
        timeline_record(
            subject=merged,
            kind=EventKind.DELETED,
            actor=actor,
            summary=f"Merged into {survivor}",
            payload={"merged_into": survivor.pk, "merge_log_id": merge_log.pk},
            occurred_at=now,
        )
        duplicate_keys_refresh(object_type=object_type, ids=[survivor.pk, merged.pk])
    return merge_log

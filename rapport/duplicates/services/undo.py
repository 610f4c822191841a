"""Undoing a merge: the MergeLog replayed backwards (see merge.py)."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, MergeLog
from rapport.duplicates.record_types import field_of, model_for
from rapport.duplicates.services.detection import duplicate_keys_refresh
from rapport.duplicates.services.merge import (
    ATTENDEES,
    CHUNK,
    SHARES,
    locked_records,
    primary_set,
    repoint_rows,
    version_bump,
)
from rapport.identity.models import User
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.models import RecordShare
from rapport.records.services import jsonable, require_editable, versioned_update
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record


def _restore_fields(survivor, log: MergeLog) -> tuple[dict[str, Any], list[str]]:
    """The survivor's values before the merge, for the fields nobody changed since; the
    fields changed since keep their newer value (listed second)."""
    changes, kept = {}, []
    for name, old in log.survivor_before.items():
        current = jsonable(getattr(survivor, name))
        new = log.survivor_after.get(name)
        if name == "custom":
            old, new, restored = old or {}, new or {}, dict(current or {})
            for key in set(old) | set(new):
                if old.get(key) == new.get(key):
                    continue  # the merge did not touch it
                if restored.get(key) != new.get(key):
                    kept.append(f"custom.{key}")
                elif key in old:
                    restored[key] = old[key]
                else:
                    restored.pop(key, None)
            changes["custom"] = restored
        elif current == new:
            changes[name] = old
        else:
            kept.append(name)
    if "owner_id" in kept:
        changes.pop("team_id", None)  # the team follows the owner kept
    return changes, kept


def _move_back_fks(log: MergeLog, survivor_id: int, merged_id: int, now) -> dict[str, list[int]]:
    """Point the moved rows at the merged record again; returns the ids that could not be
    (deleted or pointed elsewhere since)."""
    missing: dict[str, list[int]] = {}
    for path, ids in log.moved.items():
        if path in (SHARES, ATTENDEES):
            continue
        model, fk = field_of(path)
        still = []
        for start in range(0, len(ids), CHUNK):
            still += model._base_manager.filter(
                pk__in=ids[start : start + CHUNK], **{fk.attname: survivor_id}
            ).values_list("pk", flat=True)
        repoint_rows(model, fk.attname, sorted(still), merged_id, now)
        gone = sorted(set(ids) - set(still))
        if gone:
            missing[path] = gone
    return missing


def _move_back_extras(log: MergeLog, survivor, merged, now, missing: dict) -> None:
    object_type = log.object_type
    ids = log.moved.get(SHARES, [])
    if ids:
        taken = set(
            RecordShare.objects.filter(object_type=object_type, object_id=merged.pk).values_list(
                "user_id", "team_id"
            )
        )
        back = [
            pk
            for pk, user_id, team_id in RecordShare.objects.filter(
                pk__in=ids, object_type=object_type, object_id=survivor.pk
            ).values_list("id", "user_id", "team_id")
            if (user_id, team_id) not in taken
        ]
        RecordShare.objects.filter(pk__in=back).update(object_id=merged.pk)
        if set(ids) - set(back):
            missing[SHARES] = sorted(set(ids) - set(back))
    if log.extras.get("tags_added"):
        survivor.tags.remove(*log.extras["tags_added"])
    if object_type != "contact":
        return
    from rapport.accounts.models import ContactEmail, ContactPhone
    from rapport.activities.models import Activity

    ids = log.moved.get(ATTENDEES, [])
    if ids:
        through = Activity.attendee_contacts.through
        rows = list(
            through.objects.filter(pk__in=ids, contact_id=survivor.pk).values_list(
                "id", "activity_id"
            )
        )
        through.objects.filter(pk__in=[pk for pk, _ in rows]).update(contact_id=merged.pk)
        Activity.objects.filter(pk__in={a for _, a in rows}).update(**version_bump(Activity, now))
        if len(rows) != len(ids):
            missing[ATTENDEES] = sorted(set(ids) - {pk for pk, _ in rows})
    for key, method_model in (("emails", ContactEmail), ("phones", ContactPhone)):
        moved = log.extras.get(key, {}).get("moved", {})
        for flag in (False, True):
            pks = [int(pk) for pk, was_primary in moved.items() if was_primary == flag]
            method_model.objects.filter(pk__in=pks, contact=survivor).update(
                contact_id=merged.pk, is_primary=flag
            )


def merge_undo(*, log: MergeLog, actor: User, expected_version: int | None = None) -> MergeLog:
    """Undo a merge: restore the merged record, move back exactly the rows the merge moved
    and restore the survivor's previous values — except fields changed since the merge,
    which keep their newer value (listed in undo_report["kept_fields"]).

    Needs edit rights on both records; Conflict when already undone, when a record is gone
    for good, or when the survivor is in the trash.
    """
    if log.undone_at is not None:
        raise Conflict("This merge was already undone", code="already_undone")
    model = model_for(log.object_type)
    survivor = model.all_objects.filter(pk=log.survivor_id).first()
    merged = model.all_objects.filter(pk=log.merged_id).first()
    if survivor is None or merged is None:
        raise Conflict("A record of this merge was deleted for good", code="record_gone")
    require_editable(survivor, actor)
    require_editable(merged, actor)
    now = timezone.now()
    with transaction.atomic():
        rows = locked_records(model, [survivor.pk, merged.pk])
        survivor, merged = rows[survivor.pk], rows[merged.pk]
        fresh = MergeLog.objects.select_for_update().get(pk=log.pk)
        if fresh.undone_at is not None:
            raise Conflict("This merge was already undone", code="already_undone")
        if survivor.deleted_at is not None:
            raise Conflict(
                f"Restore {survivor} from the trash before undoing the merge",
                code="survivor_deleted",
            )
        if expected_version is not None and survivor.version != expected_version:
            raise StaleVersion(survivor.version)
        missing = _move_back_fks(log, survivor.pk, merged.pk, now)
        _move_back_extras(log, survivor, merged, now, missing)
        changes, kept = _restore_fields(survivor, log)
        diff = versioned_update(
            instance=survivor,
            changes={**changes, "updated_at": now},
            expected_version=survivor.version,
        )
        diff.pop("updated_at", None)
        if log.object_type == "contact":
            from rapport.accounts.models import ContactEmail, ContactPhone

            fixes = {}
            for method_model, value, denormalised in (
                (ContactEmail, "email", "email"),
                (ContactPhone, "number", "phone"),
            ):
                primary = primary_set(
                    method_model, value, survivor, getattr(survivor, denormalised)
                )
                if primary != getattr(survivor, denormalised):
                    fixes[denormalised] = primary
            if fixes:
                diff.update(versioned_update(instance=survivor, changes=fixes))
        if merged.deleted_at is not None:
            versioned_update(instance=merged, changes={"deleted_at": None})
        report = {"kept_fields": sorted(kept), "not_moved_back": missing}
        MergeLog.objects.filter(pk=log.pk).update(
            undone_at=now, undone_by=actor, undo_report=report
        )
        if log.candidate_id:
            DuplicateCandidate.objects.filter(
                pk=log.candidate_id, status=CandidateStatus.MERGED
            ).update(status=CandidateStatus.OPEN, resolved_at=None, resolved_by=None)
        timeline_record(
            subject=survivor,
            kind=EventKind.UPDATED,
            actor=actor,
            summary=f"Undid the merge of {merged} into {survivor}",
            payload={
                "unmerged": {
                    "object_type": log.object_type,
                    "merged_id": merged.pk,
                    "merge_log_id": log.pk,
                    "kept_fields": sorted(kept),
                },
                "changes": diff,
            },
            occurred_at=now,
        )
        timeline_record(
            subject=merged,
            kind=EventKind.RESTORED,
            actor=actor,
            summary=f"Restored: the merge into {survivor} was undone",
            payload={"unmerged_from": survivor.pk, "merge_log_id": log.pk},
            occurred_at=now,
        )
        duplicate_keys_refresh(object_type=log.object_type, ids=[survivor.pk, merged.pk])
    log.refresh_from_db()
    return log

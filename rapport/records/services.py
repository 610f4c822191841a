"""Writes shared by every owned record: versioned field updates, soft delete and
restore, ownership transfer, sharing and tags. Domain services call these inside
their own transaction and write the timeline through them."""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Model, QuerySet
from django.utils import timezone

from rapport.identity.models import Team, User
from rapport.identity.services import require_settings_admin
from rapport.notifications.services import assignment_notify
from rapport.records.dates import check_date_range
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.models import (
    Access,
    CustomFieldDefinition,
    ObjectType,
    OrgDefault,
    OwnedRecord,
    RecordShare,
    ShareAccess,
    Tag,
)
from rapport.records.visibility import can_manage_access, editable, visible
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record


def jsonable(value: Any) -> Any:
    """A field value as the timeline, merge logs and import reports store it (JSON)."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def require_editable(record: OwnedRecord, actor: User) -> None:
    """Raise RecordNotFound if the actor cannot see the record, PermissionDenied if they
    can see but not change it."""
    model = type(record)
    if not visible(model.all_objects.filter(pk=record.pk), actor).exists():
        raise RecordNotFound(model._meta.verbose_name)
    if not editable(model.all_objects.filter(pk=record.pk), actor).exists():
        raise PermissionDenied()


def require_access_manager(record: OwnedRecord, actor: User, action: str) -> None:
    """Raise RecordNotFound if the actor cannot see the record, PermissionDenied unless they
    are its owner, a manager above the owner's team or an admin (`action`: for the message)."""
    model = type(record)
    if not visible(model.all_objects.filter(pk=record.pk), actor).exists():
        raise RecordNotFound(model._meta.verbose_name)
    if not can_manage_access(record, actor):
        raise PermissionDenied(
            f"Only the owner, their managers and admins may {action} this record",
            code="not_owner",
        )


def versioned_update(
    *, instance: Model, changes: dict[str, Any], expected_version: int | None = None
) -> dict[str, dict[str, Any]]:
    """Apply `changes` with an atomic `UPDATE … WHERE version = n`; bump the version.

    Returns {field: {"old": …, "new": …}} for the fields that really changed.
    Raises StaleVersion (nothing written) when the stored version is not the expected one.
    """
    version = instance.version if expected_version is None else expected_version
    diff: dict[str, dict[str, Any]] = {}
    for field, new in changes.items():
        check_date_range(new, field)  # no unreadable date is ever written, validated or not
        old = getattr(instance, field)
        if isinstance(new, Model):
            old_cmp, new_cmp = getattr(instance, f"{field}_id"), new.pk
        else:
            old_cmp, new_cmp = old, new
        if old_cmp != new_cmp:
            diff[field] = {"old": jsonable(old), "new": jsonable(new)}
    model = type(instance)
    if expected_version is not None and instance.version != expected_version:
        raise StaleVersion(instance.version)
    if not diff:
        return diff
    values = {f: changes[f] for f in diff}
    if hasattr(instance, "updated_at"):
        values["updated_at"] = timezone.now()
    updated = model._base_manager.filter(pk=instance.pk, version=version).update(
        version=F("version") + 1, **values
    )
    if not updated:
        current = model._base_manager.filter(pk=instance.pk).values_list("version", flat=True)
        raise StaleVersion(next(iter(current), version))
    for field, value in values.items():
        setattr(instance, field, value)
    instance.version = version + 1
    return diff


def record_update(
    *,
    record: OwnedRecord,
    changes: dict[str, Any],
    actor: User,
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Check edit rights, apply a versioned update and log the changed fields."""
    require_editable(record, actor)
    with transaction.atomic():
        diff = versioned_update(instance=record, changes=changes, expected_version=expected_version)
        if diff:
            timeline_record(
                subject=record,
                kind=EventKind.UPDATED,
                actor=actor,
                summary="Changed " + ", ".join(sorted(diff)),
                payload={"changes": diff},
            )
    return diff


def record_soft_delete(
    *, record: OwnedRecord, actor: User, expected_version: int | None = None
) -> None:
    require_editable(record, actor)
    with transaction.atomic():
        versioned_update(
            instance=record,
            changes={"deleted_at": timezone.now()},
            expected_version=expected_version,
        )
        timeline_record(
            subject=record, kind=EventKind.DELETED, actor=actor, summary=f"Deleted {record}"
        )


def record_restore(*, record: OwnedRecord, actor: User) -> None:
    if record.deleted_at is None:
        return
    require_editable(record, actor)
    with transaction.atomic():
        versioned_update(instance=record, changes={"deleted_at": None})
        timeline_record(
            subject=record, kind=EventKind.RESTORED, actor=actor, summary=f"Restored {record}"
        )


def record_transfer_owner(
    *,
    record: OwnedRecord,
    new_owner: User,
    actor: User,
    expected_version: int | None = None,
    notify_new_owner: bool = True,
) -> None:
    """Give the record to another active user (owner, managers, admins only); the record's
    team follows the new owner, who is notified (unless `notify_new_owner` is False: a bulk
    action sends one summary instead)."""
    require_access_manager(record, actor, "transfer")
    if not new_owner.is_active:
        raise ValidationError(
            {"owner_id": [ValidationError("The new owner is deactivated", code="inactive_user")]}
        )
    old_owner_id = record.owner_id
    with transaction.atomic():
        diff = versioned_update(
            instance=record,
            changes={"owner": new_owner, "team_id": new_owner.team_id},
            expected_version=expected_version,
        )
        if "owner" in diff:
            timeline_record(
                subject=record,
                kind=EventKind.OWNER_CHANGED,
                actor=actor,
                summary=f"Owner changed to {new_owner.get_full_name() or new_owner.username}",
                payload={"owner": {"old": old_owner_id, "new": new_owner.pk}},
            )
            if notify_new_owner and new_owner.pk != actor.pk:
                assignment_notify(record=record, new_owner=new_owner, actor=actor)


def record_share(
    *,
    record: OwnedRecord,
    actor: User,
    user: User | None = None,
    team: Team | None = None,
    access: str = ShareAccess.READ,
) -> RecordShare:
    """Share the record with one user or one team (read or edit); re-sharing updates access.
    Owner, managers and admins only."""
    require_access_manager(record, actor, "share")
    if (user is None) == (team is None):
        raise ValidationError("Share with exactly one user or one team", code="invalid_share")
    if access not in ShareAccess.values:
        raise ValidationError(
            {"access": [ValidationError("must be read or edit", code="invalid_choice")]}
        )
    with transaction.atomic():
        share, _ = RecordShare.objects.update_or_create(
            object_type=record.OBJECT_TYPE,
            object_id=record.pk,
            user=user,
            team=team,
            defaults={"access": access, "created_by": actor},
        )
        target = user.username if user else f"team {team.name}"
        timeline_record(
            subject=record,
            kind=EventKind.SHARED,
            actor=actor,
            summary=f"Shared with {target} ({access})",
            payload={
                "user": user.pk if user else None,
                "team": team.pk if team else None,
                "access": access,
            },
        )
    return share


def record_unshare(*, record: OwnedRecord, share_id: int, actor: User) -> None:
    """Remove a share (owner, managers and admins only)."""
    require_access_manager(record, actor, "change the sharing of")
    with transaction.atomic():
        deleted, _ = RecordShare.objects.filter(
            pk=share_id, object_type=record.OBJECT_TYPE, object_id=record.pk
        ).delete()
        if not deleted:
            raise RecordNotFound("share")
        timeline_record(
            subject=record, kind=EventKind.UNSHARED, actor=actor, payload={"share": share_id}
        )


MAX_TAGS_PER_RECORD = 50


def tags_set(*, record: OwnedRecord, names: list[str]) -> list[str]:
    """Replace the record's tags (creating missing Tag rows); returns the sorted names.
    At most MAX_TAGS_PER_RECORD tags on a record (one request cannot mint thousands)."""
    clean = sorted({n.strip()[:60] for n in names if n and n.strip()})
    if len(clean) > MAX_TAGS_PER_RECORD:
        raise ValidationError(
            {
                "tags": [
                    ValidationError(
                        f"At most {MAX_TAGS_PER_RECORD} tags on a record", code="too_many_tags"
                    )
                ]
            }
        )
    existing = {t.name: t for t in Tag.objects.filter(name__in=clean)}
    missing = [Tag(name=n) for n in clean if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=clean)}
    record.tags.set(list(existing.values()))
    return clean


def require_writer(actor: User) -> None:
    """Read-only and inactive users may create or change no record (PermissionDenied)."""
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot create or change records", code="read_only")


def _validate_fields(instance: Model, fields: list[str]) -> None:
    names = {f.name for f in instance._meta.concrete_fields}
    exclude = [n for n in names if n not in fields]
    instance.clean_fields(exclude=exclude)


def _owner_for(actor: User, owner: User | None) -> User:
    owner = owner or actor
    if not owner.is_active:
        raise ValidationError(
            {"owner_id": [ValidationError("The owner is deactivated", code="inactive_user")]}
        )
    return owner


def record_create(
    *,
    model: type[OwnedRecord],
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
    summary: str = "",
) -> OwnedRecord:
    """Validate and insert an owned record, set its tags and log `created` — one transaction.

    Call inside the domain service's transaction; the team follows the owner.
    """
    from rapport.records.custom_fields import custom_fields_clean

    require_writer(actor)
    owner = _owner_for(actor, owner)
    record = model(owner=owner, team_id=owner.team_id, **fields)
    record.custom = custom_fields_clean(object_type=model.OBJECT_TYPE, values=custom or {})
    _validate_fields(record, list(fields))
    with transaction.atomic():
        record.save()
        if tags:
            tags_set(record=record, names=tags)
        timeline_record(
            subject=record,
            kind=EventKind.CREATED,
            actor=actor,
            summary=summary or f"Created {record}",
        )
        if not _may_create_for(actor, owner, model.all_objects.filter(pk=record.pk)):
            raise owner_out_of_sight()
    return record


def _may_create_for(actor: User, owner: User, written: QuerySet) -> bool:
    """Yourself, a member of your own team (a hand-off, even when you will not see it), or
    anyone whose new record you will see (teams you manage, shares, public defaults)."""
    if owner.pk == actor.pk or (owner.team_id is not None and owner.team_id == actor.team_id):
        return True
    return visible(written, actor).exists()


def owner_out_of_sight() -> ValidationError:
    """Creating a record for someone in another team whose records the actor cannot see is
    refused (and rolled back): the actor would get a 404 for what they just made, and a retry
    a duplicate."""
    return ValidationError(
        {
            "owner_id": [
                ValidationError(
                    "You would not see the record with this owner: choose yourself or someone "
                    "whose records you can see",
                    code="owner_out_of_sight",
                )
            ]
        }
    )


def record_edit(
    *,
    record: OwnedRecord,
    actor: User,
    fields: dict[str, Any],
    tags: list[str] | None = None,
    custom: dict | None = None,
    owner: User | None = None,
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Validate and apply a partial update (fields, merged custom values, tags, owner) as
    one versioned write with one `updated` event; returns the diff."""
    from rapport.records.custom_fields import custom_fields_clean

    require_editable(record, actor)
    if expected_version is not None and record.version != expected_version:
        raise StaleVersion(record.version)
    changes = dict(fields)
    if owner is not None and owner.pk != record.owner_id:
        require_access_manager(record, actor, "transfer")
        changes["owner"] = _owner_for(actor, owner)
        changes["team_id"] = owner.team_id
    if custom is not None:
        changes["custom"] = custom_fields_clean(
            object_type=record.OBJECT_TYPE, values=custom, current=record.custom
        )
    probe = type(record)(
        **{f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
    )
    for name, value in changes.items():
        setattr(probe, name, value)
    _validate_fields(probe, list(changes))
    with transaction.atomic():
        diff = versioned_update(instance=record, changes=changes, expected_version=record.version)
        if tags is not None:
            old = sorted(record.tags.values_list("name", flat=True))
            new = tags_set(record=record, names=tags)
            if old != new:
                diff["tags"] = {"old": old, "new": new}
                if set(diff) == {"tags"}:
                    # A tag-only change still bumps the version: clients must see it.
                    versioned_update(instance=record, changes={"updated_at": timezone.now()})
        owner_diff = diff.pop("owner", None)
        diff.pop("team_id", None)
        if owner_diff:
            timeline_record(
                subject=record,
                kind=EventKind.OWNER_CHANGED,
                actor=actor,
                summary=f"Owner changed to {owner.get_full_name() or owner.username}",
                payload={"owner": owner_diff},
            )
            if owner.pk != actor.pk:
                assignment_notify(record=record, new_owner=owner, actor=actor)
        if diff:
            timeline_record(
                subject=record,
                kind=EventKind.UPDATED,
                actor=actor,
                summary="Changed " + ", ".join(sorted(diff)),
                payload={"changes": diff},
            )
    return diff


# ----- administration: organisation-wide defaults, custom field definitions ------------


def _settings_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def org_default_set(*, object_type: str, access: str, actor: User) -> OrgDefault:
    """Set who sees an object's records by default (admins only)."""
    require_settings_admin(actor)
    if object_type not in ObjectType.values:
        raise _settings_error("object_type", "Unknown object", "invalid_choice")
    if access not in Access.values:
        raise _settings_error("access", "Unknown access level", "invalid_choice")
    with transaction.atomic():
        row, _ = OrgDefault.objects.update_or_create(
            object_type=object_type, defaults={"access": access}
        )
    return row


def custom_field_delete(*, definition: CustomFieldDefinition, actor: User) -> None:
    """Remove a custom field's definition (admins only). Values already stored stay in the
    records' JSON but are no longer shown, validated or filterable."""
    require_settings_admin(actor)
    with transaction.atomic():
        CustomFieldDefinition.objects.filter(pk=definition.pk).delete()

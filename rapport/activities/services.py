"""Writes for activities and interactions.

An activity links to any of an account, contact, lead and opportunity (real FKs); with no
link it is a personal task of its owner. Linking needs seeing the record (else 422 on the
link's field) and being allowed to change it (else 403); read-only users never write.
Every write lands on the linked records' timelines: ACTIVITY_LOGGED on create,
ACTIVITY_UPDATED on change, ACTIVITY_DONE when a task is completed. Deleting is a hard
delete; the earlier events stay (their activity link cleared) and a DELETED event with a
summary says who removed what.
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity, ActivityKind
from rapport.activities.selectors import activities_visible_to, activity_editable
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.notifications.mentions import mentions_notify
from rapport.notifications.reminders import reminder_columns
from rapport.notifications.services import assignment_notify, preferences_for
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.external_ids import own_external_id
from rapport.records.services import owner_out_of_sight, versioned_update
from rapport.records.visibility import editable, visible
from rapport.sales.models import Opportunity
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

LINKS: dict[str, type[Model]] = {
    "account_id": Account,
    "contact_id": Contact,
    "lead_id": Lead,
    "opportunity_id": Opportunity,
}
# Fields only some kinds have; subject, body, occurred_at, owner and links belong to all.
KIND_FIELDS: dict[str, set[str]] = {
    ActivityKind.TASK: {"due_at", "priority", "done", "reminder_minutes"},
    ActivityKind.CALL: {"direction", "duration_seconds", "outcome"},
    ActivityKind.MEETING: {
        "starts_at",
        "ends_at",
        "location",
        "attendee_contact_ids",
        "attendee_user_ids",
        "reminder_minutes",
    },
    ActivityKind.EMAIL: {"direction"},
    ActivityKind.NOTE: set(),
    ActivityKind.INTERACTION: {"channel", "direction"},
}
SPECIFIC = set().union(*KIND_FIELDS.values())
# Model fields a client sets, with the value that null (or absence, on create) stands for.
DEFAULTS: dict[str, Any] = {
    "subject": "",
    "body": "",
    "occurred_at": None,
    "due_at": None,
    "priority": "normal",
    "done": False,
    "direction": "",
    "duration_seconds": None,
    "outcome": "",
    "starts_at": None,
    "ends_at": None,
    "location": "",
    "channel": "",
    "reminder_minutes": None,
}
# What moves a task's or meeting's reminder and overdue notice.
REMINDER_INPUTS = {"due_at", "starts_at", "reminder_minutes", "done"}
_FK_FIELDS = ["owner", "created_by", "account", "contact", "lead", "opportunity"]


def _error(field: str | None, detail: str, code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code, "field": field}


def _raise(errors: list[dict[str, Any]]) -> None:
    by_field: dict[str, list[ValidationError]] = {}
    for e in errors:
        by_field.setdefault(e["field"] or "__all__", []).append(
            ValidationError(e["detail"], code=e["code"])
        )
    raise ValidationError(by_field)


def _require_writer(actor: User) -> None:
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot log or change activities", code="read_only")


def _require_editable(activity: Activity, actor: User) -> None:
    _require_writer(actor)
    if not activity_editable(activity=activity, user=actor):
        raise PermissionDenied("You may not change this activity")


def _normalise(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"not activity fields: {', '.join(sorted(unknown))}")
    values = {}
    for name, value in fields.items():
        if value is None:
            value = DEFAULTS[name]
        if isinstance(value, datetime.datetime) and timezone.is_naive(value):
            value = timezone.make_aware(value)
        values[name] = value
    return values


def _link_check(actor: User, links: dict[str, int | None]) -> None:
    """Each linked record must be visible (else 422 on its field) and changeable (403)."""
    errors, found = [], []
    for field, pk in links.items():
        if pk is None:
            continue
        model = LINKS[field]
        if not visible(model.objects.filter(pk=pk), actor).exists():
            name = model._meta.verbose_name
            errors.append(_error(field, f"No such {name}", f"invalid_{field.removesuffix('_id')}"))
        else:
            found.append((model, pk))
    if errors:
        _raise(errors)
    for model, pk in found:
        if not editable(model.objects.filter(pk=pk), actor).exists():
            raise PermissionDenied(f"You may not log activities on this {model._meta.verbose_name}")


def _attendee_errors(
    actor: User, contact_ids: list[int], user_ids: list[int]
) -> list[dict[str, Any]]:
    errors = []
    if contact_ids:
        seen = set(
            visible(Contact.objects.filter(pk__in=contact_ids), actor).values_list("pk", flat=True)
        )
        missing = sorted(set(contact_ids) - seen)
        if missing:
            errors.append(
                _error("attendee_contact_ids", f"No such contacts: {missing}", "invalid_contact")
            )
    if user_ids:
        seen = set(
            User.objects.filter(pk__in=user_ids, is_active=True).values_list("pk", flat=True)
        )
        missing = sorted(set(user_ids) - seen)
        if missing:
            errors.append(
                _error("attendee_user_ids", f"No active users: {missing}", "invalid_user")
            )
    return errors


def _kind_errors(kind: str, given: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields of other kinds the client set (`given`), and the rules of the kind on the
    values after the change (`state`)."""
    errors = [
        _error(name, f"A {kind} has no {name}", "not_for_kind")
        for name in sorted(given)
        if name in SPECIFIC - KIND_FIELDS[kind] and given[name] not in (None, "", [], False)
    ]
    if kind == ActivityKind.NOTE and not state["body"].strip():
        errors.append(_error("body", "A note needs a body", "required"))
    if kind == ActivityKind.INTERACTION and not state["channel"]:
        errors.append(_error("channel", "An interaction needs a channel", "required"))
    if kind == ActivityKind.MEETING:
        if state["starts_at"] is None:
            errors.append(_error("starts_at", "A meeting needs a start", "required"))
        elif state["ends_at"] is not None and state["ends_at"] <= state["starts_at"]:
            errors.append(_error("ends_at", "A meeting must end after it starts", "invalid_range"))
    return errors


def _link_rule_errors(
    kind: str, links: dict[str, int | None], owner_id: int, actor: User
) -> list[dict[str, Any]]:
    if any(links.values()):
        return []
    if kind != ActivityKind.TASK:
        detail = "Link it to an account, a contact, a lead or an opportunity"
        return [_error("account_id", detail, "link_required")]
    if owner_id != actor.pk:
        return [_error("owner_id", "A task without links can only be your own", "personal_task")]
    return []


def _event_links(activity: Activity) -> dict[str, int | None]:
    links = {field: getattr(activity, field) for field in LINKS}
    if not links["account_id"]:
        # A contact's or an opportunity's activity also shows on its account's timeline.
        for field, model in (("contact_id", Contact), ("opportunity_id", Opportunity)):
            if links[field]:
                parent = model.all_objects.filter(pk=links[field]).values_list(
                    "account_id", flat=True
                )
                links["account_id"] = next(iter(parent), None)
                if links["account_id"]:
                    break
    return {**links, "activity_id": activity.pk}


def _label(activity: Activity) -> str:
    text = activity.subject or " ".join(activity.body.split())[:80]
    kind = ActivityKind(activity.kind).label
    return f"{kind}: {text}" if text else kind


def _record_event(
    activity: Activity,
    *,
    kind: str,
    actor: User,
    summary: str,
    payload: dict[str, Any] | None = None,
    with_activity: bool = True,
    at: datetime.datetime | None = None,
) -> None:
    links = _event_links(activity)
    if not with_activity:
        links["activity_id"] = None
    timeline_record(
        kind=kind,
        actor=actor,
        summary=summary,
        occurred_at=at or timezone.now(),
        payload={"kind": activity.kind, "subject": activity.subject, **(payload or {})},
        **links,
    )


def _existing_for(external_id: str, source: str, actor: User) -> Activity | None:
    """The activity the actor logged before under this external id of this source, if any.
    External ids are their writer's key (rapport/records/external_ids.py): another person's
    activity with the same id is never found, so its existence never shows. The actor's own
    one that moved out of their sight since is a conflict (409) about their own write."""
    found = own_external_id(Activity, writer=actor, source=source, external_id=external_id)
    if found is None:
        return None
    activity = activities_visible_to(actor).filter(pk=found).first()
    if activity is None:
        raise Conflict(
            "You logged an activity with this external_id before; it is no longer visible to you",
            code="duplicate",
            field="external_id",
        )
    return activity


def _derived_occurred_at(kind: str, values: dict[str, Any], explicit: bool) -> Any:
    if kind == ActivityKind.MEETING and values["starts_at"] is not None:
        return values["starts_at"]
    if explicit and values["occurred_at"] is not None:
        return values["occurred_at"]
    if kind == ActivityKind.TASK and values["due_at"] is not None:
        return values["due_at"]
    return values["occurred_at"] or timezone.now()


def activity_log(
    *,
    actor: User,
    kind: str,
    fields: dict[str, Any],
    links: dict[str, int | None] | None = None,
    owner: User | None = None,
    attendee_contact_ids: list[int] | None = None,
    attendee_user_ids: list[int] | None = None,
    external_id: str | None = None,
    source: str = "",
) -> tuple[Activity, bool]:
    """Log an activity (owner defaults to the actor) and its ACTIVITY_LOGGED event on every
    linked record. Returns (activity, created): an external_id seen before gives back the
    stored activity, also when two identical requests race."""
    _require_writer(actor)
    if kind not in KIND_FIELDS:
        _raise([_error("kind", f"Unknown kind {kind!r}", "invalid_choice")])
    if external_id:
        existing = _existing_for(external_id, source, actor)
        if existing is not None:
            return existing, False
    links = {field: (links or {}).get(field) for field in LINKS}
    _link_check(actor, links)
    owner = owner or actor
    contact_ids = sorted(set(attendee_contact_ids or []))
    user_ids = sorted(set(attendee_user_ids or []))
    values = {**DEFAULTS, **_normalise(fields)}
    given = {**fields, "attendee_contact_ids": contact_ids, "attendee_user_ids": user_ids}
    errors = _kind_errors(kind, given, values)
    errors += _link_rule_errors(kind, links, owner.pk, actor)
    errors += _attendee_errors(actor, contact_ids, user_ids)
    if not owner.is_active:
        errors.append(_error("owner_id", "The owner is deactivated", "inactive_user"))
    if errors:
        _raise(errors)
    values["occurred_at"] = _derived_occurred_at(kind, values, explicit="occurred_at" in fields)
    values["done_at"] = timezone.now() if values["done"] else None
    if kind in (ActivityKind.TASK, ActivityKind.MEETING) and "reminder_minutes" not in fields:
        values["reminder_minutes"] = preferences_for(owner).default_reminder_minutes
    values.update(reminder_columns(kind=kind, state=values))
    activity = Activity(
        kind=kind,
        owner=owner,
        created_by=actor,
        external_id=external_id,
        source=source if external_id else "",
        **links,
        **values,
    )
    activity.clean_fields(exclude=_FK_FIELDS)
    with transaction.atomic():
        try:
            with transaction.atomic():
                activity.save()
        except IntegrityError:
            existing = _existing_for(external_id, source, actor) if external_id else None
            if existing is None:
                raise
            return existing, False
        if contact_ids:
            activity.attendee_contacts.set(contact_ids)
        if user_ids:
            activity.attendee_users.set(user_ids)
        _record_event(
            activity,
            kind=EventKind.ACTIVITY_LOGGED,
            actor=actor,
            summary=_label(activity),
            payload={k: values[k] for k in ("channel", "direction") if values[k]},
            # At the activity's time; a planned one is logged now, not on top of the timeline.
            at=min(activity.occurred_at, timezone.now()),
        )
        if (
            owner.pk != actor.pk
            and not activities_visible_to(actor).filter(pk=activity.pk).exists()
        ):
            raise owner_out_of_sight()
        if owner.pk != actor.pk:
            assignment_notify(record=activity, new_owner=owner, actor=actor)
        mentions_notify(activity=activity, actor=actor)
    return activity, True


def _state(activity: Activity) -> dict[str, Any]:
    return {name: getattr(activity, name) for name in DEFAULTS}


def _attendee_ids(activity: Activity) -> dict[str, list[int]]:
    return {
        "attendee_contact_ids": sorted(activity.attendee_contacts.values_list("pk", flat=True)),
        "attendee_user_ids": sorted(activity.attendee_users.values_list("pk", flat=True)),
    }


def activity_update(
    *,
    activity: Activity,
    actor: User,
    fields: dict[str, Any],
    links: dict[str, int | None] | None = None,
    owner: User | None = None,
    attendee_contact_ids: list[int] | None = None,
    attendee_user_ids: list[int] | None = None,
    expected_version: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Versioned partial update; kind rules hold on the result. Changed links need the same
    rights as on create. Writes ACTIVITY_DONE when it completes a task and ACTIVITY_UPDATED
    for the other changes; returns the diff."""
    _require_editable(activity, actor)
    if expected_version is not None and activity.version != expected_version:
        raise StaleVersion(activity.version)
    kind = activity.kind
    changes = _normalise(fields)
    new_links = {field: pk for field, pk in (links or {}).items() if pk != getattr(activity, field)}
    _link_check(actor, new_links)
    changes.update(new_links)
    if owner is not None and owner.pk != activity.owner_id:
        changes["owner_id"] = owner.pk
    contact_ids = sorted(set(attendee_contact_ids)) if attendee_contact_ids is not None else None
    user_ids = sorted(set(attendee_user_ids)) if attendee_user_ids is not None else None
    given = {**fields, "attendee_contact_ids": contact_ids, "attendee_user_ids": user_ids}
    state = {**_state(activity), **changes}
    errors = _kind_errors(kind, given, state)
    all_links = {field: changes.get(field, getattr(activity, field)) for field in LINKS}
    if new_links or "owner_id" in changes:
        owner_id = changes.get("owner_id", activity.owner_id)
        errors += _link_rule_errors(kind, all_links, owner_id, actor)
    if owner is not None and not owner.is_active:
        errors.append(_error("owner_id", "The owner is deactivated", "inactive_user"))
    old_attendees = _attendee_ids(activity)
    new_attendees = {
        name: ids
        for name, ids in (("attendee_contact_ids", contact_ids), ("attendee_user_ids", user_ids))
        if ids is not None and ids != old_attendees[name]
    }
    added = [
        pk
        for pk in new_attendees.get("attendee_contact_ids", [])
        if pk not in old_attendees["attendee_contact_ids"]
    ]
    errors += _attendee_errors(actor, added, new_attendees.get("attendee_user_ids", []))
    if errors:
        _raise(errors)
    # Fields of other kinds are all empty here: leave the stored (empty) values alone.
    for name in SPECIFIC - KIND_FIELDS[kind]:
        changes.pop(name, None)
    if "done" in changes and changes["done"] != activity.done:
        changes["done_at"] = timezone.now() if changes["done"] else None
    if kind == ActivityKind.MEETING:
        # A meeting happens when it starts: occurred_at follows starts_at only.
        changes.pop("occurred_at", None)
        if "starts_at" in changes:
            changes["occurred_at"] = changes["starts_at"]
    elif kind == ActivityKind.TASK and changes.get("due_at") and "occurred_at" not in fields:
        changes["occurred_at"] = changes["due_at"]
    if REMINDER_INPUTS & {k for k, v in changes.items() if v != getattr(activity, k)}:
        changes.update(reminder_columns(kind=kind, state={**_state(activity), **changes}))
    old_body, old_owner_id = activity.body, activity.owner_id
    probe = Activity(
        **{f.attname: getattr(activity, f.attname) for f in Activity._meta.concrete_fields}
    )
    for name, value in changes.items():
        setattr(probe, name, value)
    probe.clean_fields(exclude=_FK_FIELDS)
    with transaction.atomic():
        if new_attendees:
            # Attendees live in their own tables: touching updated_at moves the version
            # even when only they change.
            changes["updated_at"] = timezone.now()
        diff = versioned_update(
            instance=activity, changes=changes, expected_version=activity.version
        )
        diff.pop("updated_at", None)
        diff.pop("done_at", None)
        diff.pop("remind_at", None)
        diff.pop("overdue_at", None)
        for name, ids in new_attendees.items():
            relation = activity.attendee_contacts if "contact" in name else activity.attendee_users
            relation.set(ids)
            diff[name] = {"old": old_attendees[name], "new": ids}
        if not diff:
            return diff
        if activity.owner_id != old_owner_id and activity.owner_id != actor.pk:
            activity.owner = owner
            assignment_notify(record=activity, new_owner=owner, actor=actor)
        if "body" in diff:
            mentions_notify(activity=activity, actor=actor, old_text=old_body)
        done = diff.get("done")
        rest = {k: v for k, v in diff.items() if not (k == "done" and done["new"])}
        if done and done["new"]:
            _record_event(
                activity,
                kind=EventKind.ACTIVITY_DONE,
                actor=actor,
                summary=f"Completed {_label(activity)}",
            )
        if rest:
            _record_event(
                activity,
                kind=EventKind.ACTIVITY_UPDATED,
                actor=actor,
                summary=f"{_label(activity)} — changed " + ", ".join(sorted(rest)),
                payload={"changes": rest},
            )
    return diff


def _require_task(activity: Activity) -> None:
    if activity.kind != ActivityKind.TASK:
        _raise([_error("kind", "Only tasks can be completed or reopened", "not_a_task")])


def activity_complete(
    *, activity: Activity, actor: User, expected_version: int | None = None
) -> bool:
    """Mark a task done (ACTIVITY_DONE event); completing a done task changes nothing.
    Returns whether it changed."""
    _require_editable(activity, actor)
    _require_task(activity)
    if expected_version is not None and activity.version != expected_version:
        raise StaleVersion(activity.version)
    if activity.done:
        return False
    with transaction.atomic():
        versioned_update(
            instance=activity,
            changes={
                "done": True,
                "done_at": timezone.now(),
                "remind_at": None,
                "overdue_at": None,
            },
            expected_version=activity.version,
        )
        _record_event(
            activity,
            kind=EventKind.ACTIVITY_DONE,
            actor=actor,
            summary=f"Completed {_label(activity)}",
        )
    return True


def activity_reopen(
    *, activity: Activity, actor: User, expected_version: int | None = None
) -> bool:
    """Mark a done task open again (an ACTIVITY_UPDATED event, since ACTIVITY_DONE means
    completed); reopening an open task changes nothing. Returns whether it changed."""
    _require_editable(activity, actor)
    _require_task(activity)
    if expected_version is not None and activity.version != expected_version:
        raise StaleVersion(activity.version)
    if not activity.done:
        return False
    with transaction.atomic():
        versioned_update(
            instance=activity,
            changes={
                "done": False,
                "done_at": None,
                **reminder_columns(kind=activity.kind, state={**_state(activity), "done": False}),
            },
            expected_version=activity.version,
        )
        _record_event(
            activity,
            kind=EventKind.ACTIVITY_UPDATED,
            actor=actor,
            summary=f"Reopened {_label(activity)}",
            payload={"changes": {"done": {"old": True, "new": False}}},
        )
    return True


def activity_delete(
    *, activity: Activity, actor: User, expected_version: int | None = None
) -> None:
    """Hard delete (If-Match honoured); a DELETED event keeps a summary on the timelines."""
    _require_editable(activity, actor)
    version = activity.version if expected_version is None else expected_version
    with transaction.atomic():
        # The event first: its account fallback reads the links of the row still there.
        _record_event(
            activity,
            kind=EventKind.DELETED,
            actor=actor,
            summary=f"Deleted {_label(activity)}",
            payload={"activity": activity.pk},
            with_activity=False,
        )
        deleted, _ = Activity.objects.filter(pk=activity.pk, version=version).delete()
        if not deleted:
            current = Activity.objects.filter(pk=activity.pk).values_list("version", flat=True)
            raise StaleVersion(next(iter(current), version))

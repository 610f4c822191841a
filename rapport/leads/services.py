"""Writes for leads: create, edit, soft delete, restore and conversion into an account,
a contact and (optionally) an opportunity. Views, API, importers and tasks call these."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from rapport.accounts.contact_methods import email_normalise, phone_normalise
from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.identity.models import User
from rapport.leads.models import Lead, LeadStatus
from rapport.records.exceptions import Conflict, RecordNotFound, StaleVersion
from rapport.records.iso_codes import normalise_codes
from rapport.records.services import (
    record_create,
    record_edit,
    record_restore,
    record_soft_delete,
    require_editable,
    versioned_update,
)
from rapport.records.visibility import visible
from rapport.sales.models import Pipeline, Stage
from rapport.sales.services import opportunity_create
from rapport.scoring.services import score_leads
from rapport.territories.assignment import assign
from rapport.territories.placement import PLACEMENT_FIELDS, place_record
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

# What a conversion copies from the lead onto the records it creates.
_ADDRESS = ("street", "city", "region", "postal_code", "country")
_OPPORTUNITY_KEYS = {
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "pipeline",
    "stage",
    "pipeline_id",
    "stage_id",
    "description",
}


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _lead_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Normalise the contact methods (email, E.164 phone) and the country code."""
    fields = dict(fields)
    if fields.get("email"):
        fields["email"] = email_normalise(fields["email"], field="email")
    if fields.get("phone"):
        fields["phone"] = phone_normalise(fields["phone"], field="phone")
    return normalise_codes(fields, countries=("country",))


def _status_rules(fields: dict[str, Any], lead: Lead | None = None) -> dict[str, Any]:
    """Converted is reached only by conversion; disqualified needs a reason, and the reason
    is kept only while the lead is disqualified."""
    if fields.get("status") == LeadStatus.CONVERTED:
        raise _error(
            "status",
            "A lead becomes converted only by converting it (POST /api/leads/{id}/convert)",
            "convert_required",
        )
    current_status = lead.status if lead is not None else LeadStatus.NEW
    current_reason = lead.disqualified_reason if lead is not None else ""
    status = fields.get("status", current_status)
    if status == LeadStatus.DISQUALIFIED:
        reason = fields.get("disqualified_reason", current_reason)
        if not (reason or "").strip():
            raise _error(
                "disqualified_reason",
                "A disqualified lead needs a reason",
                "required",
            )
    elif "status" in fields or "disqualified_reason" in fields:
        fields["disqualified_reason"] = ""
    return fields


def _require_not_converted(lead: Lead) -> None:
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict("The lead is converted and can no longer change", code="lead_converted")


def lead_create(
    *,
    actor: User,
    fields: dict[str, Any],
    owner: User | None = None,
    tags: list[str] | None = None,
    custom: dict | None = None,
) -> Lead:
    """Create a lead with a normalised email and phone and log it; never born converted."""
    fields = _status_rules(_lead_fields(fields))
    with transaction.atomic():
        lead = record_create(
            model=Lead, actor=actor, fields=fields, owner=owner, tags=tags, custom=custom
        )
        # Territory first (a rule may give the lead to its territory's rep), then the
        # assignment rules when nobody chose the owner.
        place_record(lead, actor=actor, created=True)
        if owner is None:
            assign(lead, actor=actor)
        score_leads([lead.pk])
        return lead


def lead_update(
    *,
    lead: Lead,
    actor: User,
    fields: dict[str, Any],
    tags: list[str] | None = None,
    custom: dict | None = None,
    owner: User | None = None,
    expected_version: int | None = None,
) -> dict:
    """Versioned partial update (status changes land in the `updated` event); a converted
    lead is frozen (Conflict `lead_converted`); stale `expected_version` changes nothing."""
    require_editable(lead, actor)
    _require_not_converted(lead)
    fields = _status_rules(_lead_fields(fields), lead)
    with transaction.atomic():
        out = record_edit(
            record=lead,
            actor=actor,
            fields=fields,
            tags=tags,
            custom=custom,
            owner=owner,
            expected_version=expected_version,
        )
        if set(fields) & PLACEMENT_FIELDS:
            place_record(lead, actor=actor)
        score_leads([lead.pk])
        return out


def lead_delete(*, lead: Lead, actor: User, expected_version: int | None = None) -> None:
    record_soft_delete(record=lead, actor=actor, expected_version=expected_version)


def lead_restore(*, lead: Lead, actor: User) -> None:
    record_restore(record=lead, actor=actor)


# ----- conversion ----------------------------------------------------------------------


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    """Name a nested service's field errors after the part of the conversion they concern
    (`account.name`, `opportunity.stage_id`), so the client knows which record failed."""
    if hasattr(exc, "error_dict"):
        return ValidationError(
            {
                (prefix if field == "__all__" else f"{prefix}.{field}"): errors
                for field, errors in exc.error_dict.items()
            }
        )
    return ValidationError({prefix: exc.error_list})


def _require_visible(record, actor: User, field: str):
    model = type(record)
    if not visible(model.objects.filter(pk=record.pk), actor).exists():
        raise _error(field, f"No such {model._meta.verbose_name}", f"invalid_{model.OBJECT_TYPE}")
    return record


def _convert_account(lead: Lead, actor: User, owner: User, fields: dict | None) -> Account:
    data = {
        "name": lead.company,
        "website": lead.website,
        "industry": lead.industry,
        **{key: getattr(lead, key) for key in _ADDRESS},
        **(fields or {}),
    }
    if not (data.get("name") or "").strip():
        raise _error(
            "account_id",
            "The lead has no company to name an account after: link an existing account "
            "(account_id), fill in the lead's company, or convert without an account",
            "company_required",
        )
    try:
        return account_create(actor=actor, fields=data, owner=owner)
    except ValidationError as exc:
        raise _prefixed(exc, "account")


def _convert_contact(
    lead: Lead, actor: User, owner: User, account: Account | None, fields: dict | None
) -> Contact:
    data = {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "title": lead.title,
        "account": account,
        **{key: getattr(lead, key) for key in _ADDRESS},
        **(fields or {}),
    }
    for key in ("email", "phone"):
        data.setdefault(key, getattr(lead, key) or None)
    try:
        return contact_create(actor=actor, fields=data, owner=owner)
    except ValidationError as exc:
        raise _prefixed(exc, "contact")


def _resolve_pipeline_stage(data: dict[str, Any]) -> None:
    """Turn `pipeline_id` / `stage_id` into rows; an unknown id is a 422 on that field.
    Whether the stage fits the pipeline is opportunity_create's rule."""
    for key, model in (("pipeline", Pipeline), ("stage", Stage)):
        raw = data.pop(f"{key}_id", None)
        if raw is None:
            continue
        row = model.objects.filter(pk=raw).first()
        if row is None:
            raise _error(f"opportunity.{key}_id", f"No {key} with this id", f"invalid_{key}")
        data[key] = row


def _convert_opportunity(
    lead: Lead,
    actor: User,
    owner: User,
    account: Account | None,
    contact: Contact | None,
    fields: dict | None,
):
    fields = {k: v for k, v in (fields or {}).items() if v is not None}
    unknown = set(fields) - _OPPORTUNITY_KEYS
    if unknown:
        raise _error("opportunity", f"Unknown fields: {', '.join(sorted(unknown))}", "invalid")
    _resolve_pipeline_stage(fields)
    name = fields.pop("name", "") or lead.company or str(lead)
    # A linked contact of another account cannot be the opportunity's primary contact.
    if contact is not None and account is not None and contact.account_id != account.pk:
        contact = None
    data = {
        "name": name,
        "account": account,
        "primary_contact": contact,
        "pipeline": None,
        "stage": None,
        "source": lead.source,
        **fields,
    }
    try:
        return opportunity_create(actor=actor, fields=data, owner=owner)
    except ValidationError as exc:
        raise _prefixed(exc, "opportunity")


def _move_activities(lead: Lead, links: dict[str, Any]) -> int:
    """Point the lead's activities at the new records too (the lead link stays, so the
    lead's history still shows them); a link an activity already has is kept. One UPDATE,
    one version bump per activity changed; returns how many changed."""
    links = {field: record.pk for field, record in links.items() if record is not None}
    if not links:
        return 0
    missing = Q()
    for field in links:
        missing |= Q(**{f"{field}__isnull": True})
    return (
        Activity.objects.filter(lead=lead)
        .filter(missing)
        .update(
            **{f"{field}_id": Coalesce(F(f"{field}_id"), Value(pk)) for field, pk in links.items()},
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
    )


def lead_convert(
    *,
    lead: Lead,
    actor: User,
    account: Account | None = None,
    create_account: bool = True,
    account_fields: dict | None = None,
    contact: Contact | None = None,
    create_contact: bool = True,
    contact_fields: dict | None = None,
    create_opportunity: bool = False,
    opportunity_fields: dict | None = None,
    expected_version: int | None = None,
    owner: User | None = None,
) -> dict:
    """Convert a lead into an account, a contact and optionally an opportunity — all or
    nothing in one transaction.

    Links the given (visible) account / contact or creates them from the lead; the new
    records belong to `owner`, else the lead's owner (the actor when that owner is
    deactivated). The lead's activities are linked to the new records; the lead becomes
    `converted` (versioned: a stale `expected_version` raises StaleVersion) and one
    `lead_converted` event appears on the lead's, account's, contact's and opportunity's
    timelines. Returns {"lead", "account", "contact", "opportunity"}.
    """
    require_editable(lead, actor)
    if (
        account is None
        and contact is None
        and not (create_account or create_contact or create_opportunity)
    ):
        raise ValidationError(
            "A conversion needs an account, a contact or an opportunity",
            code="nothing_to_convert",
        )
    with transaction.atomic():
        # Lock and re-read: two concurrent conversions must not both pass the status check.
        current = Lead.all_objects.select_for_update().filter(pk=lead.pk).first()
        if current is None or current.deleted_at is not None:
            raise RecordNotFound("lead")
        _require_not_converted(current)
        if current.status == LeadStatus.DISQUALIFIED:
            raise Conflict(
                "A disqualified lead cannot be converted; reopen it first",
                code="lead_disqualified",
            )
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(current.version)

        if owner is None:
            owner = current.owner if current.owner.is_active else actor
        created: set[str] = set()
        if account is not None:
            _require_visible(account, actor, "account_id")
        elif create_account:
            account = _convert_account(current, actor, owner, account_fields)
            created.add("account")
        if contact is not None:
            _require_visible(contact, actor, "contact_id")
        elif create_contact:
            contact = _convert_contact(current, actor, owner, account, contact_fields)
            created.add("contact")
        opportunity = None
        if create_opportunity:
            opportunity = _convert_opportunity(
                current, actor, owner, account, contact, opportunity_fields
            )
            created.add("opportunity")

        moved = _move_activities(
            current, {"account": account, "contact": contact, "opportunity": opportunity}
        )
        now = timezone.now()
        diff = versioned_update(
            instance=current,
            changes={
                "status": LeadStatus.CONVERTED,
                "disqualified_reason": "",
                "converted_at": now,
                "converted_by": actor,
                "converted_account": account,
                "converted_contact": contact,
                "converted_opportunity": opportunity,
            },
            expected_version=current.version,
        )
        made = [
            f"{label} {record}"
            for label, record in (
                ("account", account),
                ("contact", contact),
                ("opportunity", opportunity),
            )
            if record is not None
        ]
        # One event linked to the lead and to every record it became: each of their
        # timelines shows the conversion once (an account's timeline also gathers its
        # contacts' and opportunities' events, so one event per record would repeat).
        timeline_record(
            subject=current,
            kind=EventKind.LEAD_CONVERTED,
            actor=actor,
            summary=f"Lead {current} converted" + (f" into {', '.join(made)}" if made else ""),
            payload={
                "lead": current.pk,
                "account": account.pk if account else None,
                "contact": contact.pk if contact else None,
                "opportunity": opportunity.pk if opportunity else None,
                "created": sorted(created),
                "activities_moved": moved,
                "changes": diff,
            },
            occurred_at=now,
            account_id=account.pk if account else None,
            contact_id=contact.pk if contact else None,
            opportunity_id=opportunity.pk if opportunity else None,
        )
    lead.refresh_from_db()
    return {"lead": lead, "account": account, "contact": contact, "opportunity": opportunity}

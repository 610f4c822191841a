"""Writing consent. Every change is one new ledger row plus the person's cached status, in
one transaction (the status row is locked first, so two concurrent writes for the same
person × channel × purpose apply in order). Nothing here updates or deletes a ledger row.

- `consent_record`: an opt-in or opt-out from any source (agent, API, import, form, portal,
  email link). An email opt-in for a purpose that requires double opt-in is `pending` until
  the confirmation link is used; the confirmation mail goes through the one outbox.
- `consent_confirm`, `consent_unsubscribe`, `preferences_save`: the signed-link actions.
- `suppression_add` / `suppression_remove`, `purpose_create` / `purpose_update`.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rapport.consent import tokens
from rapport.consent.models import (
    Channel,
    ConsentAction,
    ConsentPurpose,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    ConsentStatus,
    Suppression,
    SuppressionReason,
)
from rapport.consent.selectors import people_with_addresses, person_filter
from rapport.records.exceptions import PermissionDenied
from rapport.records.services import require_writer
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

CONFIRMATION_TEMPLATE = "consent-confirmation"
CONFIRMATION_SUBJECT = "Please confirm: {{ purpose.name }}"
CONFIRMATION_TEXT = """Hello {{ person.first_name | default("there") }},

please confirm that you want to receive {{ purpose.name }} by email:

{{ confirm_url }}

{{ purpose.policy_text }}
(policy version {{ purpose.policy_version }})

If you did not ask for this, ignore this message: nothing will be sent to you.
"""


def _require_admin(actor) -> None:
    if actor is None or not actor.is_admin:
        raise PermissionDenied("Only administrators manage consent purposes", code="admin_only")


def _clean_ip(ip: str | None) -> str | None:
    from django.core.validators import validate_ipv46_address

    if not ip:
        return None
    try:
        validate_ipv46_address(ip)
    except ValidationError:
        return None
    return ip


def _status_after(action: str, purpose: ConsentPurpose, channel: str, current: str) -> str:
    if action == ConsentAction.OPT_OUT:
        return ConsentStatus.OPTED_OUT
    if action == ConsentAction.CONFIRM:
        return ConsentStatus.OPTED_IN
    if current == ConsentStatus.OPTED_IN:
        return ConsentStatus.OPTED_IN  # a repeated opt-in does not undo a confirmation
    if channel == Channel.EMAIL and purpose.requires_double_opt_in:
        return ConsentStatus.PENDING
    return ConsentStatus.OPTED_IN


def _person_email(person) -> str:
    return (getattr(person, "email", "") or "").strip()


def _append(
    *,
    person,
    channel: str,
    purpose: ConsentPurpose,
    action: str,
    source: str,
    actor=None,
    ip: str | None = None,
    user_agent: str = "",
    note: str = "",
    token_hash: str = "",
    occurred_at=None,
) -> tuple[ConsentRecord, ConsentState]:
    """One ledger row and the status it leads to (caller holds a transaction)."""
    now = occurred_at or timezone.now()
    who = person_filter(person)
    state = (
        ConsentState.objects.select_for_update()
        .filter(**who, channel=channel, purpose=purpose)
        .first()
    )
    record = ConsentRecord.objects.create(
        **who,
        address=_person_email(person).lower() if channel == Channel.EMAIL else "",
        channel=channel,
        purpose=purpose,
        action=action,
        source=source,
        occurred_at=now,
        ip_address=_clean_ip(ip),
        user_agent=(user_agent or "")[:500],
        policy_version=purpose.policy_version,
        token_hash=token_hash,
        note=(note or "")[:500],
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    status = _status_after(action, purpose, channel, state.status if state else "")
    if state is None:
        state = ConsentState.objects.create(
            **who, channel=channel, purpose=purpose, status=status, record=record, changed_at=now
        )
    else:
        state.status, state.record, state.changed_at = status, record, now
        state.save(update_fields=["status", "record", "changed_at"])
    label = dict(ConsentStatus.choices)[status].lower()
    timeline_record(
        subject=person,
        kind=EventKind.UPDATED,
        actor=record.actor,
        summary=f"Consent: {purpose.name} by {Channel(channel).label.lower()} — {label}",
        payload={
            "consent": {
                "record_id": record.pk,
                "purpose": purpose.slug,
                "channel": channel,
                "action": action,
                "source": source,
                "status": status,
            }
        },
    )
    return record, state


def _validate_choice(value: str, choices, field: str) -> str:
    if value not in choices.values:
        raise ValidationError({field: [f"must be one of {', '.join(choices.values)}"]})
    return value


def consent_record(
    *,
    person,
    channel: str,
    purpose: ConsentPurpose,
    action: str,
    source: str,
    actor=None,
    ip: str | None = None,
    user_agent: str = "",
    note: str = "",
) -> ConsentRecord:
    """Append an opt-in or opt-out for `person` (a contact or lead the caller may edit). An
    email opt-in for a double opt-in purpose stays pending and sends the confirmation mail
    (through the outbox, in this transaction). Raises ValidationError naming the field."""
    if actor is not None:
        require_writer(actor)
    _validate_choice(channel, Channel, "channel")
    _validate_choice(source, ConsentSource, "source")
    if action not in (ConsentAction.OPT_IN, ConsentAction.OPT_OUT):
        raise ValidationError({"action": ["must be opt_in or opt_out"]})
    if not purpose.active and action == ConsentAction.OPT_IN:
        raise ValidationError({"purpose_id": ["this purpose is retired"]}, code="retired")
    if source == ConsentSource.AGENT and not (note or "").strip():
        raise ValidationError(
            {"note": ["say how the person gave or withdrew consent (e.g. phone call)"]}
        )
    email = _person_email(person)
    needs_confirmation = (
        action == ConsentAction.OPT_IN
        and channel == Channel.EMAIL
        and purpose.requires_double_opt_in
    )
    if needs_confirmation and not email:
        raise ValidationError({"channel": ["the record has no email address to confirm"]})
    with transaction.atomic():
        token = ""
        if needs_confirmation:
            ref = tokens.person_ref(
                contact_id=person.pk if "contact" in person_filter(person) else None,
                lead_id=person.pk if "lead" in person_filter(person) else None,
            )
            token = tokens.make_confirm_token(person=ref, purpose_id=purpose.pk, channel=channel)
        record, state = _append(
            person=person,
            channel=channel,
            purpose=purpose,
            action=action,
            source=source,
            actor=actor,
            ip=ip,
            user_agent=user_agent,
            note=note,
            token_hash=tokens.token_hash(token) if token else "",
        )
        if token and state.status == ConsentStatus.PENDING:
            _queue_confirmation(person=person, purpose=purpose, token=token, actor=actor)
    return record


def confirmation_template():
    """The admin-editable confirmation mail (created with a default text on first use)."""
    from rapport.mail.models import EmailTemplate, Purpose

    template, _ = EmailTemplate.objects.get_or_create(
        name=CONFIRMATION_TEMPLATE,
        defaults={
            "purpose": Purpose.TRANSACTIONAL,
            "subject": CONFIRMATION_SUBJECT,
            "body_text": CONFIRMATION_TEXT,
        },
    )
    return template


def _queue_confirmation(*, person, purpose: ConsentPurpose, token: str, actor) -> None:
    from django.urls import reverse

    from rapport.mail.models import Purpose
    from rapport.mail.rendering import render_template
    from rapport.mail.services import queue_email

    template = confirmation_template()
    context = {
        "person": {
            "first_name": getattr(person, "first_name", ""),
            "last_name": getattr(person, "last_name", ""),
        },
        "purpose": {
            "name": purpose.name,
            "policy_text": purpose.policy_text,
            "policy_version": purpose.policy_version,
        },
        "confirm_url": tokens.absolute(reverse("consent_public:confirm", args=[token])),
    }
    link = person_filter(person)
    queue_email(
        to=[_person_email(person)],
        subject=render_template(template.subject, context),
        text=render_template(template.body_text, context),
        html=render_template(template.body_html, context, html=True) if template.body_html else "",
        links=[{f"{k}_id": v.pk for k, v in link.items()}],
        # Transactional: the person asked for it; it needs no marketing consent itself.
        purpose=Purpose.TRANSACTIONAL,
        template=template,
        actor=actor,
    )


def _person_from_ref(ref: str):
    from rapport.accounts.models import Contact
    from rapport.leads.models import Lead

    contact_id, lead_id = tokens.parse_person_ref(ref)
    if contact_id:
        return Contact.objects.filter(pk=contact_id).first()
    return Lead.objects.filter(pk=lead_id).first()


def consent_confirm(*, token: str, ip: str | None = None, user_agent: str = "") -> ConsentRecord:
    """Confirm a double opt-in with its signed token. Refused (BadToken) when the token is
    changed or expired, or when it is not the one of the person's pending opt-in (they opted
    out since, or a newer opt-in sent another link). Confirming twice is harmless."""
    payload = tokens.read_confirm_token(token)
    digest = tokens.token_hash(token)
    with transaction.atomic():
        person = _person_from_ref(payload.get("p"))
        purpose = ConsentPurpose.objects.filter(pk=payload.get("u")).first()
        channel = payload.get("ch")
        if person is None or purpose is None or channel not in Channel.values:
            raise tokens.BadToken("This link no longer matches a subscription.")
        state = (
            ConsentState.objects.select_for_update()
            .select_related("record")
            .filter(**person_filter(person), channel=channel, purpose=purpose)
            .first()
        )
        if state is None or state.record.token_hash != digest:
            raise tokens.BadToken("This link has been replaced or withdrawn.")
        if state.status == ConsentStatus.OPTED_IN:
            return state.record
        if state.status != ConsentStatus.PENDING:
            raise tokens.BadToken("This subscription was withdrawn.")
        record, _ = _append(
            person=person,
            channel=channel,
            purpose=purpose,
            action=ConsentAction.CONFIRM,
            source=ConsentSource.EMAIL_LINK,
            ip=ip,
            user_agent=user_agent,
            token_hash=digest,
        )
    return record


def consent_unsubscribe(
    *, token: str, ip: str | None = None, user_agent: str = ""
) -> list[ConsentRecord]:
    """The one-click unsubscribe (RFC 8058): opt every person with the link's address out of
    its purpose (source email_link). An address nobody has any more goes on the suppression
    list instead, so the request is honoured either way."""
    payload = tokens.read_unsubscribe_token(token)
    address = payload["a"]
    with transaction.atomic():
        purpose = ConsentPurpose.objects.filter(pk=payload["u"]).first()
        if purpose is None:
            raise tokens.BadToken("This link no longer matches a subscription.")
        contacts, leads = people_with_addresses([address])
        people = _people(contacts.get(address, ()), leads.get(address, ()))
        records = []
        for person in people:
            if _status(person, purpose, Channel.EMAIL) == ConsentStatus.OPTED_OUT:
                continue
            record, _ = _append(
                person=person,
                channel=Channel.EMAIL,
                purpose=purpose,
                action=ConsentAction.OPT_OUT,
                source=ConsentSource.EMAIL_LINK,
                ip=ip,
                user_agent=user_agent,
                note="one-click unsubscribe",
            )
            records.append(record)
        if not people:
            _suppress(address, SuppressionReason.UNSUBSCRIBE, f"unsubscribed from {purpose.name}")
    return records


def _people(contact_ids, lead_ids) -> list:
    from rapport.accounts.models import Contact
    from rapport.leads.models import Lead

    people = list(Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk"))
    return people + list(Lead.objects.filter(pk__in=list(lead_ids)).order_by("pk"))


def _status(person, purpose, channel) -> str:
    state = ConsentState.objects.filter(
        **person_filter(person), purpose=purpose, channel=channel
    ).first()
    return state.status if state else ""


def preferences_save(
    *,
    token: str,
    chosen: set[tuple[int, str]],
    unsubscribe_all: bool = False,
    ip: str | None = None,
    user_agent: str = "",
) -> list[ConsentRecord]:
    """The preference centre: `chosen` is the set of (purpose id, channel) the person wants.
    Each purpose × channel whose answer changes gets a ledger row (source email_link); an
    email opt-in of a double opt-in purpose sends its confirmation. `unsubscribe_all` opts out
    of everything and puts the address on the suppression list."""
    payload = tokens.read_preferences_token(token)
    from rapport.consent.selectors import channels_for, purposes

    records = []
    with transaction.atomic():
        person = _person_from_ref(payload["p"])
        if person is None:
            raise tokens.BadToken("This link no longer matches a subscription.")
        for purpose in purposes():
            for channel in channels_for(purpose):
                wanted = (purpose.pk, channel) in chosen and not unsubscribe_all
                current = _status(person, purpose, channel)
                if wanted and current in ("", ConsentStatus.OPTED_OUT):
                    action = ConsentAction.OPT_IN
                elif not wanted and current in (ConsentStatus.OPTED_IN, ConsentStatus.PENDING):
                    action = ConsentAction.OPT_OUT
                else:
                    continue
                if (
                    action == ConsentAction.OPT_IN
                    and channel == Channel.EMAIL
                    and not _person_email(person)
                ):
                    continue
                records.append(
                    consent_record(
                        person=person,
                        channel=channel,
                        purpose=purpose,
                        action=action,
                        source=ConsentSource.EMAIL_LINK,
                        ip=ip,
                        user_agent=user_agent,
                        note="preference centre",
                    )
                )
        if unsubscribe_all:
            address = payload.get("a") or _person_email(person).lower()
            if address:
                _suppress(address, SuppressionReason.UNSUBSCRIBE, "preference centre: everything")
    return records


# ----- suppression list ------------------------------------------------------------------
def _suppress(address: str, reason: str, note: str, actor=None) -> Suppression:
    address = address.strip().lower()
    existing = Suppression.objects.filter(address=address, removed_at__isnull=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                address=address,
                reason=reason,
                note=(note or "")[:500],
                created_at=timezone.now(),
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError:  # added concurrently: one active row per address
        return Suppression.objects.get(address=address, removed_at__isnull=True)


def suppression_add(*, address: str, reason: str, note: str = "", actor) -> Suppression:
    """Put `address` on the suppression list (idempotent: an active entry is returned)."""
    from rapport.mail.services import clean_addresses

    require_writer(actor)
    _validate_choice(reason, SuppressionReason, "reason")
    cleaned = clean_addresses([address], "address")
    if not cleaned:
        raise ValidationError({"address": ["required"]}, code="required")
    return _suppress(cleaned[0], reason, note, actor)


def suppression_remove(*, suppression: Suppression, note: str, actor) -> Suppression:
    """Take an address off the list; the row stays (who, when, why) as history."""
    require_writer(actor)
    if not actor.is_admin and actor.role != "manager":
        raise PermissionDenied(
            "Only managers and administrators remove suppressions", code="manager_only"
        )
    if not (note or "").strip():
        raise ValidationError({"note": ["say why the address may receive marketing again"]})
    Suppression.objects.filter(pk=suppression.pk, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=actor, removed_note=note.strip()[:500]
    )
    suppression.refresh_from_db()
    return suppression


# ----- purposes ----------------------------------------------------------------------------
_PURPOSE_FIELDS = (
    "slug",
    "name",
    "description",
    "policy_text",
    "policy_version",
    "requires_double_opt_in",
    "active",
)


def purpose_create(*, actor, fields: dict) -> ConsentPurpose:
    """A new purpose (administrators only). Raises ValidationError naming the field."""
    _require_admin(actor)
    purpose = ConsentPurpose(**{k: v for k, v in fields.items() if k in _PURPOSE_FIELDS})
    purpose.full_clean()
    purpose.save()
    return purpose


def purpose_update(*, actor, purpose: ConsentPurpose, fields: dict) -> ConsentPurpose:
    """Change a purpose. A changed policy text needs a new policy version: the ledger's proof
    names the version each person agreed to, so one version must mean one text."""
    _require_admin(actor)
    changes = {k: v for k, v in fields.items() if k in _PURPOSE_FIELDS}
    if (
        "policy_text" in changes
        and changes["policy_text"] != purpose.policy_text
        and changes.get("policy_version", purpose.policy_version) == purpose.policy_version
    ):
        raise ValidationError(
            {"policy_version": ["give the changed policy text a new version"]},
            code="version_required",
        )
    for key, value in changes.items():
        setattr(purpose, key, value)
    purpose.full_clean()
    purpose.save(update_fields=[*changes, "updated_at"] if changes else None)
    return purpose

"""Reading consent: a person's current status per channel × purpose and their ledger (for a
record the reader may see: callers load the person through the records' visibility
selectors first), the purposes, the suppression list, and the send gate's question "may
marketing of this purpose reach these addresses?" answered for a whole batch at once."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from rapport.consent.models import (
    Channel,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    Suppression,
)


def person_filter(person) -> dict:
    """{"contact": person} or {"lead": person}: the ledger's column for this kind of record."""
    name = type(person).__name__
    if name == "Contact":
        return {"contact": person}
    if name == "Lead":
        return {"lead": person}
    raise TypeError(f"consent is kept for contacts and leads, not {name}")


def purposes(*, active_only: bool = True) -> QuerySet[ConsentPurpose]:
    qs = ConsentPurpose.objects.all()
    return qs.filter(active=True) if active_only else qs


def purpose_get(*, pk) -> ConsentPurpose | None:
    try:
        return ConsentPurpose.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def consent_ledger(person) -> QuerySet[ConsentRecord]:
    """Every ledger entry of `person`, newest first (with purpose and actor, no N+1)."""
    return ConsentRecord.objects.filter(**person_filter(person)).select_related("purpose", "actor")


def consent_states(person) -> QuerySet[ConsentState]:
    return ConsentState.objects.filter(**person_filter(person)).select_related("purpose", "record")


@dataclass
class StatusCell:
    channel: str
    channel_label: str
    status: str  # "" = never asked
    label: str
    changed_at: object = None


@dataclass
class StatusRow:
    purpose: ConsentPurpose
    cells: list[StatusCell]


def consent_status_matrix(person) -> list[StatusRow]:
    """The current status of every active purpose × channel for `person` (two queries)."""
    by_key = {(s.purpose_id, s.channel): s for s in consent_states(person)}
    rows = []
    tracking = getattr(settings, "RAPPORT_TRACKING_PURPOSE", "web-tracking")
    for purpose in purposes():
        cells = []
        for channel in channels_for(purpose, tracking_slug=tracking):
            state = by_key.get((purpose.pk, channel.value))
            cells.append(
                StatusCell(
                    channel=channel.value,
                    channel_label=channel.label,
                    status=state.status if state else "",
                    label=state.get_status_display() if state else "Never asked",
                    changed_at=state.changed_at if state else None,
                )
            )
        rows.append(StatusRow(purpose=purpose, cells=cells))
    return rows


def tracking_purpose() -> ConsentPurpose | None:
    """The purpose whose web-channel opt-in lets rapport.webtrack keep a person's page views
    (setting RAPPORT_TRACKING_PURPOSE; the consent migrations create `web-tracking`)."""
    slug = getattr(settings, "RAPPORT_TRACKING_PURPOSE", "web-tracking")
    return ConsentPurpose.objects.filter(slug=slug).first()


def channels_for(purpose: ConsentPurpose, *, tracking_slug: str | None = None) -> list[Channel]:
    """The channels a person is asked about for `purpose` (preference centre, portal): website
    tracking for the tracking purpose, the ways to reach them for every other purpose."""
    if tracking_slug is None:
        tracking_slug = getattr(settings, "RAPPORT_TRACKING_PURPOSE", "web-tracking")
    if purpose.slug == tracking_slug:
        return [Channel.WEB]
    return [c for c in Channel if c != Channel.WEB]


def channel_for(purpose: ConsentPurpose) -> str:
    """The channel a ticked consent box of `purpose` (web form, portal) is recorded on: the
    tracking purpose is consent to website tracking, every other purpose is email."""
    slug = getattr(settings, "RAPPORT_TRACKING_PURPOSE", "web-tracking")
    return Channel.WEB if purpose.slug == slug else Channel.EMAIL


def current_status(person, *, purpose: ConsentPurpose, channel: str) -> str:
    state = ConsentState.objects.filter(
        **person_filter(person), purpose=purpose, channel=channel
    ).first()
    return state.status if state else ""


def active_suppressions() -> QuerySet[Suppression]:
    return Suppression.objects.filter(removed_at__isnull=True).select_related("created_by")


def people_with_addresses(addresses: Iterable[str]) -> tuple[dict, dict]:
    """({address: {contact ids}}, {address: {lead ids}}) for the live contacts (primary or
    other email) and leads with each address (lower-cased keys), compared case-insensitively.

    Compares `UPPER(email)`: the accounts and leads tables index that expression (the one
    `iexact` uses), so each batch is an index lookup; `LOWER(email)` read every contact, contact
    email and lead once per batch of the mail sender and of a campaign snapshot."""
    from django.db.models.functions import Upper

    from rapport.accounts.models import Contact, ContactEmail
    from rapport.leads.models import Lead

    wanted = {a.upper() for a in addresses if a}
    contacts: dict[str, set[int]] = defaultdict(set)
    leads: dict[str, set[int]] = defaultdict(set)
    if not wanted:
        return contacts, leads
    queries = (
        (Contact.objects.all(), "id", contacts),
        (ContactEmail.objects.filter(contact__deleted_at__isnull=True), "contact_id", contacts),
        (Lead.objects.all(), "id", leads),
    )
    for queryset, key, found in queries:
        rows = queryset.annotate(email_upper=Upper("email")).filter(email_upper__in=wanted)
        for pk, email in rows.values_list(key, "email"):
            found[email.lower()].add(pk)
    return contacts, leads


def marketing_refusals(addresses: Iterable[str], purpose_id: int | None) -> dict[str, str]:
    """{address: reason} for each address that marketing mail of consent purpose
    `purpose_id` must not reach: no purpose named, the purpose retired, the address on the
    suppression list, anyone with the address opted out, nobody with it opted in, or the
    double opt-in not confirmed. A fixed number of queries for the whole batch."""
    addresses = list(addresses)
    if not addresses:
        return {}
    if not purpose_id:
        return {a: "marketing without a consent purpose" for a in addresses}
    purpose = ConsentPurpose.objects.filter(pk=purpose_id).first()
    if purpose is None or not purpose.active:
        return {a: "the consent purpose is retired" for a in addresses}
    refused: dict[str, str] = {}
    lowered = {a: a.lower() for a in addresses}
    suppressed = dict(
        Suppression.objects.filter(
            address__in=set(lowered.values()), removed_at__isnull=True
        ).values_list("address", "reason")
    )
    contacts, leads = people_with_addresses(addresses)
    contact_ids = set().union(*contacts.values()) if contacts else set()
    lead_ids = set().union(*leads.values()) if leads else set()
    contact_status: dict[int, str] = {}
    lead_status: dict[int, str] = {}
    base = ConsentState.objects.filter(purpose_id=purpose_id, channel=Channel.EMAIL)
    if contact_ids:
        contact_status = dict(
            base.filter(contact_id__in=contact_ids).values_list("contact_id", "status")
        )
    if lead_ids:
        lead_status = dict(base.filter(lead_id__in=lead_ids).values_list("lead_id", "status"))
    for address in addresses:
        key = lowered[address]
        if key in suppressed:
            refused[address] = f"suppressed ({suppressed[key].replace('_', ' ')})"
            continue
        statuses = [contact_status.get(pk, "") for pk in contacts.get(key, ())]
        statuses += [lead_status.get(pk, "") for pk in leads.get(key, ())]
        if not statuses:
            refused[address] = f"no consent for {purpose.name}: no contact or lead has this address"
        elif ConsentStatus.OPTED_OUT in statuses:
            refused[address] = f"opted out of {purpose.name}"
        elif ConsentStatus.OPTED_IN in statuses:
            continue
        elif ConsentStatus.PENDING in statuses:
            refused[address] = f"double opt-in for {purpose.name} not confirmed"
        else:
            refused[address] = f"never opted in to {purpose.name}"
    return refused

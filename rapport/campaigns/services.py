"""Writing campaigns: set-up, the audience snapshot, the dispatcher that hands recipients to
the mail outbox, pause / resume / cancel, the A/B decision, and the tracking hits.

The send guarantee (docs/architecture.md, "camp"):

1. `campaign_start` writes one `CampaignRecipient` per person of the audience (included
   segments minus excluded ones, one row per contact, the one marketing gate
   `rapport.mail.gate.blocked_addresses` asked for the whole audience: refused people are
   stored `excluded` with the gate's reason).
2. `dispatch_due` claims pending rows under a lease (SKIP LOCKED on PostgreSQL, one
   conditional UPDATE on SQLite, like the mail outbox) and, in ONE transaction per batch,
   re-checks that it still holds them (a fence), writes each one's outbox message with
   `queue_emails` (one MailMessage + Delivery each, a deterministic Message-ID) and marks the rows
   `queued` with their messages. A worker killed before the commit leaves the rows claimed; the
   lease runs out and another claim writes them once. After the commit the row has its one
   message and is never claimed again.
3. The outbox sends each Delivery once (rapport.mail.sender: lease, fence before the hand-over,
   mark after the 250) and asks the same gate again at send time; marketing messages carry the
   RFC 8058 headers there.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import random

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from jinja2 import TemplateError

from rapport.campaigns.models import (
    ABMetric,
    Campaign,
    CampaignKind,
    CampaignLink,
    CampaignRecipient,
    CampaignSend,
    CampaignStatus,
    CampaignVariant,
    RecipientState,
)
from rapport.mail.gate import blocked_addresses
from rapport.mail.models import Delivery, DeliveryState, Purpose
from rapport.mail.services import queue_emails
from rapport.records.dates import check_date_range
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.timeline.hooks import as_columns, events_written
from rapport.timeline.models import EventKind, TimelineEvent

log = logging.getLogger(__name__)

CAMPAIGN_FIELDS = (
    "name",
    "description",
    "kind",
    "utm_campaign",
    "cost",
    "currency",
    "starts_on",
    "ends_on",
    "owner",
)
SEND_FIELDS = (
    "template_id",
    "subject",
    "consent_purpose_id",
    "mailbox_id",
    "from_name",
    "send_at",
    "rate_per_minute",
    "track_opens",
    "track_clicks",
    "conversion_days",
    "ab_enabled",
    "ab_sample_percent",
    "ab_wait_minutes",
    "ab_metric",
    "webhook_event",
)
SNAPSHOT_CHUNK = 2000
ACTIVE = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)


def lease_seconds() -> int:
    return int(getattr(settings, "RAPPORT_CAMPAIGN_LEASE_SECONDS", 300))


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [message]}, code=code)


# ----- permissions ----------------------------------------------------------------------------


def can_change(campaign: Campaign, user) -> bool:
    if not user.is_authenticated or user.is_read_only:
        return False
    if user.is_admin or getattr(user, "role", "") == "manager":
        return True
    return user.pk in (campaign.owner_id, campaign.created_by_id)


def require_change(campaign: Campaign, actor) -> None:
    if not can_change(campaign, actor):
        raise PermissionDenied("Only its owner, its creator, a manager or an admin may do this")


# ----- set-up ---------------------------------------------------------------------------------


def _clean_campaign(fields: dict) -> dict:
    out = {k: v for k, v in fields.items() if k in CAMPAIGN_FIELDS}
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            raise _error("name", "A campaign needs a name.", "required")
    if "kind" in out and out["kind"] not in CampaignKind.values:
        raise _error("kind", f"must be one of {', '.join(CampaignKind.values)}")
    if "utm_campaign" in out:
        out["utm_campaign"] = (out["utm_campaign"] or "").strip() or None
    return out


def _clean_send(fields: dict) -> dict:
    out = {k: v for k, v in fields.items() if k in SEND_FIELDS}
    if "subject" in out and any(ch in (out["subject"] or "") for ch in "\r\n\x00"):
        raise _error("subject", "must not contain line breaks", "header_injection")
    if "from_name" in out and any(ch in (out["from_name"] or "") for ch in "\r\n\x00"):
        raise _error("from_name", "must not contain line breaks", "header_injection")
    if "rate_per_minute" in out and not (1 <= int(out["rate_per_minute"] or 0) <= 1_000_000):
        raise _error("rate_per_minute", "between 1 and 1,000,000 messages a minute")
    if "ab_sample_percent" in out and not (2 <= int(out["ab_sample_percent"] or 0) <= 100):
        raise _error("ab_sample_percent", "between 2 and 100 %")
    if "ab_metric" in out and out["ab_metric"] not in ABMetric.values:
        raise _error("ab_metric", f"must be one of {', '.join(ABMetric.values)}")
    from rapport.consent.models import ConsentPurpose
    from rapport.mail.models import EmailTemplate, Mailbox

    for key, model, label in (
        ("template_id", EmailTemplate, "template"),
        ("consent_purpose_id", ConsentPurpose, "consent purpose"),
        ("mailbox_id", Mailbox, "mailbox"),
    ):
        value = out.get(key)
        if value and not model.objects.filter(pk=value, active=True).exists():
            raise _error(key.removesuffix("_id"), f"unknown or inactive {label}")
    return out


def _set_segments(send: CampaignSend, include, exclude) -> None:
    from rapport.segments.models import Segment

    for name, ids in (("include_segments", include), ("exclude_segments", exclude)):
        if ids is None:
            continue
        ids = [int(i) for i in ids]
        found = set(Segment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise _error(name, f"unknown segment(s): {', '.join(map(str, missing))}")
        getattr(send, name).set(ids)


def _set_variants(campaign: Campaign, variants: list[dict] | None) -> None:
    if variants is None:
        return
    labels = [str(v.get("label") or "").strip() for v in variants]
    if len(set(labels)) != len(labels) or not all(labels):
        raise _error("variants", "each variant needs its own label")
    for v in variants:
        if any(ch in (v.get("subject") or "") for ch in "\r\n\x00"):
            raise _error("variants", "a variant's subject must not contain line breaks")
    campaign.variants.all().delete()
    CampaignVariant.objects.bulk_create(
        CampaignVariant(
            campaign=campaign,
            label=label,
            subject=v.get("subject") or "",
            body_text=v.get("body_text") or "",
            body_html=v.get("body_html") or "",
        )
        for label, v in zip(labels, variants, strict=True)
    )


def _check_templates(send: CampaignSend, campaign: Campaign) -> None:
    from rapport.mail.rendering import TemplateProblem, check_template

    sources = [("subject", send.subject, False)]
    for v in campaign.variants.all():
        sources += [("variants", v.subject, False), ("variants", v.body_text, False)]
        sources += [("variants", v.body_html, True)]
    for field, source, html in sources:
        try:
            check_template(source or "", html=html)
        except TemplateProblem as exc:
            raise _error(field, str(exc)) from exc


def _check_campaign_dates(fields: dict, send: dict | None) -> None:
    for name in ("starts_on", "ends_on"):
        check_date_range((fields or {}).get(name), name)
    check_date_range((send or {}).get("send_at"), "send.send_at")


def campaign_create(*, actor, fields: dict, send: dict | None = None) -> Campaign:
    """A new campaign (draft) with its send settings; `send` may name `include_segments`,
    `exclude_segments` (segment ids) and `variants` ([{label, subject, body_text, body_html}])."""
    _check_campaign_dates(fields, send)
    if actor.is_read_only:
        raise PermissionDenied("Read-only users cannot create campaigns")
    data = _clean_campaign(fields)
    if not data.get("name"):
        raise _error("name", "A campaign needs a name.", "required")
    send = dict(send or {})
    with transaction.atomic():
        if (
            data.get("utm_campaign")
            and Campaign.objects.filter(utm_campaign=data["utm_campaign"]).exists()
        ):
            raise _error("utm_campaign", "another campaign uses this utm_campaign", "unique")
        campaign = Campaign.objects.create(
            created_by=actor, owner=data.pop("owner", None) or actor, **data
        )
        settings_row = CampaignSend.objects.create(campaign=campaign, **_clean_send(send))
        _set_segments(settings_row, send.get("include_segments"), send.get("exclude_segments"))
        _set_variants(campaign, send.get("variants"))
        _check_templates(settings_row, campaign)
    return campaign


def send_settings(campaign: Campaign) -> CampaignSend:
    send = CampaignSend.objects.filter(campaign=campaign).first()
    return send or CampaignSend.objects.create(campaign=campaign)


def campaign_update(
    *,
    campaign: Campaign,
    actor,
    fields: dict,
    send: dict | None = None,
    expected_version: int | None = None,
) -> Campaign:
    _check_campaign_dates(fields, send)
    require_change(campaign, actor)
    send = dict(send or {})
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(current.version)
        data = _clean_campaign(fields)
        if "utm_campaign" in data and data["utm_campaign"]:
            clash = Campaign.objects.filter(utm_campaign=data["utm_campaign"]).exclude(
                pk=campaign.pk
            )
            if clash.exists():
                raise _error("utm_campaign", "another campaign uses this utm_campaign", "unique")
        send_fields = _clean_send(send)
        if current.status not in (CampaignStatus.DRAFT,) and (
            send_fields or "variants" in send or "include_segments" in send
        ):
            # Content, audience and sender are what the snapshot was taken with.
            allowed = {"rate_per_minute"}
            if set(send_fields) - allowed or "variants" in send or "include_segments" in send:
                raise Conflict(
                    "A started campaign keeps its audience and content; only the rate may change",
                    code="campaign_started",
                )
        for key, value in data.items():
            setattr(current, key, value)
        current.version = F("version") + 1
        current.save()
        row = send_settings(current)
        for key, value in send_fields.items():
            setattr(row, key, value)
        row.save()
        _set_segments(row, send.get("include_segments"), send.get("exclude_segments"))
        _set_variants(current, send.get("variants"))
        _check_templates(row, current)
    current.refresh_from_db()
    return current


def campaign_delete(*, campaign: Campaign, actor) -> None:
    require_change(campaign, actor)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
        raise Conflict("Only a draft or cancelled campaign can be deleted", code="campaign_started")
    campaign.delete()


# ----- the audience ---------------------------------------------------------------------------


def audience_contacts(send: CampaignSend):
    """The contacts of the included segments minus those of the excluded ones (live contacts,
    each once), ordered by id."""
    from rapport.accounts.models import Contact
    from rapport.segments.models import SegmentMember

    include = list(send.include_segments.values_list("pk", flat=True))
    exclude = list(send.exclude_segments.values_list("pk", flat=True))
    qs = Contact.objects.filter(
        deleted_at__isnull=True,
        pk__in=SegmentMember.objects.filter(segment_id__in=include).values("contact_id"),
    )
    if exclude:
        qs = qs.exclude(
            pk__in=SegmentMember.objects.filter(segment_id__in=exclude).values("contact_id")
        )
    return qs.order_by("pk")


def _check_startable(campaign: Campaign, send: CampaignSend) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict("This campaign was already started", code="campaign_started")
    if not send.include_segments.exists():
        raise _error("include_segments", "Choose at least one segment as the audience", "required")
    if campaign.kind == CampaignKind.EMAIL:
        if send.template_id is None and not campaign.variants.exists():
            raise _error("template", "An email campaign needs a template", "required")
        if send.consent_purpose_id is None:
            raise _error(
                "consent_purpose",
                "Marketing email needs the consent purpose recipients opted in to",
                "required",
            )
        if send.ab_enabled and campaign.variants.count() < 2:
            raise _error("variants", "An A/B test needs at least two variants", "required")


def campaign_start(*, campaign: Campaign, actor, now: datetime.datetime | None = None) -> Campaign:
    """Snapshot the audience (one recipient row per contact, the gate's refusals stored as
    excluded) and let the dispatcher send from `send_at` (now when empty). Direct mail and
    SMS campaigns are exported instead (and published to webhooks when asked)."""
    require_change(campaign, actor)
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        send = send_settings(campaign)
        _check_startable(campaign, send)
        counts = _snapshot(campaign, send)
        send.audience_count = counts["total"]
        send.excluded_count = counts["excluded"]
        send.started_at = now
        start_at = max(send.send_at or now, now)
        send.next_slot_at = start_at
        if campaign.kind == CampaignKind.EMAIL:
            if send.ab_enabled:
                send.ab_decide_at = start_at + datetime.timedelta(minutes=send.ab_wait_minutes)
            campaign.status = CampaignStatus.SCHEDULED if start_at > now else CampaignStatus.RUNNING
        else:
            send.finished_at = now
            campaign.status = CampaignStatus.COMPLETED
            if send.webhook_event:
                _publish_recipients(campaign)
        send.save()
        campaign.version = F("version") + 1
        campaign.save(update_fields=["status", "version", "updated_at"])
    campaign.refresh_from_db()
    if campaign.kind == CampaignKind.EMAIL:
        transaction.on_commit(_wake_dispatcher)
    return campaign


def _snapshot(campaign: Campaign, send: CampaignSend) -> dict[str, int]:
    """Write the recipient rows in chunks (a fixed number of queries per chunk)."""
    from rapport.imports.services.bulk_sql import BulkInsert

    total = excluded = 0
    email_kind = campaign.kind == CampaignKind.EMAIL
    variants = list(campaign.variants.all()) if send.ab_enabled else []
    rng = random.Random(campaign.pk)  # a reproducible sample
    sample_share = send.ab_sample_percent / 100 if variants else 0
    turn = 0
    qs = audience_contacts(send).values_list("pk", "email", "phone")
    chunk: list[tuple] = []

    def flush(rows):
        nonlocal total, excluded, turn
        blocked: dict[str, str] = {}
        if email_kind:
            addresses = [r[1] for r in rows if r[1]]
            blocked = blocked_addresses(addresses, Purpose.MARKETING, send.consent_purpose_id)
        out = []
        for pk, email, phone in rows:
            reason = ""
            if email_kind and not email:
                reason = "no email address"
            elif email_kind:
                reason = blocked.get(email, "")
            elif campaign.kind == CampaignKind.SMS and not phone:
                reason = "no phone number"
            recipient = CampaignRecipient(
                campaign=campaign, contact_id=pk, email=email or "", phone=phone or ""
            )
            if reason:
                recipient.state, recipient.excluded_reason = RecipientState.EXCLUDED, reason[:300]
                excluded += 1
            elif not email_kind:
                recipient.state = RecipientState.EXPORTED
            elif variants and rng.random() < sample_share:
                recipient.state = RecipientState.PENDING
                recipient.in_sample = True
                recipient.variant = variants[turn % len(variants)]
                turn += 1
            elif variants:
                recipient.state = RecipientState.HELD
            else:
                recipient.state = RecipientState.PENDING
            out.append(recipient)
        # One prepared multi-row insert (COPY on PostgreSQL) per chunk: `bulk_create`
        # compiled every value through the ORM, ~1 ms CPU a recipient.
        BulkInsert(CampaignRecipient).insert_objects(out)
        total += len(out)

    for row in qs.iterator(chunk_size=SNAPSHOT_CHUNK):
        chunk.append(row)
        if len(chunk) >= SNAPSHOT_CHUNK:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    return {"total": total, "excluded": excluded}


def _publish_recipients(campaign: Campaign) -> None:
    """Direct mail / SMS: one webhook event per 500 recipients (a print shop's or SMS
    gateway's endpoint subscribes to `campaign.recipients`)."""
    from rapport.webhooks.services import publish

    rows = CampaignRecipient.objects.filter(
        campaign=campaign, state=RecipientState.EXPORTED
    ).select_related("contact", "contact__account")
    batch, part = [], 0
    now = timezone.now()

    def flush():
        nonlocal part
        publish(
            "campaign.recipients",
            {"campaign_id": campaign.pk, "kind": campaign.kind, "part": part, "recipients": batch},
            event_id=f"campaign-{campaign.pk}-recipients-{part}",
            occurred_at=now,
        )
        part += 1

    from rapport.campaigns.exports import recipient_row

    for recipient in rows.iterator(chunk_size=500):
        batch.append(recipient_row(campaign, recipient))
        if len(batch) >= 500:
            flush()
            batch = []
    if batch:
        flush()


def _wake_dispatcher() -> None:
    try:
        from rapport.campaigns.tasks import campaign_dispatch_task
    except ImportError:  # pragma: no cover
        return
    campaign_dispatch_task.enqueue()


# ----- pause / resume / cancel ----------------------------------------------------------------


def _campaign_deliveries(campaign: Campaign):
    return Delivery.objects.filter(message__campaign_recipient__campaign=campaign)


def campaign_pause(*, campaign: Campaign, actor) -> Campaign:
    """Stop handing recipients to the outbox and take back the messages the outbox has not
    started sending (their rows wait, with their message, for the resume)."""
    require_change(campaign, actor)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in ACTIVE:
            raise Conflict("Only a scheduled or sending campaign can be paused", code="not_running")
        _campaign_deliveries(campaign).filter(state=DeliveryState.QUEUED).update(
            state=DeliveryState.CANCELLED, last_error="campaign paused"
        )
        campaign.status = CampaignStatus.PAUSED
        campaign.version = F("version") + 1
        campaign.save(update_fields=["status", "version", "updated_at"])
    campaign.refresh_from_db()
    return campaign


def campaign_resume(*, campaign: Campaign, actor, now=None) -> Campaign:
    require_change(campaign, actor)
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != CampaignStatus.PAUSED:
            raise Conflict("Only a paused campaign can be resumed", code="not_paused")
        send = send_settings(campaign)
        # The taken-back messages go out again, within the rate limit, from now.
        held = list(
            _campaign_deliveries(campaign)
            .filter(state=DeliveryState.CANCELLED, last_error="campaign paused")
            .order_by("id")
            .values_list("id", flat=True)
        )
        slot = max(send.next_slot_at or now, now) if held else None
        step = 60.0 / send.rate_per_minute
        for i, pk in enumerate(held):
            Delivery.objects.filter(pk=pk, state=DeliveryState.CANCELLED).update(
                state=DeliveryState.QUEUED,
                last_error="",
                next_attempt_at=slot + datetime.timedelta(seconds=i * step),
            )
        if held:
            send.next_slot_at = slot + datetime.timedelta(seconds=len(held) * step)
            send.save(update_fields=["next_slot_at"])
        start_at = send.send_at or now
        campaign.status = CampaignStatus.SCHEDULED if start_at > now else CampaignStatus.RUNNING
        campaign.version = F("version") + 1
        campaign.save(update_fields=["status", "version", "updated_at"])
    campaign.refresh_from_db()
    transaction.on_commit(_wake_dispatcher)
    return campaign


def campaign_cancel(*, campaign: Campaign, actor) -> Campaign:
    """Nobody else gets it: pending and held rows are cancelled, unsent messages withdrawn."""
    require_change(campaign, actor)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
            raise Conflict("This campaign has ended", code="campaign_ended")
        CampaignRecipient.objects.filter(
            campaign=campaign,
            state__in=(RecipientState.PENDING, RecipientState.HELD, RecipientState.CLAIMED),
        ).update(state=RecipientState.CANCELLED, claimed_by="", lease_expires_at=None)
        _campaign_deliveries(campaign).filter(state=DeliveryState.QUEUED).update(
            state=DeliveryState.CANCELLED, last_error="campaign cancelled"
        )
        _campaign_deliveries(campaign).filter(
            state=DeliveryState.CANCELLED, last_error="campaign paused"
        ).update(last_error="campaign cancelled")
        campaign.status = CampaignStatus.CANCELLED
        campaign.version = F("version") + 1
        campaign.save(update_fields=["status", "version", "updated_at"])
        send = send_settings(campaign)
        send.finished_at = timezone.now()
        send.save(update_fields=["finished_at"])
    campaign.refresh_from_db()
    return campaign


# ----- the dispatcher -------------------------------------------------------------------------


def _claimable(now) -> Q:
    return Q(state=RecipientState.PENDING) | Q(
        state=RecipientState.CLAIMED, lease_expires_at__lt=now
    )


def _claimable_ids(base, now, limit: int) -> list[int]:
    """Up to `limit` claimable recipients in id order: expired claims (a dispatcher died;
    few), then pending ones. Two statements on the (campaign, state, id) index, each
    stopping at `limit`: with one OR the database walked past every recipient already
    handled on every claim (O(N²) over a campaign)."""
    ids = list(
        base.filter(state=RecipientState.CLAIMED, lease_expires_at__lt=now)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    if len(ids) < limit:
        ids += (
            base.filter(state=RecipientState.PENDING)
            .order_by("id")
            .values_list("id", flat=True)[: limit - len(ids)]
        )
    return ids


def claim_recipients(*, campaign_id: int, claim_id: str, limit: int, now=None) -> list[int]:
    """Claim up to `limit` pending recipients of a campaign (the mail outbox's pattern)."""
    now = now or timezone.now()
    claim = {
        "state": RecipientState.CLAIMED,
        "claimed_by": claim_id,
        "lease_expires_at": now + datetime.timedelta(seconds=lease_seconds()),
    }
    base = CampaignRecipient.objects.filter(campaign_id=campaign_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            ids = _claimable_ids(base.select_for_update(skip_locked=True), now, limit)
            if ids:
                CampaignRecipient.objects.filter(id__in=ids).update(**claim)
            return ids
        candidates = _claimable_ids(base, now, limit)
        if not candidates:
            return []
        base.filter(_claimable(now), id__in=candidates).update(**claim)
        return list(
            base.filter(claimed_by=claim_id, state=RecipientState.CLAIMED).values_list(
                "id", flat=True
            )
        )


def _slots_free(send: CampaignSend, now) -> int:
    """How many recipients may be handed over now: the outbox is given at most one minute of
    sending ahead (so a pause takes back at most a minute's worth)."""
    horizon = now + datetime.timedelta(seconds=60)
    slot = max(send.next_slot_at or now, now)
    if slot >= horizon:
        return 0
    step = 60.0 / send.rate_per_minute
    return max(1, int((horizon - slot).total_seconds() / step))


def dispatch_campaign(campaign: Campaign, *, claim_id: str, batch: int = 200, now=None) -> int:
    """Hand up to `batch` recipients of one sending campaign to the outbox; returns how many."""
    from rapport.campaigns.rendering import Renderer
    from rapport.imports.services.bulk_sql import BulkInsert

    now = now or timezone.now()
    send = send_settings(campaign)
    free = min(batch, _slots_free(send, now))
    if free <= 0:
        return 0
    ids = claim_recipients(campaign_id=campaign.pk, claim_id=claim_id, limit=free, now=now)
    if not ids:
        return 0
    renderer = Renderer(campaign, send)
    with transaction.atomic():
        # Lock the campaign row: its status (a pause in between stops us) and the rate cursor.
        locked = Campaign.objects.select_for_update().filter(pk=campaign.pk, status__in=ACTIVE)
        if not locked.exists():
            CampaignRecipient.objects.filter(id__in=ids, claimed_by=claim_id).update(
                state=RecipientState.PENDING, claimed_by="", lease_expires_at=None
            )
            return 0
        send.refresh_from_db(fields=["next_slot_at", "rate_per_minute"])
        # The fence: the rows this claim still holds (a row whose lease ran out may have been
        # claimed by another worker; it is theirs now).
        rows = list(
            CampaignRecipient.objects.filter(
                id__in=ids, claimed_by=claim_id, state=RecipientState.CLAIMED
            )
            .select_related("contact", "contact__account", "variant")
            .order_by("id")
        )
        if connection.vendor == "postgresql" and rows:
            list(
                CampaignRecipient.objects.select_for_update()
                .filter(id__in=[r.id for r in rows], claimed_by=claim_id)
                .values_list("id", flat=True)
            )
        step = datetime.timedelta(seconds=60.0 / send.rate_per_minute)
        slot = max(send.next_slot_at or now, now)
        outgoing = []
        for recipient in rows:
            outgoing.append(renderer.outgoing(recipient, send_at=slot))
            slot += step
        # The whole batch in a fixed number of queries (one insert per table, one fenced
        # update of the recipients): per-recipient statements made a campaign message cost
        # several times a plain outbox mail (bench/bench_campaign_send.py).
        messages = queue_emails(outgoing)
        updated = _mark_queued(
            [(r.id, m.pk) for r, m in zip(rows, messages, strict=True)], claim_id=claim_id, now=now
        )
        if updated != len(rows):  # lost a claim inside our own transaction: undo everything
            raise Conflict("claim lost", code="claim_lost")
        events = [
            TimelineEvent(
                kind=EventKind.CAMPAIGN_SENT,
                occurred_at=now,
                summary=f"Campaign email: {message.subject}"[:300],
                payload={"campaign_id": campaign.pk, "message_id": message.pk},
                contact_id=recipient.contact_id,
                account_id=recipient.contact.account_id if recipient.contact else None,
                campaign_id=campaign.pk,
            )
            for recipient, message in zip(rows, messages, strict=True)
        ]
        BulkInsert(TimelineEvent).insert_objects(events)
        events_written([as_columns(e) for e in events])
        CampaignSend.objects.filter(pk=send.pk).update(next_slot_at=slot)
    return len(rows)


def _mark_queued(pairs: list[tuple[int, int]], *, claim_id: str, now) -> int:
    """Mark each (recipient id, message id) queued with its message, only where this claim
    still holds the row (the fence); returns how many rows it marked. One statement: an
    `UPDATE … FROM (VALUES …)` (PostgreSQL, SQLite ≥ 3.33) costs a fraction of the ORM's
    CASE with one WHEN per row."""
    if not pairs:
        return 0
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    values = ", ".join(["(%s, %s)"] * len(pairs))
    # Only the quoted table name and placeholders are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET state = %s, message_id = v.column2, queued_at = %s, "  # noqa: S608
        f"claimed_by = '', lease_expires_at = NULL FROM (VALUES {values}) AS v "
        f"WHERE {table}.id = v.column1 AND {table}.claimed_by = %s AND {table}.state = %s"
    )
    queued_at = connection.ops.adapt_datetimefield_value(now)
    params = [str(RecipientState.QUEUED), queued_at, *(x for pair in pairs for x in pair)]
    params += [claim_id, str(RecipientState.CLAIMED)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _finish_if_done(campaign: Campaign) -> None:
    left = CampaignRecipient.objects.filter(
        campaign=campaign,
        state__in=(RecipientState.PENDING, RecipientState.CLAIMED, RecipientState.HELD),
    )
    if left.exists():
        return
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.COMPLETED, version=F("version") + 1
        )
        if updated:
            CampaignSend.objects.filter(campaign=campaign).update(finished_at=timezone.now())


def dispatch_due(*, batch: int = 200, max_batches: int = 50, now=None) -> int:
    """One pass of the dispatcher over every sending campaign: scheduled ones whose time came
    start, A/B tests whose wait is over pick their winner, pending recipients go to the
    outbox (rate-limited), finished campaigns complete. Returns how many were handed over."""
    from rapport.mail.sender import new_claim_id

    now = now or timezone.now()
    Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send__send_at__lte=now).update(
        status=CampaignStatus.RUNNING
    )
    ab_decide_due(now=now)
    total = 0
    for campaign in Campaign.objects.filter(status=CampaignStatus.RUNNING, kind=CampaignKind.EMAIL):
        for _ in range(max_batches):
            try:
                handed = dispatch_campaign(campaign, claim_id=new_claim_id(), batch=batch, now=now)
            except Conflict:
                handed = 0
            total += handed
            if handed < batch:
                break
        _finish_if_done(campaign)
    return total


# ----- A/B test -------------------------------------------------------------------------------


def variant_stats(campaign: Campaign) -> list[dict]:
    """Per variant of the sample: recipients, opened, clicked and the rates."""
    from django.db.models import Count

    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, in_sample=True)
        .values("variant_id")
        .annotate(
            n=Count("id"),
            opened=Count("id", filter=Q(opened_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
        )
    )
    by_variant = {r["variant_id"]: r for r in rows}
    out = []
    for variant in campaign.variants.all():
        r = by_variant.get(variant.pk, {"n": 0, "opened": 0, "clicked": 0})
        n = r["n"]
        out.append(
            {
                "variant": variant,
                "id": variant.pk,
                "label": variant.label,
                "recipients": n,
                "opened": r["opened"],
                "clicked": r["clicked"],
                "open_rate": (r["opened"] / n) if n else 0.0,
                "click_rate": (r["clicked"] / n) if n else 0.0,
            }
        )
    return out


def pick_winner(campaign: Campaign, metric: str) -> CampaignVariant | None:
    """The variant with the best rate for `metric`; ties go to the other rate, then the
    first label."""
    stats = variant_stats(campaign)
    if not stats:
        return None
    other = "click_rate" if metric == ABMetric.OPEN_RATE else "open_rate"
    best = max(stats, key=lambda s: (s[metric], s[other], [-ord(c) for c in s["label"]]))
    return best["variant"]


def _release_rest(campaign: Campaign, variant: CampaignVariant, chosen_by: str) -> None:
    CampaignRecipient.objects.filter(campaign=campaign, state=RecipientState.HELD).update(
        state=RecipientState.PENDING, variant=variant
    )
    CampaignSend.objects.filter(campaign=campaign).update(
        winner=variant, winner_chosen_by=chosen_by
    )


def ab_decide_due(*, now=None) -> int:
    """Pick the winner of every A/B test whose wait is over (by its metric)."""
    now = now or timezone.now()
    decided = 0
    due = CampaignSend.objects.filter(
        ab_enabled=True,
        winner__isnull=True,
        ab_decide_at__lte=now,
        campaign__status=CampaignStatus.RUNNING,
    ).select_related("campaign")
    for send in due:
        with transaction.atomic():
            locked = (
                CampaignSend.objects.select_for_update()
                .filter(pk=send.pk, winner__isnull=True)
                .first()
            )
            if locked is None:
                continue
            variant = pick_winner(send.campaign, send.ab_metric)
            if variant is not None:
                _release_rest(send.campaign, variant, "metric")
                decided += 1
    return decided


def ab_choose_winner(*, campaign: Campaign, variant_id: int, actor) -> Campaign:
    """Manual override: send `variant` to the rest now."""
    require_change(campaign, actor)
    with transaction.atomic():
        send = CampaignSend.objects.select_for_update().get(campaign=campaign)
        if not send.ab_enabled:
            raise Conflict("This campaign has no A/B test", code="no_ab_test")
        if send.winner_id is not None:
            raise Conflict("The winner was already chosen", code="winner_chosen")
        variant = campaign.variants.filter(pk=variant_id).first()
        if variant is None:
            raise _error("variant_id", "not a variant of this campaign")
        _release_rest(campaign, variant, "manual")
    transaction.on_commit(_wake_dispatcher)
    campaign.refresh_from_db()
    return campaign


# ----- tracking -------------------------------------------------------------------------------


def link_for(campaign: Campaign, url: str) -> CampaignLink:
    digest = hashlib.sha256(url.encode()).hexdigest()
    link = CampaignLink.objects.filter(campaign=campaign, url_hash=digest).first()
    if link is None:
        link, _ = CampaignLink.objects.get_or_create(
            campaign=campaign, url_hash=digest, defaults={"url": url}
        )
    return link


def _event(recipient: CampaignRecipient, kind: str, summary: str, payload: dict) -> None:
    contact = recipient.contact
    event = TimelineEvent.objects.create(
        kind=kind,
        occurred_at=timezone.now(),
        summary=summary[:300],
        payload=payload,
        contact_id=recipient.contact_id,
        account_id=contact.account_id if contact else None,
        campaign_id=recipient.campaign_id,
    )
    events_written([as_columns(event)])


def record_open(recipient: CampaignRecipient) -> None:
    """An open (the pixel was loaded): counted each time, on the timeline the first time."""
    now = timezone.now()
    with transaction.atomic():
        first = CampaignRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(
            opened_at=now, open_count=F("open_count") + 1
        )
        if not first:
            CampaignRecipient.objects.filter(pk=recipient.pk).update(open_count=F("open_count") + 1)
            return
        _event(
            recipient,
            EventKind.EMAIL_OPENED,
            f"Opened campaign email: {recipient.campaign.name}",
            {"campaign_id": recipient.campaign_id},
        )


def record_click(recipient: CampaignRecipient, link: CampaignLink) -> None:
    """A click through a tracked link (a click also proves the message was opened)."""
    now = timezone.now()
    with transaction.atomic():
        CampaignRecipient.objects.filter(pk=recipient.pk, clicked_at__isnull=True).update(
            clicked_at=now
        )
        CampaignRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(
            opened_at=now
        )
        CampaignRecipient.objects.filter(pk=recipient.pk).update(click_count=F("click_count") + 1)
        CampaignLink.objects.filter(pk=link.pk).update(clicks=F("clicks") + 1)
        _event(
            recipient,
            EventKind.EMAIL_CLICKED,
            f"Clicked a link in campaign email: {recipient.campaign.name}",
            {"campaign_id": recipient.campaign_id, "url": link.url[:500]},
        )


# ----- preview --------------------------------------------------------------------------------


def preview(campaign: Campaign, contact, variant: CampaignVariant | None = None) -> dict:
    """The message `contact` would get (merge fields filled, links and pixel as sent)."""
    from rapport.campaigns.rendering import Renderer
    from rapport.mail.rendering import TemplateProblem

    send = send_settings(campaign)
    try:
        return Renderer(campaign, send, dry_run=True).render(
            CampaignRecipient(
                id=0,
                campaign=campaign,
                contact=contact,
                email=contact.email or "",
                variant=variant,
            )
        )
    except (TemplateProblem, TemplateError) as exc:
        return {"subject": "", "text": "", "html": "", "error": str(exc)}

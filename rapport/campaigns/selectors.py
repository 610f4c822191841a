"""Reads of campaigns: definitions are visible to every signed-in user (like segments); the
recipient list ("who got it") is intersected with the contacts the reader may see; the report
counts the whole campaign."""

from __future__ import annotations

import datetime

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Lower, TruncDate

from rapport.campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignSend,
    RecipientState,
)
from rapport.records.exceptions import RecordNotFound

# What "who got it" filters by: the recipient's own state, refined by its delivery's.
STATUS_CHOICES = [
    ("excluded", "Excluded"),
    ("held", "Waiting for the A/B winner"),
    ("pending", "Pending"),
    ("queued", "In the outbox"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("exported", "Exported"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
]


def campaigns_for(user) -> QuerySet[Campaign]:
    return Campaign.objects.select_related("owner", "created_by", "send").order_by(
        "-created_at", "-id"
    )


def campaign_get_for_user(*, pk: int, user) -> Campaign:
    campaign = campaigns_for(user).filter(pk=pk).first()
    if campaign is None:
        raise RecordNotFound("campaign")
    return campaign


def send_of(campaign: Campaign) -> CampaignSend | None:
    try:
        return campaign.send
    except CampaignSend.DoesNotExist:
        return None


def _with_status(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        delivery_state=F("message__delivery__state"),
        status=Case(
            When(state=RecipientState.QUEUED, message__delivery__state="sent", then=Value("sent")),
            When(
                state=RecipientState.QUEUED, message__delivery__state="failed", then=Value("failed")
            ),
            When(
                state=RecipientState.QUEUED,
                message__delivery__state="cancelled",
                then=Value("cancelled"),
            ),
            When(state=RecipientState.CLAIMED, then=Value("pending")),
            default=F("state"),
            output_field=CharField(),
        ),
    )


def recipients_visible(*, campaign: Campaign, user, status: str = "") -> QuerySet:
    """Who got it: the campaign's recipients whose contact `user` may see, each with its
    `status` (pending, queued, sent, failed, excluded…), filtered by `status` when given."""
    from rapport.accounts.selectors import contacts_visible_to

    qs = CampaignRecipient.objects.filter(campaign=campaign)
    if not user.is_admin:
        qs = qs.filter(contact__in=contacts_visible_to(user).values("pk"))
    qs = _with_status(qs).select_related("contact", "variant")
    if status == "opened":
        qs = qs.filter(opened_at__isnull=False)
    elif status == "clicked":
        qs = qs.filter(clicked_at__isnull=False)
    elif status:
        qs = qs.filter(status=status)
    return qs.order_by("id")


def _bounced_q():
    from rapport.mail.models import AddressStatus

    return Exists(
        AddressStatus.objects.filter(
            address=Lower(OuterRef("email")), last_bounce_at__gte=OuterRef("queued_at")
        )
    )


def _unsubscribed_q(send: CampaignSend):
    from rapport.consent.models import ConsentAction, ConsentRecord

    return Exists(
        ConsentRecord.objects.filter(
            contact_id=OuterRef("contact_id"),
            purpose_id=send.consent_purpose_id or 0,
            action=ConsentAction.OPT_OUT,
            occurred_at__gte=OuterRef("queued_at"),
        )
    )


def _converted_q(days: int):
    from rapport.orders.models import Order, OrderStatus
    from rapport.sales.models import Opportunity, StageKind

    end = ExpressionWrapper(
        OuterRef("clicked_at") + datetime.timedelta(days=days), output_field=DateTimeField()
    )
    order = Order.objects.filter(
        contact_id=OuterRef("contact_id"),
        ordered_at__gte=OuterRef("clicked_at"),
        ordered_at__lte=end,
    ).exclude(status__in=(OrderStatus.CANCELLED, OrderStatus.REFUNDED))
    won = Opportunity.objects.filter(
        primary_contact_id=OuterRef("contact_id"),
        stage__kind=StageKind.WON,
        closed_at__gte=OuterRef("clicked_at"),
        closed_at__lte=end,
    )
    return Exists(order) | Exists(won)


def report(campaign: Campaign) -> dict:
    """Sent, delivered, bounced, opened, clicked, unsubscribed and converted (an order or a won
    opportunity of the contact within the campaign's conversion window after a click), the
    rates, the A/B variants and the opens/clicks per day."""
    send = send_of(campaign)
    base = CampaignRecipient.objects.filter(campaign=campaign)
    days = send.conversion_days if send else 30
    queued = base.filter(state=RecipientState.QUEUED)
    sent_q = Q(state=RecipientState.QUEUED, message__delivery__state="sent")
    totals = base.aggregate(
        audience=Count("id"),
        excluded=Count("id", filter=Q(state=RecipientState.EXCLUDED)),
        pending=Count(
            "id",
            filter=Q(
                state__in=(RecipientState.PENDING, RecipientState.CLAIMED, RecipientState.HELD)
            ),
        ),
        queued=Count("id", filter=Q(state=RecipientState.QUEUED)),
        sent=Count("id", filter=sent_q),
        failed=Count(
            "id", filter=Q(state=RecipientState.QUEUED, message__delivery__state="failed")
        ),
        exported=Count("id", filter=Q(state=RecipientState.EXPORTED)),
        opened=Count("id", filter=Q(opened_at__isnull=False)),
        clicked=Count("id", filter=Q(clicked_at__isnull=False)),
    )
    bounced = queued.filter(_bounced_q()).count() if totals["queued"] else 0
    unsubscribed = (
        queued.filter(_unsubscribed_q(send)).count()
        if send and send.consent_purpose_id and totals["queued"]
        else 0
    )
    converted = (
        base.filter(clicked_at__isnull=False).filter(_converted_q(days)).count()
        if totals["clicked"]
        else 0
    )
    bounced_failed = totals["failed"]
    delivered = max(totals["sent"] - bounced, 0)
    sent = totals["sent"]

    def rate(n, d):
        return (n / d) if d else 0.0

    out = {
        **totals,
        "bounced": bounced + bounced_failed,
        "delivered": delivered,
        "unsubscribed": unsubscribed,
        "converted": converted,
        "conversion_days": days,
        "delivery_rate": rate(delivered, sent),
        "open_rate": rate(totals["opened"], delivered),
        "click_rate": rate(totals["clicked"], delivered),
        "click_to_open_rate": rate(totals["clicked"], totals["opened"]),
        "unsubscribe_rate": rate(unsubscribed, delivered),
        "conversion_rate": rate(converted, totals["clicked"]),
    }
    out["excluded_reasons"] = list(
        base.filter(state=RecipientState.EXCLUDED)
        .values("excluded_reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:10]
    )
    out["daily"] = _daily(base)
    if send is not None and send.ab_enabled:
        from rapport.campaigns.services import variant_stats

        out["variants"] = variant_stats(campaign)
        out["winner_id"] = send.winner_id
        out["winner_chosen_by"] = send.winner_chosen_by
    else:
        out["variants"] = []
        out["winner_id"] = None
        out["winner_chosen_by"] = ""
    return out


def _daily(base: QuerySet) -> list[dict]:
    """First opens and first clicks per day."""
    opens = dict(
        base.filter(opened_at__isnull=False)
        .annotate(day=TruncDate("opened_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    clicks = dict(
        base.filter(clicked_at__isnull=False)
        .annotate(day=TruncDate("clicked_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    days = sorted(set(opens) | set(clicks))
    return [{"day": d, "opened": opens.get(d, 0), "clicked": clicks.get(d, 0)} for d in days]


def link_stats(campaign: Campaign) -> QuerySet:
    return campaign.links.order_by("-clicks", "id")

"""Quote writes: create from an opportunity, revise, approve, send (PDF attached, through the
one mail outbox) and the customer's decision through a signed link."""

import datetime
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rapport.identity.models import Role, User
from rapport.quotes.models import Quote, QuoteLine, QuoteNumber, QuoteStatus, TaxRate
from rapport.quotes.totals import line_amounts, quote_amounts
from rapport.records.exceptions import StaleVersion
from rapport.records.services import require_editable
from rapport.records.visibility import managed_team_ids
from rapport.sales.models import LineItem, Opportunity, StageKind
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

log = logging.getLogger(__name__)

DECISION_SALT = "rapport.quotes.decision"
OPEN_STATUSES = (
    QuoteStatus.DRAFT,
    QuoteStatus.PENDING_APPROVAL,
    QuoteStatus.APPROVED,
    QuoteStatus.SENT,
)


def approval_threshold() -> Decimal:
    """A line discounted by more than this percentage needs a manager's approval."""
    return Decimal(str(getattr(settings, "RAPPORT_QUOTE_APPROVAL_DISCOUNT", 15)))


def default_validity_days() -> int:
    return int(getattr(settings, "RAPPORT_QUOTE_VALID_DAYS", 30))


def tax_rate_for(product, country: str, rates: list[TaxRate] | None = None) -> TaxRate | None:
    """The most specific rate: product+country, product, category+country, category,
    country, default."""
    if rates is None:
        rates = list(TaxRate.objects.all())
    country = (country or "").upper()
    category = getattr(product, "category", "") or ""
    product_id = getattr(product, "pk", None)

    def rank(rate: TaxRate) -> int | None:
        if rate.country and rate.country != country:
            return None
        if rate.product_id is not None:
            return None if rate.product_id != product_id else (0 if rate.country else 1)
        if rate.product_category:
            if rate.product_category != category:
                return None
            return 2 if rate.country else 3
        return 4 if rate.country else 5

    ranked = [(r, rate) for rate in rates if (r := rank(rate)) is not None]
    return min(ranked, key=lambda pair: (pair[0], pair[1].pk))[1] if ranked else None


def _next_number() -> str:
    counter, _ = QuoteNumber.objects.select_for_update().get_or_create(pk=1)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"Q-{timezone.localdate().year}-{counter.last:05d}"


def _build_lines(quote: Quote, opportunity: Opportunity) -> None:
    items = list(
        LineItem.objects.filter(opportunity=opportunity)
        .select_related("product")
        .order_by("position", "id")
    )
    if not items:
        raise ValidationError(
            {"opportunity_id": ["The opportunity has no line items to quote"]}, code="no_lines"
        )
    rates = list(TaxRate.objects.all())
    rows, amounts = [], []
    for i, item in enumerate(items):
        rate = tax_rate_for(item.product, quote.country, rates)
        tax_rate = rate.rate if rate else Decimal("0")
        a = line_amounts(
            quantity=item.quantity,
            list_price=item.unit_price,
            discount_percent=item.discount_percent,
            tax_rate=tax_rate,
        )
        amounts.append((item.quantity, item.unit_price, a))
        rows.append(
            QuoteLine(
                quote=quote,
                position=i,
                product=item.product,
                description=item.product.name[:200],
                quantity=item.quantity,
                list_price=item.unit_price,
                discount_percent=item.discount_percent,
                unit_price=a.unit_price,
                net=a.net,
                tax_rate=tax_rate,
                tax_name=rate.name if rate else "",
                tax=a.tax,
                total=a.total,
            )
        )
    QuoteLine.objects.bulk_create(rows)
    totals = quote_amounts(amounts)
    quote.subtotal, quote.discount_total = totals.subtotal, totals.discount_total
    quote.tax_total, quote.total = totals.tax_total, totals.total
    quote.max_discount_percent = max(item.discount_percent for item in items)
    quote.needs_approval = quote.max_discount_percent > approval_threshold()
    quote.status = QuoteStatus.PENDING_APPROVAL if quote.needs_approval else QuoteStatus.APPROVED
    quote.save()


def _event(quote: Quote, actor, summary: str, **payload: Any) -> None:
    timeline_record(
        subject=quote.opportunity,
        kind=EventKind.QUOTE,
        actor=actor,
        summary=summary,
        payload={"quote_id": quote.pk, "number": quote.number, "revision": quote.revision}
        | payload,
    )


def _check_dates(valid_until: datetime.date | None) -> datetime.date:
    today = timezone.localdate()
    if valid_until is None:
        return today + datetime.timedelta(days=default_validity_days())
    if valid_until < today or valid_until.year > 2200:
        raise ValidationError({"valid_until": ["Must be today or later"]}, code="invalid_date")
    return valid_until


def quote_create(
    *,
    opportunity: Opportunity,
    actor: User,
    valid_until: datetime.date | None = None,
    terms: str = "",
) -> Quote:
    """A new quote (next number, revision 1) from the opportunity's line items. The caller
    has checked the opportunity is visible; the actor must be able to edit it."""
    require_editable(opportunity, actor)
    valid_until = _check_dates(valid_until)
    account = opportunity.account
    with transaction.atomic():
        quote = Quote(
            opportunity=opportunity,
            number=_next_number(),
            currency=opportunity.currency,
            country=(account.country if account else "") or "",
            valid_until=valid_until,
            terms=terms or getattr(settings, "RAPPORT_QUOTE_TERMS", ""),
            created_by=actor,
        )
        quote.save()
        _build_lines(quote, opportunity)
        _event(quote, actor, f"Quote {quote.label} created ({quote.total} {quote.currency})")
    return quote


def quote_revise(*, quote: Quote, actor: User) -> Quote:
    """A new version (same number, next revision) from the opportunity's current lines; the
    open earlier version is superseded (its decision link stops working)."""
    require_editable(quote.opportunity, actor)
    with transaction.atomic():
        current = Quote.objects.select_for_update().get(pk=quote.pk)
        if current.status == QuoteStatus.ACCEPTED:
            raise ValidationError({"status": ["An accepted quote cannot be revised"]})
        last = Quote.objects.filter(number=current.number).order_by("-revision").first().revision
        Quote.objects.filter(number=current.number, status__in=OPEN_STATUSES).update(
            status=QuoteStatus.SUPERSEDED, version=current.version + 1
        )
        new = Quote(
            opportunity=current.opportunity,
            number=current.number,
            revision=last + 1,
            currency=current.opportunity.currency,
            country=current.country,
            valid_until=max(current.valid_until, _check_dates(None)),
            terms=current.terms,
            created_by=actor,
        )
        new.save()
        _build_lines(new, current.opportunity)
        _event(new, actor, f"Quote {new.label} created, replacing v{current.revision}")
    return new


def can_approve(quote: Quote, user: User) -> bool:
    if not user.is_authenticated:
        return False
    if user.role == Role.ADMIN:
        return True
    team_id = quote.opportunity.team_id
    return user.role == Role.MANAGER and team_id is not None and team_id in managed_team_ids(user)


def _transition(
    quote: Quote, expected: tuple[str, ...], changes: dict[str, Any], version: int | None
) -> Quote:
    """One conditional UPDATE: the quote moves only from an expected status (and version)."""
    filters = Q(pk=quote.pk, status__in=expected)
    if version is not None:
        filters &= Q(version=version)
    updated = Quote.objects.filter(filters).update(version=quote.version + 1, **changes)
    if not updated:
        fresh = Quote.objects.get(pk=quote.pk)
        if version is not None and fresh.version != version:
            raise StaleVersion(fresh.version)
        raise ValidationError(
            {"status": [f"The quote is {fresh.get_status_display().lower()}"]}, code="bad_status"
        )
    quote.refresh_from_db()
    return quote


def quote_approve(*, quote: Quote, actor: User, expected_version: int | None = None) -> Quote:
    if not can_approve(quote, actor):
        raise PermissionDenied("Only the team's manager or an admin can approve this discount")
    with transaction.atomic():
        _transition(
            quote,
            (QuoteStatus.PENDING_APPROVAL,),
            {"status": QuoteStatus.APPROVED, "approved_by": actor, "approved_at": timezone.now()},
            expected_version,
        )
        _event(
            quote, actor, f"Quote {quote.label} approved (discount {quote.max_discount_percent} %)"
        )
    return quote


def decision_token(quote: Quote) -> str:
    """Stable for a quote version (no timestamp: the quote's own validity date limits it)."""
    return signing.Signer(salt=DECISION_SALT).sign_object(
        {"q": quote.pk, "r": quote.revision}, compress=True
    )


def quote_for_token(token: str) -> Quote | None:
    """The quote a decision link names, or None for a tampered or unknown link."""
    try:
        data = signing.Signer(salt=DECISION_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    quote = Quote.objects.select_related("opportunity").filter(pk=data.get("q")).first()
    if quote is None or quote.revision != data.get("r"):
        return None
    return quote


def decision_url(quote: Quote) -> str:
    from django.urls import reverse

    base = getattr(settings, "RAPPORT_BASE_URL", "").rstrip("/")
    return base + reverse("quotes_public:decide", args=[decision_token(quote)])


def quote_send(
    *, quote: Quote, actor: User, to: str, message: str = "", expected_version: int | None = None
) -> Quote:
    """Render the PDF, keep it on the opportunity and email it with the decision link
    through the outbox; an approved (or already sent) quote only."""
    from rapport.files.models import FileKind
    from rapport.files.services import store_file
    from rapport.mail.config_services import send_from_record
    from rapport.quotes.pdf import render_pdf

    require_editable(quote.opportunity, actor)
    if quote.status not in (QuoteStatus.APPROVED, QuoteStatus.SENT):
        if quote.status == QuoteStatus.PENDING_APPROVAL:
            raise ValidationError({"status": ["A manager must approve the discount first"]})
        raise ValidationError({"status": [f"The quote is {quote.get_status_display().lower()}"]})
    if quote.valid_until < timezone.localdate():
        raise ValidationError({"valid_until": ["The quote has expired; make a new version"]})
    pdf_bytes = render_pdf(quote)
    link = decision_url(quote)
    text = (
        (message.strip() + "\n\n" if message.strip() else "")
        + f"Please find our quote {quote.label} attached "
        + f"({quote.total} {quote.currency}, valid until {quote.valid_until:%d %b %Y}).\n\n"
        + f"Accept or decline it here: {link}\n"
    )
    with transaction.atomic():
        stored = store_file(
            pdf_bytes,
            name=f"{quote.number}-v{quote.revision}.pdf",
            content_type="application/pdf",
            kind=FileKind.RECORD,
            uploaded_by=actor,
            opportunity_id=quote.opportunity_id,
        )
        send_from_record(
            actor=actor,
            record=quote.opportunity,
            to=[to],
            subject=f"Quote {quote.label}: {quote.opportunity.name}",
            text=text,
            files=[stored],
        )
        _transition(
            quote,
            (QuoteStatus.APPROVED, QuoteStatus.SENT),
            {"status": QuoteStatus.SENT, "sent_at": timezone.now(), "sent_to": to, "pdf": stored},
            expected_version,
        )
        _event(quote, actor, f"Quote {quote.label} sent to {to}", to=to)
    return quote


def _won_stage(opportunity: Opportunity):
    return opportunity.pipeline.stages.filter(kind=StageKind.WON).order_by("position", "id").first()


def quote_decide(*, quote: Quote, accept: bool, ip: str | None = None, note: str = "") -> Quote:
    """The customer's answer through the signed link: once, on a sent and unexpired quote.
    Accepting moves the opportunity to its pipeline's won stage and creates the order (the
    quote's net lines), both as the opportunity's owner."""
    from rapport.orders.services import order_create
    from rapport.sales.services.opportunities import opportunity_move_stage

    if quote.status != QuoteStatus.SENT:
        raise ValidationError({"status": [f"This quote is {quote.get_status_display().lower()}"]})
    if quote.valid_until < timezone.localdate():
        raise ValidationError({"valid_until": ["This quote has expired"]})
    status = QuoteStatus.ACCEPTED if accept else QuoteStatus.DECLINED
    with transaction.atomic():
        _transition(
            quote,
            (QuoteStatus.SENT,),
            {
                "status": status,
                "decided_at": timezone.now(),
                "decided_ip": ip,
                "decision_note": note[:500],
            },
            None,
        )
        opportunity = Opportunity.all_objects.get(pk=quote.opportunity_id)
        owner = opportunity.owner
        verb = "accepted" if accept else "declined"
        timeline_record(
            subject=opportunity,
            kind=EventKind.QUOTE,
            actor=None,
            summary=f"The customer {verb} quote {quote.label}",
            payload={
                "quote_id": quote.pk,
                "number": quote.number,
                "decision": verb,
                "note": note[:500],
            },
        )
        if not accept:
            return quote
        stage = _won_stage(opportunity)
        if stage is not None and opportunity.stage_id != stage.pk:
            opportunity_move_stage(opportunity=opportunity, stage=stage, actor=owner)
        lines = [
            {
                "product_id": line.product_id,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
            for line in quote.lines.all()
        ]
        account = opportunity.account
        contact = opportunity.primary_contact
        if contact is not None and account is not None and contact.account_id != account.pk:
            contact = None
        try:
            with transaction.atomic():
                order = order_create(
                    actor=owner,
                    fields={
                        "ordered_at": timezone.now(),
                        "currency": quote.currency,
                        "source": "quote",
                        "external_id": f"{quote.number}-v{quote.revision}",
                    },
                    lines=lines,
                    account=account,
                    contact=contact,
                )
        except (PermissionDenied, ValidationError) as exc:
            log.warning("Quote %s accepted but no order was created: %s", quote.pk, exc)
            Quote.objects.filter(pk=quote.pk).update(
                decision_note=(quote.decision_note + " [no order: owner may not add orders]")[:500]
            )
        else:
            Quote.objects.filter(pk=quote.pk).update(order=order)
            quote.order = order
    return quote


def tax_rate_create(*, actor: User, fields: dict[str, Any]) -> TaxRate:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins manage tax rates")
    rate = TaxRate(
        name=(fields.get("name") or "").strip(),
        rate=fields.get("rate"),
        country=(fields.get("country") or "").upper(),
        product_id=fields.get("product_id"),
        product_category=(fields.get("product_category") or "").strip(),
    )
    rate.full_clean()
    rate.save()
    return rate


def tax_rate_delete(*, actor: User, rate: TaxRate) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins manage tax rates")
    rate.delete()

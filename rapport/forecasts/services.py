"""Forecast writes: quotas (admins and the managers above), a user's own commit, the
forecast category of an opportunity (its editors; each change on the timeline)."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.forecasts.access import require_quota_setter
from rapport.forecasts.models import Category, ForecastSubmission, OpportunityCategory, Quota
from rapport.forecasts.periods import Period
from rapport.identity.models import User
from rapport.records.exceptions import PermissionDenied
from rapport.records.services import require_editable
from rapport.sales.models import Opportunity
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record

MAX_AMOUNT = Decimal("99999999999999.99")


def clean_amount(value, *, field: str = "amount") -> Decimal:
    """A non-negative amount with at most two decimals, or a ValidationError on `field`."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: ["Enter a number"]}, code="invalid") from None
    if not amount.is_finite():
        raise ValidationError({field: ["Enter a number"]}, code="invalid")
    if amount < 0:
        raise ValidationError({field: ["Must not be negative"]}, code="min_value")
    if amount > MAX_AMOUNT:
        raise ValidationError({field: ["Too large"]}, code="max_value")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: ["At most two decimals"]}, code="max_decimal_places")
    return amount.quantize(Decimal("0.01"))


def quota_set(
    *, actor: User, period: Period, amount, user=None, team=None, territory=None
) -> Quota | None:
    """Set (or with `amount=None` remove) the quota of exactly one user, team or territory."""
    if sum(x is not None for x in (user, team, territory)) != 1:
        raise ValidationError(
            {"target": ["Name exactly one of user_id, team_id, territory_id"]}, code="target"
        )
    require_quota_setter(actor, user=user, team=team, territory=territory)
    target = {"user": user, "team": team, "territory": territory}
    lookup = {
        **{k: v for k, v in target.items() if v is not None},
        "period_kind": period.kind,
        "period_start": period.start,
    }
    if amount is None:
        Quota.objects.filter(**lookup).delete()
        return None
    value = clean_amount(amount)
    with transaction.atomic():
        quota, _ = Quota.objects.update_or_create(
            **lookup,
            defaults={"amount": value, "updated_by": actor, "updated_at": timezone.now()},
        )
    return quota


def commit_submit(*, actor: User, period: Period, amount, note: str = "") -> ForecastSubmission:
    """The actor's own forecast number for a period (every submission is kept)."""
    if actor.is_read_only:
        raise PermissionDenied("Read-only users do not submit forecasts")
    value = clean_amount(amount)
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError({"note": ["At most 300 characters"]}, code="max_length")
    return ForecastSubmission.objects.create(
        user=actor,
        period_kind=period.kind,
        period_start=period.start,
        amount=value,
        note=note,
        submitted_at=timezone.now(),
    )


def opportunity_category_set(
    *, actor: User, opportunity: Opportunity, category: str | None
) -> bool:
    """Set the forecast category (None: back to the one the win probability gives); the
    owner sets it, a manager above adjusts it — either way an `updated` event says who."""
    require_editable(opportunity, actor)
    if category is not None and category not in Category.values:
        raise ValidationError(
            {"category": [f"One of {', '.join(Category.values)}"]}, code="invalid_choice"
        )
    if opportunity.stage.kind != "open":
        raise ValidationError(
            {"category": ["Only open opportunities have a forecast category"]}, code="closed"
        )
    with transaction.atomic():
        current = OpportunityCategory.objects.filter(opportunity=opportunity).first()
        before = current.category if current else None
        if before == category:
            return False
        if category is None:
            current.delete()
        else:
            OpportunityCategory.objects.update_or_create(
                opportunity=opportunity,
                defaults={"category": category, "set_by": actor, "set_at": timezone.now()},
            )
        label = Category(category).label if category else "automatic"
        adjusted = actor.pk != opportunity.owner_id
        timeline_record(
            subject=opportunity,
            kind=EventKind.UPDATED,
            actor=actor,
            summary=f"Forecast category {'adjusted to' if adjusted else 'set to'} {label}",
            payload={"forecast_category": {"old": before, "new": category}, "adjusted": adjusted},
        )
    return True

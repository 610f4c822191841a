"""Exchange rates for reporting in the organisation's currency (admins only)."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from rapport.identity.models import User
from rapport.records.exceptions import Conflict
from rapport.records.iso_codes import normalise_codes
from rapport.sales.models import ExchangeRate
from rapport.sales.services.guards import (
    field_error,
    require_admin,
    unique_or_conflict,
    validate_fields,
)


def exchange_rate_create(
    *, actor: User, currency: str, rate: Decimal, valid_from: datetime.date
) -> ExchangeRate:
    """Record a rate (admins only): organisation-currency units for one unit of `currency`
    from `valid_from` on; one rate per currency and day."""
    require_admin(actor, "exchange rates")
    currency = normalise_codes({"currency": currency or ""}, currencies=("currency",))["currency"]
    if currency == settings.RAPPORT_CURRENCY.upper():
        raise field_error(
            "currency", "The organisation's own currency needs no rate", "org_currency"
        )
    if rate is None or rate <= 0:
        raise field_error("rate", "must be greater than 0", "min_value")
    row = ExchangeRate(currency=currency, rate=rate, valid_from=valid_from)
    validate_fields(row, ["currency", "rate", "valid_from"])
    message = f"A {currency} rate from {valid_from} exists"
    with transaction.atomic():
        if ExchangeRate.objects.filter(currency=currency, valid_from=valid_from).exists():
            raise Conflict(message, code="duplicate", field="valid_from")
        with unique_or_conflict(message, "valid_from"):
            row.save()
    return row


def exchange_rate_delete(*, rate: ExchangeRate, actor: User) -> None:
    require_admin(actor, "exchange rates")
    with transaction.atomic():
        ExchangeRate.objects.filter(pk=rate.pk).delete()

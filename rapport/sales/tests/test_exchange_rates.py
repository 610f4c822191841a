"""Exchange rates: admin-managed, and the conversion reports use."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.sales.selectors import (
    ExchangeRateMissing,
    convert_to_org_currency,
    exchange_rate_table,
)
from rapport.sales.services import exchange_rate_create

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def usd_rates(personas, settings):
    settings.RAPPORT_CURRENCY = "EUR"
    exchange_rate_create(
        actor=personas.admin, currency="usd", rate=Decimal("0.9"), valid_from=D(2030, 1, 1)
    )
    exchange_rate_create(
        actor=personas.admin, currency="USD", rate=Decimal("0.8"), valid_from=D(2030, 6, 1)
    )


@pytest.mark.parametrize("use_table", [False, True])
def test_conversion_uses_the_rate_valid_on_the_day(usd_rates, use_table):
    table = exchange_rate_table() if use_table else None
    assert convert_to_org_currency(Decimal("100"), "usd", D(2030, 3, 1), table=table) == Decimal(
        "90.00"
    )
    assert convert_to_org_currency(Decimal("100"), "USD", D(2030, 6, 1), table=table) == Decimal(
        "80.00"
    )
    assert convert_to_org_currency(Decimal("10.555"), "EUR", D(2000, 1, 1), table=table) == Decimal(
        "10.56"
    )
    with pytest.raises(ExchangeRateMissing):
        convert_to_org_currency(Decimal("1"), "USD", D(2029, 12, 31), table=table)
    with pytest.raises(ExchangeRateMissing):
        convert_to_org_currency(Decimal("1"), "GBP", D(2030, 12, 31), table=table)


def test_conversion_accepts_datetimes(usd_rates):
    moment = datetime.datetime(2030, 7, 1, 12, tzinfo=datetime.UTC)
    assert convert_to_org_currency(Decimal("1"), "USD", moment) == Decimal("0.80")


def test_only_admins_record_rates_once_per_day(personas, usd_rates):
    with pytest.raises(PermissionDenied):
        exchange_rate_create(
            actor=personas.manager, currency="GBP", rate=Decimal("1.1"), valid_from=D(2030, 1, 1)
        )
    with pytest.raises(Conflict):
        exchange_rate_create(
            actor=personas.admin, currency="USD", rate=Decimal("1"), valid_from=D(2030, 1, 1)
        )
    with pytest.raises(ValidationError):
        exchange_rate_create(
            actor=personas.admin, currency="EUR", rate=Decimal("1"), valid_from=D(2030, 1, 1)
        )


def test_exchange_rate_endpoints(personas, api_as, usd_rates):
    admin = api_as(personas.admin)
    r = admin.post(
        "/api/exchange-rates", {"currency": "gbp", "rate": "1.17", "valid_from": "2030-01-01"}
    )
    assert (r.status_code, r.data["currency"]) == (201, "GBP"), r.data
    pk = r.data["id"]
    r = admin.post(
        "/api/exchange-rates", {"currency": "GBP", "rate": "1.2", "valid_from": "2030-01-01"}
    )
    assert (r.status_code, r.data["field"]) == (409, "valid_from")
    r = admin.post(
        "/api/exchange-rates", {"currency": "GBP", "rate": "0", "valid_from": "2030-01-02"}
    )
    assert (r.status_code, r.data["field"]) == (422, "rate")
    reader = api_as(personas.reader)
    r = reader.get("/api/exchange-rates")
    assert [(x["currency"], x["valid_from"]) for x in r.data["items"]] == [
        ("USD", "2030-06-01"),
        ("GBP", "2030-01-01"),
        ("USD", "2030-01-01"),
    ]
    assert reader.get("/api/exchange-rates", currency="usd").data["count"] == 2
    assert (
        reader.post(
            "/api/exchange-rates", {"currency": "CHF", "rate": "1", "valid_from": "2030-01-01"}
        ).status_code
        == 403
    )
    assert api_as(personas.manager).delete(f"/api/exchange-rates/{pk}").status_code == 403
    assert admin.delete(f"/api/exchange-rates/{pk}").status_code == 204
    assert admin.delete(f"/api/exchange-rates/{pk}").status_code == 404

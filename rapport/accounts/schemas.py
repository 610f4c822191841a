"""API schemas of accounts and contacts."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ObjectDoesNotExist
from ninja import Field, Schema

from rapport.records.api import ListParams, OwnedIn, OwnedOut, Website, prefetched
from rapport.records.visibility import shown

Size = Literal["", "1-9", "10-49", "50-249", "250-999", "1000+"]


class AnalyticsScoresOut(Schema):
    """Read-only analytics scores of the customer (from the last analytics refresh)."""

    segment: str
    clv: Decimal
    p_alive: float | None
    churn_risk: float
    churn_source: str = Field(
        "", description="purchase_model (1 - P(alive)), classifier (closed accounts) or closed"
    )
    next_products: list[int]
    upsell_products: list[int] = Field(default_factory=list)
    computed_at: datetime.datetime


def _scores(obj):
    # select_related by the selectors; an unscored customer has no row (None).
    return getattr(obj, "customer_score", None)


class AddressFields(Schema):
    street: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    region: str = Field("", max_length=100)
    postal_code: str = Field("", max_length=20)
    country: str = Field("", pattern=r"^([A-Za-z]{2})?$", description="ISO 3166-1 alpha-2")


class AccountIn(OwnedIn, AddressFields):
    name: str = Field(..., min_length=1, max_length=200)
    website: Website = ""
    domain: str = Field("", max_length=200)
    industry: str = Field("", max_length=100)
    size: Size = ""
    annual_revenue: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    currency: str = Field("EUR", pattern=r"^[A-Za-z]{3}$")
    shipping_street: str = Field("", max_length=200)
    shipping_city: str = Field("", max_length=100)
    shipping_region: str = Field("", max_length=100)
    shipping_postal_code: str = Field("", max_length=20)
    shipping_country: str = Field("", pattern=r"^([A-Za-z]{2})?$")
    parent_id: int | None = None
    description: str = Field("", max_length=10000)


class AccountOut(OwnedOut):
    name: str
    website: str
    domain: str
    industry: str
    size: str
    annual_revenue: Decimal | None
    currency: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    shipping_street: str
    shipping_city: str
    shipping_region: str
    shipping_postal_code: str
    shipping_country: str
    parent_id: int | None
    description: str
    closed_at: datetime.date | None = Field(
        None, description="The day the relationship ended (POST …/close and …/reopen)"
    )
    close_reason: str = ""
    scores: AnalyticsScoresOut | None = None

    @staticmethod
    def resolve_scores(obj):
        return _scores(obj)


class AccountCloseIn(Schema):
    closed_at: datetime.date = Field(..., description="The day the relationship ended")
    reason: str = Field("", max_length=200)


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: str | None
    count: int | str


class ScoreFilter(ListParams):
    segment: str | None = Field(None, max_length=30, description="RFM segment, e.g. champions")


class AccountListParams(ScoreFilter):
    industry: str | None = None
    parent_id: int | None = None
    closed: bool | None = Field(
        None, description="true: closed accounts only (the relationship ended); false: open only"
    )


class EmailIn(Schema):
    email: str = Field(..., max_length=254)
    kind: Literal["work", "home", "mobile", "other"] = "work"
    is_primary: bool = False


class PhoneIn(Schema):
    number: str = Field(..., max_length=40)
    kind: Literal["work", "home", "mobile", "other"] = "work"
    is_primary: bool = False


class EmailOut(Schema):
    email: str
    kind: str
    is_primary: bool


class PhoneOut(Schema):
    number: str
    kind: str
    is_primary: bool


class ContactIn(OwnedIn, AddressFields):
    first_name: str = Field("", max_length=100)
    last_name: str = Field(..., min_length=1, max_length=100)
    title: str = Field("", max_length=120)
    account_id: int | None = None
    email: str | None = Field(None, max_length=254, description="shorthand for one primary email")
    phone: str | None = Field(None, max_length=40, description="shorthand for one primary phone")
    emails: list[EmailIn] | None = Field(None, max_length=20)
    phones: list[PhoneIn] | None = Field(None, max_length=20)
    description: str = Field("", max_length=10000)


class ContactOut(OwnedOut):
    first_name: str
    last_name: str
    full_name: str
    title: str
    account_id: int | None
    account_name: str | None
    email: str
    phone: str
    emails: list[EmailOut]
    phones: list[PhoneOut]
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    description: str
    scores: AnalyticsScoresOut | None = None
    lifecycle_stage: str = Field(
        "prospect",
        description="prospect, lead, first_time_buyer, repeat_buyer, loyal, at_risk, lost",
    )

    @staticmethod
    def resolve_scores(obj):
        return _scores(obj)

    @staticmethod
    def resolve_lifecycle_stage(obj) -> str:
        # Kept by the segments app (a one-to-one row, selected with the contact).
        try:
            return obj.lifecycle.stage
        except ObjectDoesNotExist:
            return "prospect"

    @staticmethod
    def resolve_account_name(obj) -> str | None:
        account = shown(obj, "account")
        return account.name if account else None

    @staticmethod
    def resolve_emails(obj):
        return list(prefetched(obj, "emails"))

    @staticmethod
    def resolve_phones(obj):
        return list(prefetched(obj, "phones"))


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None
    count: int | str


class ContactListParams(ScoreFilter):
    account_id: int | None = None
    segment_id: int | None = Field(
        None, description="members of a saved segment (also accepted as segment=<id>)"
    )

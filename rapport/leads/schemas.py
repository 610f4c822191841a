"""API schemas of leads and their conversion."""

import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ObjectDoesNotExist
from ninja import Field, Schema

from rapport.accounts.schemas import AddressFields
from rapport.records.api import ListParams, OwnedIn, OwnedOut, Website

# `converted` is not settable: a lead becomes converted only through /convert.
EditableStatus = Literal["new", "working", "qualified", "disqualified"]
Status = Literal["new", "working", "qualified", "disqualified", "converted"]


class LeadIn(OwnedIn, AddressFields):
    first_name: str = Field("", max_length=100)
    last_name: str = Field(..., min_length=1, max_length=100)
    title: str = Field("", max_length=120)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40, description="any format; stored as E.164")
    company: str = Field("", max_length=200)
    website: Website = ""
    industry: str = Field("", max_length=100)
    source: str = Field("", max_length=60, description="web, referral, event, …")
    campaign: str = Field("", max_length=120)
    status: EditableStatus = "new"
    disqualified_reason: str = Field(
        "", max_length=200, description="required when status is disqualified"
    )
    description: str = Field("", max_length=10000)


class LeadOut(OwnedOut):
    first_name: str
    last_name: str
    full_name: str
    title: str
    email: str
    phone: str
    company: str
    website: str
    industry: str
    source: str
    campaign: str
    status: str
    disqualified_reason: str
    description: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str
    converted_at: datetime.datetime | None
    converted_by_id: int | None
    converted_account_id: int | None
    converted_contact_id: int | None
    converted_opportunity_id: int | None

    score: int | None = Field(
        None, description="0–100: the learned conversion probability, or the rule score"
    )
    score_source: str | None = Field(None, description='"learned" or "rule"')
    score_reasons: list[dict] = Field(default_factory=list)
    territory_id: int | None = None

    @staticmethod
    def resolve_full_name(obj) -> str:
        return f"{obj.first_name} {obj.last_name}".strip()

    @staticmethod
    def resolve_score(obj) -> int | None:
        row = lead_score_row(obj)
        return row.score if row is not None else None

    @staticmethod
    def resolve_score_source(obj) -> str | None:
        row = lead_score_row(obj)
        return row.source if row is not None else None

    @staticmethod
    def resolve_score_reasons(obj) -> list[dict]:
        row = lead_score_row(obj)
        return row.reasons if row is not None else []

    @staticmethod
    def resolve_territory_id(obj) -> int | None:
        if hasattr(obj, "placed_territory"):
            return obj.placed_territory
        from rapport.territories.placement import territory_of

        return territory_of("lead", obj.pk)


def lead_score_row(obj):
    try:
        return obj.score_row
    except ObjectDoesNotExist:
        return None


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None
    count: int | str


class LeadListParams(ListParams):
    status: list[Status] = Field(default_factory=list, description="any of these statuses")
    source: str | None = Field(None, max_length=60)
    campaign: str | None = Field(None, max_length=120)


class ConvertOpportunityIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=200, description="default: company")
    amount: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
    expected_close_date: datetime.date | None = None
    pipeline_id: int | None = Field(None, description="default: the default pipeline")
    stage_id: int | None = Field(None, description="default: the pipeline's first open stage")


class LeadConvertIn(Schema):
    account_id: int | None = Field(
        None, description="link this existing account; null creates one from the lead's company"
    )
    create_account: bool = Field(True, description="false (and no account_id): no account")
    contact_id: int | None = Field(
        None, description="link this existing contact; null creates one from the lead"
    )
    create_contact: bool = Field(True, description="false (and no contact_id): no contact")
    create_opportunity: bool = False
    opportunity: ConvertOpportunityIn | None = None
    owner_id: int | None = Field(None, description="owner of the new records; default: lead's")


class LeadConvertOut(Schema):
    lead: LeadOut
    account_id: int | None
    contact_id: int | None
    opportunity_id: int | None

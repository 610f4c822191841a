"""API shapes of territories and assignment rules (names prefixed: one schema, one name)."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema


class TerritoryRuleIn(Schema):
    field: Literal[
        "country", "region", "postal_code", "industry", "size", "annual_revenue", "named_account"
    ]
    values: list[str] = Field(default_factory=list, max_length=500)
    low: str = Field("", max_length=40)
    high: str = Field("", max_length=40)


class TerritoryRuleOut(Schema):
    field: str
    values: list[str]
    low: str
    high: str


class TerritoryIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    parent_id: int | None = None
    priority: int = 100
    description: str = Field("", max_length=300)
    is_active: bool = True
    rules: list[TerritoryRuleIn] = Field(default_factory=list, max_length=50)
    rep_ids: list[int] = Field(default_factory=list, max_length=200)
    manager_ids: list[int] = Field(default_factory=list, max_length=200)


class TerritoryOut(Schema):
    id: int
    name: str
    parent_id: int | None
    priority: int
    description: str
    is_active: bool
    rules: list[TerritoryRuleOut]
    rep_ids: list[int]
    manager_ids: list[int]
    accounts: int = 0
    leads: int = 0


class TerritoryMoveOut(Schema):
    object_type: str
    id: int
    name: str
    from_: str | None = Field(None, alias="from")
    to: str | None


class TerritoryFlowOut(Schema):
    object_type: str
    from_: str = Field(..., alias="from")
    to: str
    count: int


class TerritoryPreviewOut(Schema):
    scanned: int
    total: int
    moves: dict[str, int]
    flows: list[TerritoryFlowOut]
    sample: list[TerritoryMoveOut]


class TerritoryRealignmentOut(Schema):
    id: int
    status: str
    scanned: int
    moved: int
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    error: str


class TerritoryReportRowOut(Schema):
    user_id: int
    name: str
    is_rep: bool
    pipeline: Decimal
    open_deals: int
    won: Decimal
    won_deals: int
    activities: int
    leads: int


class TerritoryReportOut(Schema):
    territory_id: int
    rows: list[TerritoryReportRowOut]
    totals: dict[str, Any]


class AssignmentRuleIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    object_type: Literal["lead", "account"] = "lead"
    position: int = Field(0, ge=0)
    is_active: bool = True
    conditions: dict[str, list[str]] = Field(
        default_factory=dict, description='field → accepted values, e.g. {"source": ["web"]}'
    )
    strategy: Literal["user", "round_robin", "least_loaded", "territory_rep"] = "user"
    user_id: int | None = None
    team_id: int | None = None


class AssignmentRuleOut(Schema):
    id: int
    name: str
    object_type: str
    position: int
    is_active: bool
    conditions: dict[str, Any]
    strategy: str
    user_id: int | None
    team_id: int | None


class RepAvailabilityIn(Schema):
    capacity: int | None = Field(None, ge=0)
    calendar_id: int | None = None
    away_from: datetime.datetime | None = None
    away_until: datetime.datetime | None = None


class RepAvailabilityOut(Schema):
    user_id: int
    capacity: int | None
    calendar_id: int | None
    away_from: datetime.datetime | None
    away_until: datetime.datetime | None

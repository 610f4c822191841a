"""API shapes of segments and lifecycle rules (names prefixed: one schema, one name)."""

import datetime
from typing import Any, Literal

from ninja import Field, Schema


class SegmentIn(Schema):
    name: str = Field(..., max_length=120)
    kind: Literal["dynamic", "static"] = "dynamic"
    description: str = Field("", max_length=500)
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description='{"op": "and"|"or", "items": [{"field", "operator", "value"} | group]}',
    )


class SegmentPatchIn(Schema):
    name: str | None = Field(None, max_length=120)
    description: str | None = Field(None, max_length=500)
    filter: dict[str, Any] | None = None


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    filter: dict[str, Any]
    member_count: int
    refreshed_at: datetime.datetime | None
    created_by_id: int | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class SegmentPage(Schema):
    items: list[SegmentOut]
    next_cursor: str | None
    count: int | str


class SegmentCountIn(Schema):
    filter: dict[str, Any] = Field(default_factory=dict)


class SegmentCountOut(Schema):
    count: int = Field(
        ..., description="Contacts you may see that match (capped at 10,000 if over)"
    )
    capped: bool


class SegmentMembersIn(Schema):
    contact_ids: list[int] = Field(..., max_length=10_000)


class SegmentMembersOut(Schema):
    changed: int
    member_count: int


class SegmentFieldOut(Schema):
    key: str
    label: str
    group: str
    type: str
    operators: list[str]
    choices: list[list[str]]


class LifecycleRulesIn(Schema):
    lead_min_activities: int | None = Field(None, ge=0, le=1000)
    loyal_min_orders: int | None = Field(None, ge=2, le=10_000)
    loyal_months: int | None = Field(None, ge=1, le=240)
    at_risk_churn: float | None = Field(None, ge=0, le=1)
    at_risk_days: int | None = Field(None, ge=1, le=36_500)
    lost_days: int | None = Field(None, ge=1, le=36_500)


class LifecycleRulesOut(Schema):
    lead_min_activities: int
    loyal_min_orders: int
    loyal_months: int
    at_risk_churn: float
    at_risk_days: int
    lost_days: int
    version: int
    updated_at: datetime.datetime


class LifecycleChangeOut(Schema):
    from_stage: str
    to_stage: str
    changed_at: datetime.datetime
    reason: str

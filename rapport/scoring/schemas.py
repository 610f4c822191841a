"""API shapes of scoring (names prefixed: one schema, one name)."""

import datetime
from typing import Any, Literal

from ninja import Field, Schema


class ScoringRuleIn(Schema):
    kind: Literal["fit", "engagement"] = "fit"
    field: str = Field(..., max_length=40)
    operator: Literal["equals", "contains", "not_empty"] = "equals"
    value: str = Field("", max_length=200)
    points: int = Field(10, ge=-100, le=100)
    cap: int | None = Field(None, ge=0, le=1000)


class ScoringRuleOut(Schema):
    id: int
    kind: str
    field: str
    operator: str
    value: str
    points: int
    cap: int | None
    label: str


class ScoreModelOut(Schema):
    id: int
    target: str
    trained_at: datetime.datetime
    outcomes: int
    positives: int
    usable: bool
    message: str
    metrics: dict[str, Any]


class ScoringModelsOut(Schema):
    lead: ScoreModelOut | None
    opportunity: ScoreModelOut | None
    min_outcomes: int


class ScoringTrainOut(Schema):
    queued: bool

import datetime
from typing import Any

from ninja import Field, Schema


class RuleIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    is_active: bool = True
    trigger_type: str = Field(..., description="record.created, stage.moved, schedule, manual, …")
    object_type: str = Field(
        "", description="account, contact, lead, opportunity, activity, order or empty"
    )
    trigger_config: dict[str, Any] = Field(
        default_factory=dict,
        description='{"cron": "0 9 * * 1-5"} · {"field": "expected_close_date", "offset_days": -3, '
        '"at": "09:00"} · {"match": {"source": "pos"}}',
    )
    conditions: dict[str, Any] = Field(
        default_factory=dict,
        description='{"op": "and", "items": [{"field": "account.industry", "operator": "equals", '
        '"value": "Retail"}]}',
    )
    actions: list[dict[str, Any]] = Field(
        ..., description='[{"type": "add_tag", "params": {"tag": "vip"}}, …]'
    )
    max_runs_per_hour: int = Field(10_000, ge=1, le=1_000_000)
    max_attempts: int = Field(3, ge=1, le=10)


class RuleOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    trigger_type: str
    object_type: str
    trigger_config: dict[str, Any]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    max_runs_per_hour: int
    max_attempts: int
    run_as_id: int
    next_fire_at: datetime.datetime | None
    skipped_count: int
    last_skip_reason: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class RulePage(Schema):
    items: list[RuleOut]
    next_cursor: str | None
    count: int | str


class StepOut(Schema):
    id: int
    path: str
    action_type: str
    state: str
    input: dict[str, Any]
    output: dict[str, Any]
    error: str
    attempts: int
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    duration_ms: int | None


class AutomationRunOut(Schema):
    id: int
    rule_id: int
    trigger_type: str
    object_type: str
    object_id: int | None
    state: str
    depth: int
    input: dict[str, Any]
    error: str
    next_run_at: datetime.datetime
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    replay_of_id: int | None
    started_by_id: int | None


class RunDetailOut(AutomationRunOut):
    steps: list[StepOut]


class RunPage(Schema):
    items: list[AutomationRunOut]
    next_cursor: str | None
    count: int | str


class RunListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    state: str | None = None


class ManualRunIn(Schema):
    ids: list[int] = Field(..., min_length=1, max_length=1000, description="record ids")


class ManualRunOut(Schema):
    started: list[int]
    skipped: list[int]


class ActionTypeOut(Schema):
    type: str
    label: str
    available: bool
    provided_by: str
    params: list[dict[str, Any]]

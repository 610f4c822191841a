"""API schemas of imports, saved mappings and exports."""

import datetime
import json
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import field_validator

from rapport.accounts.schemas import AccountListParams, ContactListParams
from rapport.activities.schemas import ActivityListParams
from rapport.leads.schemas import LeadListParams
from rapport.orders.schemas import OrderListParams
from rapport.sales.schemas import OpportunityListParams

ObjectIn = Literal["accounts", "contacts", "leads", "opportunities", "products", "orders", "assets"]
PolicyIn = Literal["update", "skip", "create"]
StatusIn = Literal["reading", "pending", "validating", "running", "done", "failed", "cancelled"]


class ImportCreateForm(Schema):
    """The multipart form of POST /api/imports (with the file in `file`)."""

    object_type: ObjectIn
    policy: PolicyIn = "update"
    dry_run: bool = False
    encoding: str | None = Field(None, max_length=40, description="default: UTF-8 (BOM honoured)")
    mapping: dict[str, str | None] | None = Field(
        None, description="JSON {column header: field key or null}; default: guessed"
    )
    saved_mapping_id: int | None = Field(None, ge=1, le=2**63 - 1)
    start: bool = Field(False, description="queue the import at once")
    strict: bool = Field(
        False, description="a phone that cannot be read fails its row (default: left out, warned)"
    )
    create_customers: bool = Field(
        False, description="orders: create the contacts (and accounts) of unknown customer emails"
    )

    @field_validator("mapping", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("must be a JSON object {column: field}")
        return value


class ImportPatchIn(Schema):
    mapping: dict[str, str | None] | None = None
    policy: PolicyIn | None = None
    dry_run: bool | None = None
    encoding: str | None = Field(None, min_length=1, max_length=40)
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    saved_mapping_id: int | None = Field(None, ge=1, le=2**63 - 1)
    strict: bool | None = None
    create_customers: bool | None = None


class ImportStartIn(Schema):
    dry_run: bool | None = Field(None, description="default: the job's setting")


class ProgressOut(Schema):
    rows_done: int
    rows_total: int | None
    percent: int | None


class CountsOut(Schema):
    created: int
    updated: int
    unchanged: int
    skipped: int
    failed: int


class ImportJobOut(Schema):
    id: int
    object_type: str
    original_name: str
    size: int
    file_format: str
    encoding: str
    delimiter: str
    headers: list[str]
    preview: list[list[str]] = Field(description="the first data rows as read with the header")
    mapping: dict[str, str | None]
    policy: str
    dry_run: bool
    strict: bool
    create_customers: bool
    status: str = Field(
        description="reading (the worker reads the file: poll) → pending (mapping ready) → "
        "validating → running → done; or failed / cancelled"
    )
    cancel_requested: bool
    progress: ProgressOut
    counts: CountsOut
    extra: dict[str, Any]
    error: str
    error_code: str
    created_by_id: int
    created_at: datetime.datetime
    queued_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    rejected_csv: str | None = Field(description="URL of the rejected rows, once there are any")

    @staticmethod
    def resolve_progress(obj) -> dict:
        total = obj.rows_total
        percent = None
        if total:
            percent = min(100, obj.rows_done * 100 // total)
        return {"rows_done": obj.rows_done, "rows_total": total, "percent": percent}

    @staticmethod
    def resolve_counts(obj) -> dict:
        return {
            k: getattr(obj, k) for k in ("created", "updated", "unchanged", "skipped", "failed")
        }

    @staticmethod
    def resolve_rejected_csv(obj) -> str | None:
        return f"/api/imports/{obj.pk}/rejected.csv" if obj.failed else None


class ImportJobPage(Schema):
    items: list[ImportJobOut]
    next_cursor: str | None
    count: int | str


class ImportListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-created_at", description="created_at; - to reverse")
    object_type: ObjectIn | None = None
    status: list[StatusIn] = Field(default_factory=list, description="any of")


class RowErrorOut(Schema):
    row_number: int
    level: Literal["error", "warning"] = Field(
        description="error: the row was not imported; warning: imported without that cell"
    )
    column: str
    field: str
    message: str
    code: str


class RowErrorPage(Schema):
    items: list[RowErrorOut]
    next_cursor: str | None
    count: int | str


class FieldOut(Schema):
    key: str
    label: str
    kind: str
    required: bool
    choices: list[str]
    match_key: bool


class SavedMappingIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    object_type: ObjectIn
    mapping: dict[str, str | None]


class SavedMappingOut(Schema):
    id: int
    name: str
    object_type: str
    mapping: dict[str, Any]
    created_at: datetime.datetime


FormatIn = Literal["csv", "xlsx"]


class _ExportFormat(Schema):
    format: FormatIn = Field("csv", description="csv (streamed) or xlsx")


class AccountExportParams(AccountListParams, _ExportFormat):
    pass


class ContactExportParams(ContactListParams, _ExportFormat):
    pass


class LeadExportParams(LeadListParams, _ExportFormat):
    pass


class OpportunityExportParams(OpportunityListParams, _ExportFormat):
    pass


class OrderExportParams(OrderListParams, _ExportFormat):
    pass


class ActivityExportParams(ActivityListParams, _ExportFormat):
    pass

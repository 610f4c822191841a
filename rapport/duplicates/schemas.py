"""API schemas of duplicate review, merge and the create-time check."""

import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema

from rapport.records.api import Id, Website

ObjectTypeIn = Literal["account", "contact", "lead"]
Choice = Literal["survivor", "merged"]
FieldName = Annotated[str, Field(min_length=1, max_length=80)]


class RecordSummaryOut(Schema):
    id: int
    label: str
    email: str
    phone: str
    city: str
    domain: str
    owner_id: int
    version: int
    deleted: bool


class CandidateOut(Schema):
    id: int
    object_type: str
    record_a_id: int
    record_b_id: int
    score: int
    reasons: list[str]
    status: str
    found_at: datetime.datetime
    scored_at: datetime.datetime
    resolved_at: datetime.datetime | None
    resolved_by_id: int | None
    record_a: RecordSummaryOut | None = None
    record_b: RecordSummaryOut | None = None

    @staticmethod
    def resolve_record_a(obj):
        from rapport.duplicates.selectors import record_summary

        return record_summary(obj.object_type, getattr(obj, "record_a", None))

    @staticmethod
    def resolve_record_b(obj):
        from rapport.duplicates.selectors import record_summary

        return record_summary(obj.object_type, getattr(obj, "record_b", None))


class CandidatePage(Schema):
    items: list[CandidateOut]
    next_cursor: str | None
    count: int | str


class CandidateListParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-score", description="score or found_at, prefix - to reverse")
    object_type: ObjectTypeIn | None = None
    status: Literal["open", "merged", "dismissed"] = "open"
    min_score: int = Field(0, ge=0, le=100)
    record_id: Id | None = Field(None, description="pairs that include this record")


class FieldCompareOut(Schema):
    name: str
    a: Any = None
    b: Any = None
    differs: bool


class CompareOut(Schema):
    object_type: str
    record_a: dict[str, Any]
    record_b: dict[str, Any]
    fields: list[FieldCompareOut]
    differing: list[str]
    related: dict[str, dict[str, int]]


class CandidateDetailOut(CandidateOut):
    comparison: CompareOut


class CompareParams(Schema):
    object_type: ObjectTypeIn
    a: Id
    b: Id


class CandidateMergeIn(Schema):
    survivor_id: Id = Field(..., description="which of the pair's two records survives")
    fields: dict[FieldName, Choice] = Field(
        default_factory=dict,
        max_length=200,
        description='per differing field, "survivor" or "merged"; a field left out keeps '
        "the survivor's value unless it is blank",
    )
    merged_version: int | None = Field(None, ge=1, description="the merged record's version")


class MergeIn(CandidateMergeIn):
    object_type: ObjectTypeIn
    merged_id: Id


class MergeLogOut(Schema):
    id: int
    object_type: str
    survivor_id: int
    merged_id: int
    candidate_id: int | None
    actor_id: int | None
    at: datetime.datetime
    field_choices: dict[str, str]
    survivor_before: dict[str, Any]
    survivor_after: dict[str, Any]
    moved: dict[str, list[int]]
    moved_counts: dict[str, int]
    merged_snapshot: dict[str, Any]
    undone_at: datetime.datetime | None
    undone_by_id: int | None
    undo_report: dict[str, Any]

    @staticmethod
    def resolve_moved_counts(obj) -> dict[str, int]:
        return {path: len(ids) for path, ids in obj.moved.items()}


class MergeLogPage(Schema):
    items: list[MergeLogOut]
    next_cursor: str | None
    count: int | str


class MergeListParams(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-at", description="at, prefix - to reverse")
    object_type: ObjectTypeIn | None = None
    record_id: Id | None = Field(None, description="merges whose survivor or loser is this")


class CheckIn(Schema):
    """The record about to be saved (the fields its create form or payload has)."""

    object_type: ObjectTypeIn
    name: str = Field("", max_length=200, description="accounts")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    emails: list[Annotated[str, Field(max_length=254)]] = Field(default_factory=list, max_length=20)
    phone: str = Field("", max_length=40)
    phones: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)
    city: str = Field("", max_length=100)
    company: str = Field("", max_length=200, description="leads")
    website: Website = ""
    domain: str = Field("", max_length=200)
    account_id: Id | None = Field(None, description="contacts: their account")
    exclude_id: Id | None = Field(None, description="the record itself, when editing")
    min_score: int = Field(60, ge=0, le=100)
    limit: int = Field(10, ge=1, le=50)


class CheckMatchOut(Schema):
    id: int
    score: int
    reasons: list[str]
    record: RecordSummaryOut


class CheckOut(Schema):
    matches: list[CheckMatchOut]


class ScanIn(Schema):
    object_type: Literal["account", "contact", "lead", "all"] = "all"
    full: bool | None = Field(None, description="default: incremental after a finished run")


class ScanOut(Schema):
    enqueued: list[str]


class RunOut(Schema):
    id: int
    object_type: str
    mode: str
    status: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    records: int
    keys: int
    blocks: int
    largest_block: int
    pairs_compared: int
    pairs_bound: int
    candidates_new: int
    candidates_updated: int
    candidates_removed: int
    seconds: float
    error: str

"""API schemas of the service desk (every name starts with Case… so the OpenAPI schema keeps
one name per schema)."""

import datetime
from typing import Any, Literal

from ninja import Field, Schema

from rapport.cases.models import (
    AgentAvailability,
    AssignmentMode,
    CaseChannel,
    CasePriority,
    CaseStatus,
    ServiceTier,
)
from rapport.cases.selectors import CONVERSATION_PAGE

CaseStatusName = Literal[tuple(CaseStatus.values)]  # type: ignore[valid-type]
CasePriorityName = Literal[tuple(CasePriority.values)]  # type: ignore[valid-type]
CaseChannelName = Literal[tuple(CaseChannel.values)]  # type: ignore[valid-type]
CaseTierName = Literal[tuple(ServiceTier.values) + ("",)]  # type: ignore[valid-type]
Id = int


class CaseFields(Schema):
    """What a client may set on a case, on create and on update."""

    subject: str = Field(..., min_length=1, max_length=250)
    description: str = Field("", max_length=20000)
    account_id: Id | None = None
    contact_id: Id | None = None
    asset_id: Id | None = Field(None, description="the installed-base asset the case is about")
    category_id: Id | None = None
    subcategory_id: Id | None = None
    priority: CasePriorityName = "normal"
    channel: CaseChannelName = "phone"
    language: str = Field("", max_length=10)
    queue_id: Id | None = Field(None, description="on create, empty: the routing rules choose")
    owner_id: Id | None = None
    custom: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(
        default_factory=dict, description="IVR path, call duration, chat transcript id, …"
    )


class CaseIn(CaseFields):
    tags: list[str] = Field(default_factory=list, max_length=50)
    external_id: str | None = Field(
        None,
        max_length=100,
        description="with source: create-or-update by your own key (phone/IVR/chat systems)",
    )
    source: str = Field("", max_length=60)
    body: str = Field("", max_length=50000, description="the customer's first message")


class CasePatchIn(CaseFields):
    tier: CaseTierName = ""
    status: CaseStatusName = "open"
    resolution_code: str = Field(
        "", max_length=60, description="how a complaint was resolved (refund, replacement, …)"
    )


class CaseOut(Schema):
    id: int
    number: int
    subject: str
    description: str
    status: str
    priority: str
    channel: str
    tier: str
    language: str
    account_id: int | None
    contact_id: int | None
    asset_id: int | None
    category_id: int | None
    subcategory_id: int | None
    queue_id: int | None
    queue_name: str | None
    owner_id: int | None
    owner_name: str | None
    mailbox_id: int | None
    external_id: str | None
    source: str
    details: dict[str, Any]
    custom: dict[str, Any]
    resolution_code: str
    merged_into_id: int | None
    related_to_id: int | None
    first_response_due_at: datetime.datetime | None
    next_response_due_at: datetime.datetime | None
    resolution_due_at: datetime.datetime | None
    due_at: datetime.datetime | None
    first_response_at: datetime.datetime | None
    last_customer_message_at: datetime.datetime | None
    last_agent_message_at: datetime.datetime | None
    resolved_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    reopened_count: int
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_queue_name(obj) -> str | None:
        return obj.queue.name if obj.queue_id else None

    @staticmethod
    def resolve_owner_name(obj) -> str | None:
        return (obj.owner.get_full_name() or obj.owner.username) if obj.owner_id else None


class CasePage(Schema):
    items: list[CaseOut]
    next_cursor: str | None
    count: int | str


class CaseListParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("due_at", description="due_at, created_at, updated_at, number; - reverses")
    q: str | None = Field(None, max_length=200, description="subject text or a case number")
    view: Literal["", "mine", "unassigned", "breaching", "open"] = ""
    status: list[CaseStatusName] = Field(default_factory=list)
    priority: list[CasePriorityName] = Field(default_factory=list)
    queue_id: int | None = None
    owner_id: int | None = None
    category_id: int | None = None
    account_id: int | None = None
    contact_id: int | None = None
    mine: bool = False
    unassigned: bool = False
    breaching_soon: bool = Field(False, description="open and due within 4 hours (or overdue)")


class CaseEntryIn(Schema):
    kind: Literal["reply", "note"]
    body: str = Field(..., min_length=1, max_length=50000)
    status: CaseStatusName | None = Field(None, description="reply and set this status")


class CaseAttachmentOut(Schema):
    id: int = Field(..., description="the stored file's id")
    name: str
    size: int
    content_type: str
    download_path: str


class CaseEntryOut(Schema):
    id: int
    kind: str
    body: str
    author_id: int | None
    message_id: int | None
    created_at: datetime.datetime
    attachments: list[CaseAttachmentOut] = []

    @staticmethod
    def resolve_attachments(obj) -> list[dict]:
        return [
            {
                "id": a.file_id,
                "name": a.file.name,
                "size": a.file.size,
                "content_type": a.file.content_type,
                "download_path": f"/api/cases/{obj.case_id}/attachments/{a.file_id}",
            }
            for a in obj.attachments.all()
        ]


class CaseEntryPage(Schema):
    items: list[CaseEntryOut]
    next_cursor: str | None
    count: int | str


class CaseEntryParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page (older entries)")
    limit: int = Field(
        CONVERSATION_PAGE, ge=1, le=200, description="entries per page, newest first"
    )


class CaseMergeIn(Schema):
    target_id: int


class CaseSplitIn(Schema):
    entry_id: int
    subject: str = Field("", max_length=250)


class CaseMacroIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    body: str = Field("", max_length=50000)
    set_fields: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class CaseMacroOut(Schema):
    id: int
    name: str
    body: str
    set_fields: dict[str, Any]
    is_active: bool


class CaseMacroApplyIn(Schema):
    send: bool = Field(True, description="true: a public reply; false: an internal note")
    body: str | None = Field(None, max_length=50000, description="the agent's edited text")


class CaseQueueIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=2000)
    assignment: Literal[tuple(AssignmentMode.values)] = "manual"  # type: ignore[valid-type]
    mailbox_id: int | None = None
    is_active: bool = True
    member_ids: list[int] = Field(default_factory=list)


class CaseQueueOut(Schema):
    id: int
    name: str
    description: str
    assignment: str
    mailbox_id: int | None
    is_active: bool
    member_ids: list[int]

    @staticmethod
    def resolve_member_ids(obj) -> list[int]:
        return sorted(m.user_id for m in obj.memberships.all())


class CaseCategoryIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    parent_id: int | None = None
    is_complaint: bool = False
    is_active: bool = True


class CaseCategoryOut(Schema):
    id: int
    name: str
    parent_id: int | None
    is_complaint: bool
    is_active: bool


class CaseAgentStatusIn(Schema):
    availability: Literal[tuple(AgentAvailability.values)]  # type: ignore[valid-type]


class CaseAgentStatusOut(Schema):
    user_id: int
    availability: str
    updated_at: datetime.datetime | None


class CaseTierIn(Schema):
    tier: CaseTierName = Field(..., description='"" removes the override (analytics decides)')
    note: str = Field("", max_length=200)


class CaseTierOut(Schema):
    account_id: int
    tier: str
    source: Literal["manual", "analytics"]

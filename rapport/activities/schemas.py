"""API schemas of activities (tasks, calls, meetings, emails, notes) and interactions."""

import datetime
from typing import Literal

from ninja import Field, Schema

from rapport.records.api import DayOrTime, Id

KindIn = Literal["task", "call", "meeting", "email", "note", "interaction"]
DirectionIn = Literal["inbound", "outbound"]
PriorityIn = Literal["low", "normal", "high"]
OutcomeIn = Literal["connected", "no_answer", "voicemail", "busy", "wrong_number"]
ChannelIn = Literal["email", "phone", "ivr", "chat", "web", "store", "social", "sms"]


class ActivityFields(Schema):
    """What can be set on create and changed with PATCH (kind-specific fields are refused
    for other kinds)."""

    subject: str = Field("", max_length=200)
    body: str = Field("", max_length=100_000, description="required for notes")
    owner_id: Id | None = Field(None, description="defaults to you")
    account_id: Id | None = None
    contact_id: Id | None = None
    lead_id: Id | None = None
    opportunity_id: Id | None = None
    occurred_at: datetime.datetime | None = Field(
        None,
        description="when it happened or is planned; defaults to now (tasks: due_at; "
        "meetings: always starts_at)",
    )
    # tasks
    due_at: datetime.datetime | None = None
    priority: PriorityIn | None = Field(None, description="tasks; default normal")
    done: bool | None = Field(None, description="tasks")
    reminder_minutes: int | None = Field(
        None,
        ge=0,
        le=40320,
        description="tasks and meetings: remind the owner this many minutes before due_at / "
        "starts_at; null: no reminder; left out on create: the owner's default",
    )
    # calls, emails and interactions
    direction: DirectionIn | None = None
    duration_seconds: int | None = Field(None, ge=0, le=10_000_000, description="calls")
    outcome: OutcomeIn | None = Field(None, description="calls")
    # meetings
    starts_at: datetime.datetime | None = Field(None, description="required for meetings")
    ends_at: datetime.datetime | None = Field(None, description="after starts_at")
    location: str = Field("", max_length=200)
    attendee_contact_ids: list[Id] = Field(default_factory=list, max_length=100)
    attendee_user_ids: list[Id] = Field(default_factory=list, max_length=100)
    # interactions
    channel: ChannelIn | None = Field(None, description="required for interactions")


class ActivityIn(ActivityFields):
    kind: KindIn
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description=(
            "the touch point's id (unique among yours per source): sending it again returns "
            "the stored one (200)"
        ),
    )
    source: str = Field(
        "",
        max_length=60,
        description=(
            "the system external_id comes from: an external id is unique per sender "
            "(the user who sends it) and source; other users' ids never collide with yours"
        ),
    )


class ActivityPatchIn(ActivityFields):
    """Kind and external_id do not change."""


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    body: str
    owner_id: int
    created_by_id: int | None
    account_id: int | None
    contact_id: int | None
    lead_id: int | None
    opportunity_id: int | None
    occurred_at: datetime.datetime
    due_at: datetime.datetime | None
    priority: str
    done: bool
    done_at: datetime.datetime | None
    reminder_minutes: int | None
    remind_at: datetime.datetime | None = Field(description="when the pending reminder is due")
    direction: str
    duration_seconds: int | None
    outcome: str
    starts_at: datetime.datetime | None
    ends_at: datetime.datetime | None
    location: str
    attendee_contact_ids: list[int]
    attendee_user_ids: list[int]
    channel: str
    external_id: str | None
    source: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    # Both use the selector's prefetch (no N+1).
    @staticmethod
    def resolve_attendee_contact_ids(obj) -> list[int]:
        return [c.pk for c in obj.attendee_contacts.all()]

    @staticmethod
    def resolve_attendee_user_ids(obj) -> list[int]:
        return [u.pk for u in obj.attendee_users.all()]


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None
    count: int | str


class ActivityListParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-occurred_at", description="occurred_at or created_at; - to reverse")
    q: str | None = Field(None, max_length=200, description="free text in the subject")
    kind: list[KindIn] = Field(default_factory=list, description="any of")
    owner_id: Id | None = None
    mine: bool = Field(False, description="only activities you own")
    account_id: Id | None = None
    contact_id: Id | None = None
    lead_id: Id | None = None
    opportunity_id: Id | None = None
    done: bool | None = None
    overdue: bool = Field(False, description="tasks not done whose due_at has passed")
    due_from: DayOrTime | None = None
    due_to: DayOrTime | None = None
    occurred_from: DayOrTime | None = None
    occurred_to: DayOrTime | None = None
    channel: list[ChannelIn] = Field(default_factory=list, description="any of")

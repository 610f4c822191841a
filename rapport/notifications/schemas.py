"""API schemas of notifications and notification preferences."""

import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import field_validator

from rapport.notifications.models import EmailDelivery, NotificationKind

KindIn = Literal[tuple(NotificationKind.values)]  # type: ignore[valid-type]
EmailDeliveryIn = Literal[tuple(EmailDelivery.values)]  # type: ignore[valid-type]
_DELIVERY_HELP = (
    "how the email_kinds arrive by email: immediately (each, in working hours), hourly or "
    "daily digest (one email listing the unread ones, in working hours), off"
)


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    link: str
    actor_id: int | None
    created_at: datetime.datetime
    read_at: datetime.datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    count: int | str


class NotificationListParams(Schema):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    unread: bool = Field(False, description="only unread ones")


class UnreadCountOut(Schema):
    unread: int


class MarkedOut(Schema):
    marked: int


class PreferencesOut(Schema):
    time_zone: str
    # Local wall-clock times in the user's time zone ("09:00"), not RFC 3339 times (which
    # carry an offset).
    work_start: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["09:00"])
    work_end: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["17:00"])
    work_days: list[int] = Field(description="0 = Monday … 6 = Sunday")
    email_kinds: list[str] = Field(description="kinds that also arrive by email")
    email_delivery: str = Field(description=_DELIVERY_HELP)
    last_digest_at: datetime.datetime | None
    default_reminder_minutes: int | None

    @staticmethod
    def resolve_work_start(obj) -> str:
        return _hhmm(obj, "work_start")

    @staticmethod
    def resolve_work_end(obj) -> str:
        return _hhmm(obj, "work_end")


def _hhmm(obj, name: str) -> str:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name)
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)[:5]


class PreferencesPatchIn(Schema):
    time_zone: str = Field("", max_length=64, description="an IANA name; empty: the server's")
    work_start: datetime.time = datetime.time(9)
    work_end: datetime.time = datetime.time(17)
    work_days: list[int] = Field(default_factory=list, max_length=7)
    email_kinds: list[KindIn] = Field(default_factory=list, max_length=20)
    email_delivery: EmailDeliveryIn = Field("immediately", description=_DELIVERY_HELP)
    default_reminder_minutes: int | None = Field(
        None, ge=0, le=40320, description="for new tasks and meetings; null: no reminder"
    )

    @field_validator("work_start", "work_end")
    @classmethod
    def _local_time(cls, value: datetime.time) -> datetime.time:
        if value.tzinfo is not None:
            raise ValueError("give a local time such as 09:00, without an offset")
        return value

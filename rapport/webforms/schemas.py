import datetime
from typing import Any

from ninja import Field, Schema


class WebFormFieldSpec(Schema):
    key: str = Field(..., description="lead/contact field, or custom.<key>")
    label: str = ""
    required: bool = False


class WebFormOut(Schema):
    id: int
    name: str
    slug: str
    title: str
    intro: str
    submit_label: str
    target: str
    fields: list[dict[str, Any]]
    consent_purpose_ids: list[int]
    assign_mode: str
    assign_user_id: int
    assign_team_id: int | None
    campaign_id: int | None
    lead_source: str
    thank_you_message: str
    redirect_url: str
    min_fill_seconds: int
    is_active: bool
    public_url: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class WebFormPage(Schema):
    items: list[WebFormOut]
    next_cursor: str | None
    count: int | str


class WebFormIn(Schema):
    name: str
    slug: str = ""
    title: str = ""
    intro: str = ""
    submit_label: str = "Send"
    target: str = "lead"
    fields: list[WebFormFieldSpec] = Field(default_factory=list)
    consent_purpose_ids: list[int] = Field(default_factory=list)
    assign_mode: str = "user"
    assign_user_id: int | None = None
    assign_team_id: int | None = None
    campaign_id: int | None = None
    lead_source: str = "web form"
    thank_you_message: str = "Thank you — we will be in touch soon."
    redirect_url: str = ""
    min_fill_seconds: int = Field(3, ge=0, le=600)
    is_active: bool = True


class WebFormSubmissionOut(Schema):
    id: int
    form_id: int
    submitted_at: datetime.datetime
    data: dict[str, Any]
    utm: dict[str, Any]
    consents: list[str]
    outcome: str
    contact_id: int | None
    lead_id: int | None
    campaign_id: int | None
    review_note: str


class WebFormSubmissionPage(Schema):
    items: list[WebFormSubmissionOut]
    next_cursor: str | None
    count: int | str

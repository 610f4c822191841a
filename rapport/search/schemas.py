"""Input and output of the global search endpoint."""

from typing import Literal

from ninja import Field, Schema

SearchType = Literal["account", "contact", "lead", "opportunity"]


class SearchParams(Schema):
    q: str = Field(
        ..., min_length=1, max_length=200, description="free text: every word must match"
    )
    types: list[SearchType] = Field(
        default_factory=list, description="record types to search (all when none is given)"
    )
    limit: int = Field(5, ge=1, le=20, description="results per type")


class SearchHit(Schema):
    type: SearchType
    id: int
    title: str
    subtitle: str
    url_path: str


class SearchGroup(Schema):
    type: SearchType
    items: list[SearchHit]


class SearchOut(Schema):
    q: str
    groups: list[SearchGroup]

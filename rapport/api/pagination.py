"""Keyset (cursor) pagination with a capped count, so lists stay fast at a million rows.

The cursor encodes the sort values of the last row returned. The next page is
`(key < last) OR (key = last AND id < last_id)` plus a plain `key <= last` range
bound: without that bound SQLite walked the owner's whole index (PERFORMANCE.md).
"""

import base64
import datetime
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from ninja.errors import HttpError

MAX_LIMIT = 200


@dataclass
class Page:
    items: list
    next_cursor: str | None
    count: int | str


def _encode(values: list[Any]) -> str:
    def conv(v):
        if isinstance(v, datetime.datetime | datetime.date):
            return {"t": v.isoformat(), "k": "dt" if isinstance(v, datetime.datetime) else "d"}
        if isinstance(v, Decimal):
            return {"t": str(v), "k": "dec"}
        return v

    raw = json.dumps([conv(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    def conv(v):
        if isinstance(v, dict):
            if v.get("k") == "dt":
                return datetime.datetime.fromisoformat(v["t"])
            if v.get("k") == "d":
                return datetime.date.fromisoformat(v["t"])
            if v.get("k") == "dec":
                return Decimal(v["t"])
            raise ValueError("bad cursor value")
        return v

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError("bad cursor")
        return [conv(v) for v in values]
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, "cursor is not valid; use next_cursor from the previous page")


def capped_count(qs: QuerySet) -> int | str:
    cap = settings.RAPPORT_COUNT_CAP
    # Only the primary key in the counted subquery: annotations a list needs for its rows
    # (scores, which linked names may be shown) would otherwise be computed for every
    # counted row on SQLite.
    n = qs.order_by().values("pk")[: cap + 1].count()
    return f"{cap}+" if n > cap else n


def keyset_page(
    qs: QuerySet,
    *,
    sort: str,
    allowed: set[str],
    cursor: str | None,
    limit: int,
    with_count: bool = True,
) -> Page:
    """One page of `qs` sorted by `sort` (a field in `allowed`, `-` for descending), then id."""
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    if field not in allowed:
        raise HttpError(
            400, f"sort must be one of {', '.join(sorted(allowed))} (prefix - to reverse)"
        )
    limit = max(1, min(limit, MAX_LIMIT))
    count = capped_count(qs) if with_count else None
    ordering = [f"-{field}", "-id"] if descending else [field, "id"]
    page_qs = qs.order_by(*ordering)
    if cursor:
        last_value, last_id = _decode(cursor)
        if descending:
            page_qs = page_qs.filter(**{f"{field}__lte": last_value}).filter(
                Q(**{f"{field}__lt": last_value}) | Q(**{field: last_value, "id__lt": last_id})
            )
        else:
            page_qs = page_qs.filter(**{f"{field}__gte": last_value}).filter(
                Q(**{f"{field}__gt": last_value}) | Q(**{field: last_value, "id__gt": last_id})
            )
    items = list(page_qs[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode([getattr(last, field), last.pk])
    return Page(items=items, next_cursor=next_cursor, count=count if count is not None else "")

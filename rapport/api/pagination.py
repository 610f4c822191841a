"""Keyset (cursor) pagination with a capped count, so lists stay fast at a million rows.

The cursor encodes the sort values of the last row returned. The next page is
`(key < last) OR (key = last AND id < last_id)` plus a plain `key <= last` range
bound: without that bound SQLite walked the owner's whole index (PERFORMANCE.md).
"""

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet
from ninja.errors import HttpError

MAX_LIMIT = 200


@dataclass
class Page:
    items: list
    next_cursor: str | None
    count: int | str


# Cursors are signed (SECRET_KEY, with SECRET_KEY_FALLBACKS on rotation): a client can only
# hand back what a previous page gave it, so the values need no trust. They are still checked
# strictly, and bound to the sort they were made for.
_SALT = "rapport.api.pagination.cursor"
_BAD_CURSOR = "cursor is not valid; use next_cursor from the previous page"


def _encode(values: list[Any], sort: str, count: tuple[str, int | str] | None = None) -> str:
    def conv(v):
        if isinstance(v, datetime.datetime | datetime.date):
            return {"t": v.isoformat(), "k": "dt" if isinstance(v, datetime.datetime) else "d"}
        if isinstance(v, Decimal):
            return {"t": str(v), "k": "dec"}
        return v

    payload: dict[str, Any] = {"s": sort, "v": [conv(v) for v in values]}
    if count is not None:
        payload["c"] = list(count)  # [the filters' key, the count]
    return signing.dumps(payload, salt=_SALT)


def _decode(cursor: str, sort: str) -> tuple[Any, int, list | None]:
    """The last row's sort value and id, and [filters' key, count] carried from the first
    page (None in a cursor made without one)."""

    def conv(v):
        if isinstance(v, dict) and set(v) == {"t", "k"} and isinstance(v["t"], str):
            if v["k"] == "dt":
                return datetime.datetime.fromisoformat(v["t"])
            if v["k"] == "d":
                return datetime.date.fromisoformat(v["t"])
            if v["k"] == "dec":
                value = Decimal(v["t"])
                if value.is_finite():
                    return value
        elif (isinstance(v, str | int) and not isinstance(v, bool)) or (
            isinstance(v, float) and math.isfinite(v)
        ):
            return v
        raise ValueError("bad cursor value")

    try:
        payload = signing.loads(cursor, salt=_SALT)
        if not isinstance(payload, dict) or payload.get("s") != sort:
            raise ValueError("cursor of another sort")
        values = payload.get("v")
        if not isinstance(values, list) or len(values) != 2:
            raise ValueError("bad cursor")
        last_value, last_id = conv(values[0]), values[1]
        if isinstance(last_id, bool) or not isinstance(last_id, int):
            raise ValueError("bad cursor id")
        carried = payload.get("c")
        if carried is not None and not (
            isinstance(carried, list)
            and len(carried) == 2
            and isinstance(carried[0], str)
            and isinstance(carried[1], int | str)
            and not isinstance(carried[1], bool)
        ):
            raise ValueError("bad cursor count")
        return last_value, last_id, carried
    except (signing.BadSignature, ValueError, TypeError, ArithmeticError):
        raise HttpError(400, _BAD_CURSOR)


def capped_count(qs: QuerySet, within: QuerySet | None = None) -> int | str:
    """The number of rows of `qs`, or "<cap>+" past RAPPORT_COUNT_CAP.

    `within`: a part of `qs` that an index counts cheaply (a user's own rows of a list whose
    other rows need the visibility sets): when it alone passes the cap, so does `qs`, and
    `qs` is not counted. A rep's activity list counted 10,001 of their 3.5M visible rows in
    ~0.4 s at 20M activities, building every visible-record set first; their own rows
    reach the cap in milliseconds."""
    cap = settings.RAPPORT_COUNT_CAP
    if within is not None and _count_to(within, cap) > cap:
        return f"{cap}+"
    n = _count_to(qs, cap)
    return f"{cap}+" if n > cap else n


def _count_to(qs: QuerySet, cap: int) -> int:
    # Only the primary key in the counted subquery: annotations a list needs for its rows
    # (scores, which linked names may be shown) would otherwise be computed for every
    # counted row on SQLite.
    return qs.order_by().values("pk")[: cap + 1].count()


def _after(qs: QuerySet, field: str, descending: bool, value, last_id: int) -> QuerySet:
    """The rows of `qs` after (`field`, id) = (`value`, `last_id`) in the page order."""
    if descending:
        return qs.filter(**{f"{field}__lte": value}).filter(
            Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": last_id})
        )
    return qs.filter(**{f"{field}__gte": value}).filter(
        Q(**{f"{field}__gt": value}) | Q(**{field: value, "id__gt": last_id})
    )


def _upto(qs: QuerySet, field: str, descending: bool, value, last_id: int) -> QuerySet:
    """The rows of `qs` up to and including (`field`, id) = (`value`, `last_id`) in the page
    order (what _after leaves out)."""
    if descending:
        return qs.filter(**{f"{field}__gte": value}).filter(
            Q(**{f"{field}__gt": value}) | Q(**{field: value, "id__gte": last_id})
        )
    return qs.filter(**{f"{field}__lte": value}).filter(
        Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lte": last_id})
    )


# How many rows (of the list's filters, before visibility) the prefix-first page probes
# before it falls back to the visibility sets: a user who sees one row in forty fills a
# page of fifty there; one who sees less pays these probes (~10 ms) before the sets.
PREFIX_ROWS = 2000


def _prefix_first(
    page_qs: QuerySet, per_row: QuerySet, every: QuerySet, wanted: int, field: str, descending
) -> list:
    """The first `wanted` rows of `page_qs` (ordered). `per_row` is `page_qs` with its
    visibility probed per row, `every` the same filters and order without visibility.

    Where the PREFIX_ROWS-th row of `every` stands is read first (an index walk); `per_row`
    up to there probes at most PREFIX_ROWS rows. Every visible row is a row of `every`, so
    when `wanted` visible rows lie before that point they are the page: any visible row
    ahead of them would be among them. Else (a user who sees little) `page_qs` runs with
    the visibility sets, as without this; when `every` has fewer rows than PREFIX_ROWS,
    `per_row` holds all of them and is the answer."""
    edge = list(every.values_list(field, "id")[PREFIX_ROWS - 1 : PREFIX_ROWS])
    if not edge:
        return list(per_row[:wanted])
    rows = list(_upto(per_row, field, descending, *edge[0])[:wanted])
    if len(rows) == wanted:
        return rows
    return list(page_qs[:wanted])


KEEP_BATCH_MAX = 1000


def _walk_kept(page_qs: QuerySet, keep, wanted: int, field: str, descending: bool) -> list:
    """The first `wanted` rows of `page_qs` (ordered) that `keep` keeps: batches of
    `wanted` rows, four times larger each time (at most KEEP_BATCH_MAX), each after the
    last row of the one before, until enough are kept or the rows run out."""
    kept: list = []
    batch, qs = wanted, page_qs
    while True:
        rows = list(qs[:batch])
        kept += keep(rows)
        if len(kept) >= wanted or len(rows) < batch:
            return kept[:wanted]
        last = rows[-1]
        qs = _after(page_qs, field, descending, getattr(last, field), last.pk)
        batch = min(batch * 4, KEEP_BATCH_MAX)


def keyset_page(
    qs: QuerySet,
    *,
    sort: str,
    allowed: set[str],
    cursor: str | None,
    limit: int,
    with_count: bool = True,
    count_key: str | None = None,
    keep=None,
    count_within: QuerySet | None = None,
    prefix_first: tuple[QuerySet, QuerySet] | None = None,
) -> Page:
    """One page of `qs` sorted by `sort` (a field in `allowed`, `-` for descending), then id.

    `count_key`: a string naming the list's filters (and nothing of the page: not the
    cursor, not the limit). With it, the count taken on the first page travels in the
    cursor and later pages of the SAME filters reuse it instead of counting again (at a
    million rows the capped count was the costliest statement of a deep page); a page
    reports the count when the walk began. Without it (or for a cursor of other filters)
    every page counts.

    `keep`: a function narrowing a list of rows to those to show, in order (visibility
    decided on the rows: `timeline.selectors.timeline_candidates`). The page is then filled
    by walking `qs` in its order, in batches (`limit + 1`, then growing), until `limit + 1`
    rows are kept or `qs` ends; the next cursor is the last row shown, as without it.
    Needs `with_count=False` (the count would be of `qs`, not of the kept rows).

    `count_within`: a part of `qs` that may answer the count alone (capped_count).

    `prefix_first`: (`per_row`, `every`): `per_row` holds the same rows as `qs` with their
    visibility probed row by row, `every` the same filters without visibility (never
    shown). The page is first looked for among the first PREFIX_ROWS rows of `every`
    (_prefix_first), and `qs` runs only when too few of them are visible."""
    if keep is not None and with_count:
        raise ValueError("keyset_page(keep=…) has no count")
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    if field not in allowed:
        raise HttpError(
            400, f"sort must be one of {', '.join(sorted(allowed))} (prefix - to reverse)"
        )
    limit = max(1, min(limit, MAX_LIMIT))
    last_value = last_id = count = None
    if cursor:
        last_value, last_id, carried = _decode(cursor, sort)
        if carried is not None and count_key is not None and carried[0] == count_key:
            count = carried[1]
    if with_count and count is None:
        count = capped_count(qs, count_within)
    ordering = [f"-{field}", "-id"] if descending else [field, "id"]
    page_qs = qs.order_by(*ordering)
    if cursor:
        page_qs = _after(page_qs, field, descending, last_value, last_id)
    if keep is None and prefix_first is not None:
        per_row, every = (source.order_by(*ordering) for source in prefix_first)
        if cursor:
            per_row = _after(per_row, field, descending, last_value, last_id)
            every = _after(every, field, descending, last_value, last_id)
        items = _prefix_first(page_qs, per_row, every, limit + 1, field, descending)
    elif keep is None:
        items = list(page_qs[: limit + 1])
    else:
        items = _walk_kept(page_qs, keep, limit + 1, field, descending)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        carry = (count_key, count) if with_count and count_key is not None else None
        next_cursor = _encode([getattr(last, field), last.pk], sort, carry)
    if not with_count:
        count = None
    return Page(items=items, next_cursor=next_cursor, count=count if count is not None else "")

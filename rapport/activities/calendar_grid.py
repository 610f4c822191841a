"""The calendar's hour grid (day and week views): each day a column, each half hour a row;
meetings span their time; tasks due that day are listed above the hours, by due time (a
day's tasks often share one time — "by 9:00" — and would hide each other in the grid).
Drawn by CSS grid classes (no inline styles): `at-N` (first row), `span-N` (rows), `day-N`
(column), and side-by-side lanes for meetings that overlap."""

import datetime
from dataclasses import dataclass, field

from django.utils import timezone

SLOT_MINUTES = 30
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
# Working hours shown when nothing falls outside them.
DEFAULT_FIRST_HOUR, DEFAULT_LAST_HOUR = 7, 19
MAX_LANES = 3


@dataclass
class Placed:
    item: dict
    start: int  # slot of the day
    end: int  # slot after the last one
    lane: int = 0
    lanes: int = 1
    css: str = ""


@dataclass
class Column:
    date: datetime.date
    today: bool
    index: int
    timed: list[Placed] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)  # due that day, by due time
    day_url: str = ""


def _slot(value: datetime.datetime) -> int:
    local = timezone.localtime(value)
    return (local.hour * 60 + local.minute) // SLOT_MINUTES


def _place(item: dict, day: datetime.date) -> Placed | None:
    start = item["start"]
    local = timezone.localtime(start)
    if item["kind"] == "task":
        return None
    first = _slot(start) if local.date() == day else 0
    end_at = item.get("end")
    if end_at and end_at > start:
        local_end = timezone.localtime(end_at)
        if local_end.date() > day:
            last = SLOTS_PER_DAY
        else:
            minutes = local_end.hour * 60 + local_end.minute
            last = -(-minutes // SLOT_MINUTES)  # round up to the slot's end
    else:
        last = first + 1
    return Placed(item=item, start=first, end=max(last, first + 1))


def _lanes(placed: list[Placed]) -> None:
    """Side by side for overlapping items: each cluster of overlaps shares its width."""
    placed.sort(key=lambda p: (p.start, -p.end))
    cluster: list[Placed] = []
    cluster_end = -1
    lane_ends: list[int] = []

    def close():
        for p in cluster:
            p.lanes = min(max(len(lane_ends), 1), MAX_LANES)
            p.lane = min(p.lane, MAX_LANES - 1)

    for p in placed:
        if cluster and p.start >= cluster_end:
            close()
            cluster, lane_ends = [], []
        for lane, end in enumerate(lane_ends):
            if end <= p.start:
                p.lane, lane_ends[lane] = lane, p.end
                break
        else:
            p.lane = len(lane_ends)
            lane_ends.append(p.end)
        cluster.append(p)
        cluster_end = max(cluster_end, p.end)
    if cluster:
        close()


def hour_grid(days: list[datetime.date], by_day: dict, today: datetime.date) -> dict:
    """Columns of placed items and the hours shown (working hours, widened to every item)."""
    columns = []
    for index, day in enumerate(days):
        column = Column(date=day, today=day == today, index=index)
        for item in by_day.get(day, []):
            placed = _place(item, day)
            if placed is None:
                column.tasks.append(item)
            else:
                column.timed.append(placed)
        _lanes(column.timed)
        columns.append(column)
    timed = [p for c in columns for p in c.timed]
    first = min([DEFAULT_FIRST_HOUR * 2, *(p.start for p in timed)])
    last = max([DEFAULT_LAST_HOUR * 2, *(p.end for p in timed)])
    first -= first % 2  # whole hours
    last += last % 2
    for column in columns:
        for p in column.timed:
            row = p.start - first + 1
            span = p.end - p.start
            p.css = f"at-{row} span-{span} day-{column.index} lane-{p.lane} lanes-{p.lanes}"
    hours = [
        {"label": f"{slot // 2:02d}:00", "css": f"at-{slot - first + 1} span-2"}
        for slot in range(first, last, 2)
    ]
    return {
        "columns": columns,
        "hours": hours,
        "rows": last - first,
        "has_tasks": any(c.tasks for c in columns),
    }


def grid_css() -> str:
    """The CSS classes the grid uses (pasted into rapport.css; a test keeps them in sync)."""
    rules = [f".hour-grid .at-{n} {{ grid-row-start: {n}; }}" for n in range(1, SLOTS_PER_DAY + 1)]
    rules += [
        f".hour-grid .span-{n} {{ grid-row-end: span {n}; }}" for n in range(1, SLOTS_PER_DAY + 1)
    ]
    rules += [f".hour-grid .day-{n} {{ grid-column-start: {n + 2}; }}" for n in range(7)]
    return "\n".join(rules)

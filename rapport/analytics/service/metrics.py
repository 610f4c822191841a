"""Call-centre metrics over cases: volume, response and resolution times in business time,
SLA attainment, backlog by age, reopen rate and per-agent productivity.

Counts and shares are aggregated in the database (GROUP BY / conditional COUNT). The
business-time figures need each case's two moments: they are read as epoch seconds (two
floats a row, no model instances) and turned into business minutes with numpy against the
calendar's open intervals (one cumulative table per calendar, `searchsorted` per moment),
so 100k cases cost a single query and a few vectorised passes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, FloatField, Func, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from rapport.calendars.clock import CalendarSpec, spec_of
from rapport.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseCategory,
    CaseChannel,
    CaseEntry,
    CaseEntryKind,
    Queue,
)
from rapport.identity.models import Role, User
from rapport.records.dates import check_date_range
from rapport.records.exceptions import PermissionDenied

# Without a queue calendar: Monday–Friday 09:00–17:00 in the site's time zone.
DEFAULT_PERIODS = {d: [(datetime.time(9), datetime.time(17))] for d in range(5)}
BACKLOG_BUCKETS = (  # (label, lower bound in days, upper bound in days or None)
    ("< 1 day", 0, 1),
    ("1–3 days", 1, 3),
    ("3–7 days", 3, 7),
    ("7–30 days", 7, 30),
    ("> 30 days", 30, None),
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_RANGE_DAYS = 731


def default_spec() -> CalendarSpec:
    return CalendarSpec(time_zone=settings.TIME_ZONE, periods=DEFAULT_PERIODS)


class Epoch(Func):
    """A datetime column as seconds since 1970 (a float), on SQLite and PostgreSQL."""

    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)")


# ----- who sees what ---------------------------------------------------------------------


def may_see_whole_desk(user: User) -> bool:
    return user.is_active and (user.is_admin or user.role == Role.MANAGER)


def service_cases_for(user: User) -> QuerySet[Case]:
    """The cases whose metrics `user` may see: every live case for administrators and
    managers, the cases of their own queues for queue members; anyone else is refused."""
    live = Case.objects.filter(deleted_at__isnull=True, merged_into__isnull=True)
    if may_see_whole_desk(user):
        return live
    if user.is_active:
        queue_ids = list(Queue.objects.filter(memberships__user=user).values_list("id", flat=True))
        if queue_ids:
            return live.filter(queue_id__in=queue_ids)
    raise PermissionDenied(
        "Service metrics are for managers, administrators and queue members", "forbidden"
    )


@dataclass(frozen=True)
class MetricsFilter:
    start: datetime.date
    end: datetime.date  # inclusive
    queue_id: int | None = None
    category_id: int | None = None
    channel: str | None = None

    @property
    def start_at(self) -> datetime.datetime:
        return _day_start(self.start)

    @property
    def end_at(self) -> datetime.datetime:
        """Exclusive: the start of the day after `end`."""
        return _day_start(self.end + datetime.timedelta(days=1))


DEFAULT_RANGE_DAYS = 28


def parse_filters(
    *,
    user: User,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    queue: int | None = None,
    category: int | None = None,
    channel: str | None = None,
) -> MetricsFilter:
    """The checked filter of a request: refuses users without access (PermissionDenied), a
    range that is reversed or longer than two years, a queue the user is not offered, an
    unknown category or channel (ValidationError naming the field)."""
    service_cases_for(user)  # access first: a refused user learns nothing about queues
    check_date_range(start, "start")
    check_date_range(end, "end")
    end = end or timezone.localdate()
    start = start or end - datetime.timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise ValidationError({"start": ValidationError("Start is after end", code="range")})
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationError(
            {"end": ValidationError("The range is longer than two years", code="range")}
        )
    if queue is not None:
        allowed = {q["id"] for q in service_filter_choices(user)["queues"]}
        if queue not in allowed:
            raise ValidationError({"queue": ValidationError("No such queue", code="unknown")})
    if category is not None and not CaseCategory.objects.filter(pk=category).exists():
        raise ValidationError({"category": ValidationError("No such category", code="unknown")})
    if channel and channel not in CaseChannel.values:
        raise ValidationError({"channel": ValidationError("No such channel", code="unknown")})
    return MetricsFilter(
        start=start, end=end, queue_id=queue, category_id=category, channel=channel or None
    )


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone())


def filtered(cases: QuerySet[Case], f: MetricsFilter) -> QuerySet[Case]:
    if f.queue_id:
        cases = cases.filter(queue_id=f.queue_id)
    if f.category_id:
        cases = cases.filter(Q(category_id=f.category_id) | Q(subcategory_id=f.category_id))
    if f.channel:
        cases = cases.filter(channel=f.channel)
    return cases


# ----- business time, vectorised ---------------------------------------------------------


def _open_intervals(spec: CalendarSpec, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The calendar's open intervals (epoch seconds) covering [lo, hi]."""
    zone = spec.zone
    day = datetime.datetime.fromtimestamp(lo, zone).date() - datetime.timedelta(days=1)
    last = datetime.datetime.fromtimestamp(hi, zone).date() + datetime.timedelta(days=1)
    starts, ends = [], []
    while day <= last:
        for open_at, close_at in spec.open_periods(day):
            starts.append(open_at.timestamp())
            ends.append(close_at.timestamp())
        day += datetime.timedelta(days=1)
    return np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)


def business_minutes_vector(spec: CalendarSpec, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """business_minutes_between for many pairs of epoch seconds at once (b < a gives 0)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0:
        return np.zeros(0)
    starts, ends = _open_intervals(spec, float(min(a.min(), b.min())), float(max(a.max(), b.max())))
    if starts.size == 0:
        return np.zeros(a.shape)
    lengths = ends - starts
    before = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))  # open seconds before interval i

    def elapsed(t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(starts, t, side="right") - 1
        inside = np.clip(t - starts[np.maximum(i, 0)], 0, lengths[np.maximum(i, 0)])
        return np.where(i < 0, 0.0, before[np.maximum(i, 0)] + inside)

    return np.maximum(elapsed(b) - elapsed(a), 0.0) / 60.0


def _calendar_specs(queue_ids) -> dict[int | None, CalendarSpec]:
    """Each queue's calendar (queues without one and cases without a queue: the default)."""
    default = default_spec()
    specs: dict[int | None, CalendarSpec] = {None: default}
    queues = Queue.objects.filter(pk__in=[q for q in queue_ids if q is not None]).select_related(
        "calendar"
    )
    loaded: dict[int, CalendarSpec] = {}
    for queue in queues:
        if queue.calendar_id is None:
            specs[queue.pk] = default
            continue
        if queue.calendar_id not in loaded:
            loaded[queue.calendar_id] = spec_of(queue.calendar)
        specs[queue.pk] = loaded[queue.calendar_id]
    return specs


def _business_minutes(rows: np.ndarray) -> np.ndarray:
    """rows: [queue_id (nan for none), a, b] → business minutes per row, each queue on its
    own calendar (grouped by calendar, not looped per row)."""
    if rows.size == 0:
        return np.zeros(0)
    queues = rows[:, 0]
    minutes = np.zeros(rows.shape[0])
    present = [int(q) for q in np.unique(queues[~np.isnan(queues)])]
    specs = _calendar_specs(present)
    by_spec: dict[int, tuple[CalendarSpec, np.ndarray]] = {}
    for key, spec in specs.items():
        mask = np.isnan(queues) if key is None else queues == key
        if not mask.any():
            continue
        sid = id(spec)
        if sid in by_spec:
            by_spec[sid] = (spec, by_spec[sid][1] | mask)
        else:
            by_spec[sid] = (spec, mask)
    for spec, mask in by_spec.values():
        minutes[mask] = business_minutes_vector(spec, rows[mask, 1], rows[mask, 2])
    return minutes


def _durations(qs: QuerySet[Case], start_field: str, end_field: str, *extra: str) -> np.ndarray:
    """[queue_id, start, end, *extra] as floats (epoch seconds), one query."""
    values = qs.annotate(_a=Epoch(start_field), _b=Epoch(end_field)).values_list(
        "queue_id", "_a", "_b", *extra
    )
    data = np.array(list(values), dtype=float).reshape(-1, 3 + len(extra))
    return data


def _stats(minutes: np.ndarray) -> dict:
    """Median and p90 (linear interpolation, as PostgreSQL's percentile_cont)."""
    if minutes.size == 0:
        return {"cases": 0, "median_minutes": None, "p90_minutes": None, "mean_minutes": None}
    return {
        "cases": int(minutes.size),
        "median_minutes": round(float(np.median(minutes)), 2),
        "p90_minutes": round(float(np.percentile(minutes, 90)), 2),
        "mean_minutes": round(float(minutes.mean()), 2),
    }


# ----- the metrics -----------------------------------------------------------------------


def _volume(created: QuerySet[Case]) -> dict:
    by_category = list(
        created.values("category_id", name=F("category__name"))
        .annotate(cases=Count("id"))
        .order_by("-cases", "name")
    )
    for row in by_category:
        row["name"] = row["name"] or "Uncategorised"
    by_category.sort(key=lambda r: (-r["cases"], r["category_id"] is None, r["name"]))
    by_channel = {
        row["channel"]: row["cases"]
        for row in created.values("channel").annotate(cases=Count("id")).order_by()
    }
    hours = dict(
        created.annotate(h=ExtractHour("created_at"))
        .values("h")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("h", "n")
    )
    weekdays = dict(
        created.annotate(d=ExtractIsoWeekDay("created_at"))
        .values("d")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("d", "n")
    )
    return {
        "total": sum(hours.values()),
        "by_category": [
            {"category_id": r["category_id"], "name": r["name"], "cases": r["cases"]}
            for r in by_category
        ],
        "by_channel": [
            {"channel": value, "label": label, "cases": by_channel.get(value, 0)}
            for value, label in CaseChannel.choices
        ],
        "by_hour": [{"hour": h, "cases": hours.get(h, 0)} for h in range(24)],
        "by_weekday": [
            {"weekday": i + 1, "label": WEEKDAYS[i], "cases": weekdays.get(i + 1, 0)}
            for i in range(7)
        ],
    }


def _sla(created: QuerySet[Case], now: datetime.datetime) -> dict:
    """Share of cases that met each target among those whose outcome is known, read from
    the SLA clock's own events (rapport.sla): a "met" event says whether the target was
    breached first; a case still running past its due time has missed it; one running
    before it is pending. (The case's *_due_at columns are cleared once a target is met,
    so they cannot tell a met target from one that never had a policy.)"""
    from rapport.sla.models import SlaEvent, SlaEventKind

    def met(metric: str, breached: bool):
        return Exists(
            SlaEvent.objects.filter(
                case=OuterRef("pk"),
                metric=metric,
                cycle=0,
                kind=SlaEventKind.MET,
                payload__breached=breached,
            )
        )

    annotated = created.annotate(
        fr_ok=met("first_response", False),
        fr_late=met("first_response", True),
        res_ok=met("resolution", False),
        res_late=met("resolution", True),
        has_clock=Exists(SlaEvent.objects.filter(case=OuterRef("pk"), kind=SlaEventKind.STARTED)),
    )
    fr_over = Q(first_response_due_at__lt=now, fr_ok=False, fr_late=False)
    fr_pending = Q(first_response_due_at__gte=now, fr_ok=False, fr_late=False)
    res_over = Q(resolution_due_at__lt=now, res_ok=False, res_late=False)
    res_pending = Q(resolution_due_at__gte=now, res_ok=False, res_late=False)
    agg = annotated.aggregate(
        fr_met=Count("id", filter=Q(fr_ok=True)),
        fr_known=Count("id", filter=Q(fr_ok=True) | Q(fr_late=True) | fr_over),
        fr_pending=Count("id", filter=fr_pending),
        res_met=Count("id", filter=Q(res_ok=True)),
        res_known=Count("id", filter=Q(res_ok=True) | Q(res_late=True) | res_over),
        res_pending=Count("id", filter=res_pending),
        no_targets=Count("id", filter=Q(has_clock=False)),
    )

    def share(met, known):
        return round(met / known, 4) if known else None

    return {
        "first_response": {
            "met": agg["fr_met"],
            "measured": agg["fr_known"],
            "pending": agg["fr_pending"],
            "attainment": share(agg["fr_met"], agg["fr_known"]),
        },
        "resolution": {
            "met": agg["res_met"],
            "measured": agg["res_known"],
            "pending": agg["res_pending"],
            "attainment": share(agg["res_met"], agg["res_known"]),
        },
        "cases_without_targets": agg["no_targets"],
    }


def _backlog(cases: QuerySet[Case], now: datetime.datetime) -> dict:
    open_cases = cases.filter(status__in=OPEN_STATUSES)
    counts = {}
    for i, (_label, lo, hi) in enumerate(BACKLOG_BUCKETS):
        cond = Q(created_at__lte=now - datetime.timedelta(days=lo))
        if hi is not None:
            cond &= Q(created_at__gt=now - datetime.timedelta(days=hi))
        counts[f"b{i}"] = Count("id", filter=cond)
    agg = open_cases.aggregate(total=Count("id"), **counts)
    return {
        "open": agg["total"],
        "buckets": [
            {"label": label, "min_days": lo, "max_days": hi, "cases": agg[f"b{i}"]}
            for i, (label, lo, hi) in enumerate(BACKLOG_BUCKETS)
        ],
    }


def _agents(cases: QuerySet[Case], f: MetricsFilter) -> list[dict]:
    """Per agent: cases resolved in the range (owner), public replies written in the range,
    and the median handle time (business minutes from creation to resolution of the cases
    they resolved)."""
    resolved = cases.filter(
        resolved_at__gte=f.start_at, resolved_at__lt=f.end_at, owner__isnull=False
    )
    rows = _durations(resolved, "created_at", "resolved_at", "owner_id")
    minutes = _business_minutes(rows[:, :3]) if rows.size else np.zeros(0)
    per_owner: dict[int, dict] = {}
    if rows.size:
        owners = rows[:, 3].astype(int)
        order = np.argsort(owners, kind="stable")
        keys, first = np.unique(owners[order], return_index=True)
        for key, chunk in zip(keys, np.split(minutes[order], first[1:]), strict=True):
            per_owner[int(key)] = {
                "resolved": int(chunk.size),
                "median_handle_minutes": round(float(np.median(chunk)), 2),
            }
    replies = dict(
        CaseEntry.objects.filter(
            case__in=cases,
            kind=CaseEntryKind.REPLY,
            created_at__gte=f.start_at,
            created_at__lt=f.end_at,
            author__isnull=False,
        )
        .values("author_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("author_id", "n")
    )
    ids = set(per_owner) | set(replies)
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).order_by()}
    out = []
    for uid in ids:
        user = users.get(uid)
        stats = per_owner.get(uid, {"resolved": 0, "median_handle_minutes": None})
        out.append(
            {
                "user_id": uid,
                "name": (user.get_full_name() or user.username) if user else f"User {uid}",
                "resolved": stats["resolved"],
                "replies": int(replies.get(uid, 0)),
                "median_handle_minutes": stats["median_handle_minutes"],
            }
        )
    out.sort(key=lambda r: (-r["resolved"], -r["replies"], r["name"]))
    return out


def service_metrics(
    *, user: User, filters: MetricsFilter, now: datetime.datetime | None = None
) -> dict:
    """The call-centre metrics of the cases `user` may see (service_cases_for), filtered by
    queue / category / channel: volume, times, SLA attainment and reopen rate over the cases
    created in the range, resolution time and agents over the cases resolved in it, backlog
    as of now."""
    now = now or timezone.now()
    cases = filtered(service_cases_for(user), filters)
    created = cases.filter(created_at__gte=filters.start_at, created_at__lt=filters.end_at)

    fr_rows = _durations(
        created.filter(first_response_at__isnull=False), "created_at", "first_response_at"
    )
    resolved_in_range = cases.filter(
        resolved_at__gte=filters.start_at, resolved_at__lt=filters.end_at
    )
    res_rows = _durations(resolved_in_range, "created_at", "resolved_at")
    reopen = created.aggregate(
        cases=Count("id"), reopened=Count("id", filter=Q(reopened_count__gt=0))
    )
    volume = _volume(created)
    return {
        "range": {"start": filters.start, "end": filters.end},
        "filters": {
            "queue_id": filters.queue_id,
            "category_id": filters.category_id,
            "channel": filters.channel,
        },
        "volume": volume,
        "first_response": _stats(_business_minutes(fr_rows)),
        "resolution": _stats(_business_minutes(res_rows)),
        "sla": _sla(created, now),
        "backlog": _backlog(cases, now),
        "reopen": {
            "cases": reopen["cases"],
            "reopened": reopen["reopened"],
            "rate": round(reopen["reopened"] / reopen["cases"], 4) if reopen["cases"] else None,
        },
        "agents": _agents(cases, filters),
    }


def service_filter_choices(user: User) -> dict:
    """The queues (all for managers, own for members) and categories the filter offers."""
    if may_see_whole_desk(user):
        queues = Queue.objects.all()
    else:
        queues = Queue.objects.filter(memberships__user=user)
    return {
        "queues": list(queues.values("id", "name")),
        "categories": list(CaseCategory.objects.filter(is_active=True).values("id", "name")),
    }

"""The SLA clock as a pure function of a case's history.

`compute_clock(inputs, rules, now)` takes the case's recorded inputs (opened, status
changes, agent and customer replies — SlaEvent rows of the INPUT_KINDS, or plain
`ClockInput`s in tests) and the policy's rules (targets, paused statuses, calendar) and
returns each metric's state: running / paused / stopped / met, the business minutes
elapsed, and the instants of its warning, breach (its due time) and second escalation.
Nothing here reads the database or the current time, so a changed policy or calendar is
applied by calling it again over the same history.

Rules of the clock (documented in docs/architecture.md):
- Every metric counts only while the case's status is neither a paused status of the
  policy nor resolved/closed; with a calendar, only open business time counts.
- first_response: from opening to the first agent reply.
- next_response: each customer message after the first response, while no cycle is
  open, starts a cycle (1, 2, …) that the next agent reply meets.
- resolution: from opening until the case is resolved or closed; a reopened case
  resumes it with the time already spent.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapport.calendars.clock import CalendarSpec, add_business_minutes, business_minutes_between

METRICS = ("first_response", "next_response", "resolution")
STOPPED_STATUSES = frozenset({"resolved", "closed"})

RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"  # resolved or closed before this response was given
MET = "met"


@dataclass(frozen=True)
class ClockInput:
    at: datetime.datetime
    kind: str  # opened | status | agent_reply | customer_reply
    status: str = ""  # opened: the initial status; status: the new status


@dataclass(frozen=True)
class ClockRules:
    first_response: int | None = None  # target minutes; None: not measured
    next_response: int | None = None
    resolution: int | None = None
    pause_statuses: frozenset[str] = frozenset({"pending_customer", "on_hold"})
    spec: CalendarSpec | None = None  # None: 24×7
    warn_minutes_before: int | None = None
    warn_percent_before: int | None = None
    second_level_after: int | None = None

    def target(self, metric: str) -> int | None:
        return getattr(self, metric)

    def warn_threshold(self, target: int) -> float | None:
        if self.warn_minutes_before:
            return max(0.0, target - self.warn_minutes_before)
        if self.warn_percent_before:
            return max(0.0, target * (100 - self.warn_percent_before) / 100)
        return None


Interval = tuple[datetime.datetime, datetime.datetime | None]  # None: still running


@dataclass
class MetricClock:
    metric: str
    target: int
    cycle: int = 0
    state: str = RUNNING
    started_at: datetime.datetime | None = None
    met_at: datetime.datetime | None = None
    elapsed: float = 0.0  # business minutes counted until met or `now`
    warn_at: datetime.datetime | None = None
    due_at: datetime.datetime | None = None  # the breach instant
    second_at: datetime.datetime | None = None
    intervals: list[Interval] = field(default_factory=list)

    @property
    def breached(self) -> bool:
        return self.due_at is not None and self.elapsed > self.target

    @property
    def pending(self) -> bool:
        """Counting now: its due time is a real deadline."""
        return self.state == RUNNING

    def thresholds(self) -> list[tuple[str, datetime.datetime]]:
        """(kind, instant) of the escalations this metric reaches while it is not met."""
        found = []
        for kind, instant in (
            ("warned", self.warn_at),
            ("breached", self.due_at),
            ("escalated", self.second_at),
        ):
            if instant is not None and (self.met_at is None or instant < self.met_at):
                found.append((kind, instant))
        return found


def _minutes(spec: CalendarSpec | None, a: datetime.datetime, b: datetime.datetime) -> float:
    if spec is None:
        return max(0.0, (b - a).total_seconds() / 60)
    return business_minutes_between(spec, a, b)


def _add(spec: CalendarSpec | None, a: datetime.datetime, minutes: float) -> datetime.datetime:
    if spec is None:
        return a + datetime.timedelta(minutes=minutes)
    return add_business_minutes(spec, a, minutes)


def _crossing(
    spec: CalendarSpec | None, intervals: list[Interval], threshold: float
) -> datetime.datetime | None:
    """The instant the counted time reaches `threshold` (None if it never does)."""
    counted = 0.0
    for a, b in intervals:
        length = float("inf") if b is None else _minutes(spec, a, b)
        if counted + length >= threshold:
            return _add(spec, a, threshold - counted)
        counted += length
    return None


def _clip(windows: list[Interval], start, stop) -> list[Interval]:
    """The parts of the running windows inside [start, stop) (stop None: open)."""
    out: list[Interval] = []
    for a, b in windows:
        lo = max(a, start)
        if stop is None:
            hi = b
        else:
            hi = stop if b is None else min(b, stop)
        if hi is None or hi > lo:
            out.append((lo, hi))
    return out


def _elapsed(spec, intervals: list[Interval], now: datetime.datetime) -> float:
    total = 0.0
    for a, b in intervals:
        end = now if b is None else min(b, now)
        if end > a:
            total += _minutes(spec, a, end)
    return total


def compute_clock(
    inputs: Iterable[ClockInput], rules: ClockRules, now: datetime.datetime
) -> dict[str, MetricClock]:
    """Each measured metric's clock (next_response: its latest cycle, if any) from the
    case's inputs in recorded order. Pure: same inputs, same answer."""
    inputs = sorted(inputs, key=lambda i: i.at)  # stable: same-instant inputs keep order
    if not inputs:
        return {}
    opened = inputs[0].at
    status = inputs[0].status or "new"

    def counting(s: str) -> bool:
        return s not in rules.pause_statuses and s not in STOPPED_STATUSES

    # The windows in which the case's status lets clocks run.
    windows: list[Interval] = []
    run_from = opened if counting(status) else None
    first_reply: datetime.datetime | None = None
    cycles: list[list] = []  # [start, met_at | None]
    resolved_at: datetime.datetime | None = None
    for item in inputs:
        if item.kind in ("opened", "status") and item.status:
            new = item.status
            if counting(new) and run_from is None:
                run_from = item.at
            elif not counting(new) and run_from is not None:
                if item.at > run_from:
                    windows.append((run_from, item.at))
                run_from = None
            if new in STOPPED_STATUSES and status not in STOPPED_STATUSES:
                resolved_at = item.at
            elif new not in STOPPED_STATUSES:
                resolved_at = None
            status = new
        elif item.kind == "agent_reply":
            if first_reply is None:
                first_reply = item.at
            elif cycles and cycles[-1][1] is None:
                cycles[-1][1] = item.at
        elif (
            item.kind == "customer_reply"
            and first_reply is not None
            and (not cycles or cycles[-1][1] is not None)
        ):
            cycles.append([item.at, None])
    if run_from is not None:
        windows.append((run_from, None))
    paused_now = not counting(status)
    stopped_now = status in STOPPED_STATUSES

    spans: dict[str, tuple[datetime.datetime, datetime.datetime | None, int]] = {}
    if rules.first_response is not None:
        spans["first_response"] = (opened, first_reply, 0)
    if rules.next_response is not None and cycles:
        start, met = cycles[-1]
        spans["next_response"] = (start, met, len(cycles))
    if rules.resolution is not None:
        spans["resolution"] = (opened, resolved_at if stopped_now else None, 0)

    result: dict[str, MetricClock] = {}
    for metric, (start, stop, cycle) in spans.items():
        target = rules.target(metric)
        intervals = _clip(windows, start, stop)
        clock = MetricClock(
            metric=metric, target=target, cycle=cycle, started_at=start, intervals=intervals
        )
        if stop is not None:
            clock.state, clock.met_at = MET, stop
        elif stopped_now:
            clock.state = STOPPED
        elif paused_now:
            clock.state = PAUSED
        clock.elapsed = _elapsed(rules.spec, intervals, stop or now)
        clock.due_at = _crossing(rules.spec, intervals, target)
        warn = rules.warn_threshold(target)
        if warn is not None and warn < target:
            clock.warn_at = _crossing(rules.spec, intervals, warn)
        if rules.second_level_after:
            clock.second_at = _crossing(rules.spec, intervals, target + rules.second_level_after)
        result[metric] = clock
    return result

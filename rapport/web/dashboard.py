"""Reads of the home dashboard: my tasks, my open pipeline by stage, won revenue by month
and recent activity on my records.

"My records" are the ones the user answers for: those they own and, for a manager, those of
the teams they manage (down the hierarchy); an admin answers for everything. That scope is
always applied on top of `visible()`, so the dashboard never shows more than the lists do
(and a public-read organisation does not turn a rep's dashboard into everyone's).

Every number is an SQL aggregate; each block is a fixed number of queries, whatever the
number of records (see test_dashboard's query-count tests).
"""

import calendar
import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.activities.models import Activity, ActivityKind
from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import answers_for, managed_team_ids, visible, visible_ids
from rapport.sales.models import Opportunity, Stage, StageKind, StageTotal
from rapport.sales.selectors import (
    ExchangeRateMissing,
    convert_to_org_currency,
    exchange_rate_table,
)
from rapport.timeline.models import TimelineEvent
from rapport.timeline.selectors import candidate_rows, visible_events
from rapport.web.links import record_url

TASKS_DUE_LIMIT = 20
TASKS_UPCOMING_LIMIT = 5
RECENT_EVENTS_LIMIT = 20
WON_MONTHS = 12
CENT = Decimal("0.01")

# The records an event can be about, the most specific first (an opportunity's event also
# carries its account).
EVENT_SUBJECTS = (
    ("opportunity", Opportunity),
    ("lead", Lead),
    ("contact", Contact),
    ("account", Account),
)


# ----- scope --------------------------------------------------------------------------


def responsibility(user: User) -> Q | None:
    """The records the user answers for, as a filter on owner/team (None: all, for admins)."""
    if user.is_admin:
        return None
    q = Q(owner_id=user.pk)
    teams = managed_team_ids(user)
    if teams:
        q |= Q(team_id__in=teams)
    return q


def my_records(model, user: User) -> QuerySet:
    """Active records of `model` the user may see and answers for.

    What a non-admin answers for (owned by them, or in a team they manage) is always visible
    to them: those are two of `visible()`'s grants. So for them the scope alone is the
    filter, without `visible()`'s ORed grants and share subquery around it: less to build
    and compile per call, and `owner_id = …` is a plain index condition for the planner
    (the pipeline and won-by-month aggregates, the recent events' candidates)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return model.objects.none()
    scope = responsibility(user)
    if scope is None:
        return visible(model.objects.all(), user)
    return model.objects.filter(scope)


def scope_label(user: User) -> str:
    """Whose numbers the dashboard shows, in words."""
    if user.is_admin:
        return "Everyone's"
    if managed_team_ids(user):
        return "Your teams'"
    return "Your"


# ----- tasks --------------------------------------------------------------------------


@dataclass
class Tasks:
    overdue: list[Activity]
    today: list[Activity]
    upcoming: list[Activity]
    more_due: bool  # more overdue/today tasks than shown

    @property
    def due_count(self) -> int:
        return len(self.overdue) + len(self.today)


def _end_of_today(now: datetime.datetime) -> datetime.datetime:
    tomorrow = timezone.localtime(now).date() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time.min))


def _subject_flags(rows, user: User, *, mine_only: bool) -> None:
    """Set `show_<field>` on each row (a task or an event, fetched with its linked records):
    whether the linked record may be shown. `mine_only`: the records the user answers for
    (`my_records`: active, visible, theirs or their teams'; an admin's: every active one);
    otherwise every active record the user may see (`visible()`), asked once per model on
    the few ids that are not the user's own (`visible_ids`, one statement at most) instead
    of a probe subquery per row and model compiled into the block's query."""
    admin = user.is_admin and user.is_active
    loaded = [
        (row, name, model, getattr(row, name) if getattr(row, f"{name}_id") else None)
        for row in rows
        for name, model in EVENT_SUBJECTS
    ]
    seen: dict = {}
    if not mine_only and not admin:
        wanted = {model: set() for _, model in EVENT_SUBJECTS}
        known = {model: set() for _, model in EVENT_SUBJECTS}
        for _, _, model, record in loaded:
            if record is not None and record.deleted_at is None:
                wanted[model].add(record.pk)
                if answers_for(record, user):
                    known[model].add(record.pk)
        seen = visible_ids(user, wanted, known)
    for row, name, model, record in loaded:
        if record is None or record.deleted_at is not None or not user.is_active:
            show = False
        elif admin:
            show = True
        elif mine_only:
            show = answers_for(record, user)
        else:
            show = record.pk in seen[model]
        setattr(row, f"show_{name}", show)


def _first_shown(row):
    """The most specific linked record of an event or a task that may be shown, or None:
    a row may also name a record the user may not see (a call on my account about someone
    else's opportunity; my task on a record given away since)."""
    return next(
        (getattr(row, name) for name, _ in EVENT_SUBJECTS if getattr(row, f"show_{name}")),
        None,
    )


def _task_base(user: User) -> QuerySet[Activity]:
    # The user's own tasks are all visible to them (activities_visible_to: "and those the
    # user owns"), so the visibility filter is left out of the SQL: its ORed IN-subqueries
    # made the database collect every record the user may see (a scan of their 160,000
    # contacts at a million) and kept it off the (owner, done, due_at) index. Whether each
    # linked record may be named is decided on the rows (`_subject_flags`).
    return Activity.objects.filter(owner_id=user.pk, kind=ActivityKind.TASK).select_related(
        *(name for name, _ in EVENT_SUBJECTS)
    )


def _task_rows(tasks, now: datetime.datetime, user: User) -> list[Activity]:
    tasks = list(tasks)
    _subject_flags(tasks, user, mine_only=False)
    for task in tasks:
        task.subject_record = _first_shown(task)
        task.subject_url = record_url(task.subject_record)
        task.overdue = bool(not task.done and task.due_at and task.due_at < now)
    return tasks


def dashboard_tasks(*, user: User, now: datetime.datetime | None = None) -> Tasks:
    """The user's open tasks: overdue and due today (earliest first), and the next few
    with a later date or none. Two or three queries."""
    now = now or timezone.now()
    end = _end_of_today(now)
    # `done IN (false)`, not `done = false`: SQLite writes the latter `NOT done`, which the
    # (owner, done, due_at) index cannot serve (every task of the owner was read and sorted).
    base = _task_base(user).filter(done__in=[False])
    due = list(base.filter(due_at__lt=end).order_by("due_at", "id")[: TASKS_DUE_LIMIT + 1])
    # Later dates first, then undated: two queries, each a range of the (owner, done,
    # due_at) index. `due_at >= … OR due_at IS NULL` in one query made PostgreSQL read
    # every open task of the owner after the index and sort them (24,772 rows for a rep at
    # a million contacts); the second query runs only when the first leaves room.
    upcoming = list(base.filter(due_at__gte=end).order_by("due_at", "id")[:TASKS_UPCOMING_LIMIT])
    if len(upcoming) < TASKS_UPCOMING_LIMIT:
        undated = base.filter(due_at__isnull=True).order_by("id")
        upcoming += list(undated[: TASKS_UPCOMING_LIMIT - len(upcoming)])
    # The linked records of every task shown, due and upcoming, are checked together.
    more_due = len(due) > TASKS_DUE_LIMIT
    due = due[:TASKS_DUE_LIMIT]
    shown = _task_rows(due + upcoming, now, user)
    return Tasks(
        overdue=[t for t in shown[: len(due)] if t.overdue],
        today=[t for t in shown[: len(due)] if not t.overdue],
        upcoming=shown[len(due) :],
        more_due=more_due,
    )


def dashboard_task(*, user: User, pk: int) -> Activity:
    """One of my tasks as the dashboard shows it (after completing or reopening it)."""
    task = _task_base(user).filter(pk=pk).first()
    if task is None:
        raise RecordNotFound("task")
    return _task_rows([task], timezone.now(), user)[0]


# ----- money --------------------------------------------------------------------------


@dataclass
class Converter:
    """Amounts in the organisation's currency; the rate table is read only when a foreign
    currency shows up. Currencies without a rate are left out and remembered."""

    currency: str = field(default_factory=lambda: settings.RAPPORT_CURRENCY.upper())
    missing: set[str] = field(default_factory=set)
    _table: dict | None = None

    def __call__(self, amount, currency: str, on: datetime.date) -> Decimal | None:
        amount = Decimal(amount or 0)
        if (currency or "").upper() == self.currency:
            return amount.quantize(CENT)
        if self._table is None:
            self._table = exchange_rate_table()
        try:
            return convert_to_org_currency(amount, currency, on, table=self._table)
        except ExchangeRateMissing:
            self.missing.add(currency.upper())
            return None


# ----- pipeline by stage ----------------------------------------------------------------


@dataclass
class StageRow:
    stage_id: int
    label: str
    count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted: Decimal = Decimal("0.00")


@dataclass
class Pipeline:
    rows: list[StageRow]
    currency: str
    missing_rates: list[str]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def amount(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal("0.00"))

    @property
    def weighted(self) -> Decimal:
        return sum((r.weighted for r in self.rows), Decimal("0.00"))


def _open_sums(user: User) -> list[dict]:
    """[{stage_id, currency, n, total, weighted_total (amount × probability)}] of the open
    opportunities the user answers for. An admin answers for all of them: their sums are
    read from the few rows of `StageTotal` (kept by triggers) instead of aggregating every
    open opportunity (a sequential scan of the table at a million records)."""
    if user.is_admin and user.is_active:
        rows = (
            StageTotal.objects.filter(
                stage_id__in=Stage.objects.filter(kind=StageKind.OPEN).values("pk")
            )
            .order_by()
            .values("stage_id", "currency")
            .annotate(
                n=Sum("count"),
                total_cents=Sum("cents"),
                weighted_cents=Sum(F("cents") * F("probability")),
            )
        )
        return [
            {
                "stage_id": r["stage_id"],
                "currency": r["currency"],
                "n": int(r["n"]),
                "total": Decimal(int(r["total_cents"])).scaleb(-2),
                "weighted_total": Decimal(int(r["weighted_cents"])).scaleb(-2),
            }
            for r in rows
            if r["n"] or r["total_cents"]
        ]
    weighted = ExpressionWrapper(
        F("amount") * F("probability"), output_field=DecimalField(max_digits=22, decimal_places=2)
    )
    return list(
        my_records(Opportunity, user)
        .filter(stage__kind=StageKind.OPEN)
        .order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("id"), total=Sum("amount"), weighted_total=Sum(weighted))
    )


def pipeline_by_stage(*, user: User, convert: Converter | None = None) -> Pipeline:
    """Open opportunities I answer for, per stage: count, amount and weighted amount
    (amount × probability) in the organisation's currency. Open stages of the default
    pipeline are always listed (zero when empty); other pipelines' when they hold deals.
    Two queries (three with a foreign currency, unless `convert` has read the rates)."""
    sums = _open_sums(user)
    convert = convert or Converter()
    today = timezone.localdate()
    per_stage: dict[int, StageRow] = {}
    for row in sums:
        stage_row = per_stage.setdefault(row["stage_id"], StageRow(row["stage_id"], ""))
        stage_row.count += row["n"]
        amount = convert(row["total"], row["currency"], today)
        weighted_amount = convert(Decimal(row["weighted_total"] or 0) / 100, row["currency"], today)
        if amount is not None:
            stage_row.amount += amount
        if weighted_amount is not None:
            stage_row.weighted += weighted_amount
    stages = list(
        Stage.objects.filter(kind=StageKind.OPEN)
        .select_related("pipeline")
        .order_by("pipeline__position", "pipeline_id", "position", "id")
    )
    used_pipelines = {s.pipeline_id for s in stages if s.pk in per_stage}
    shown = [s for s in stages if s.pipeline_id in used_pipelines or s.pipeline.is_default]
    several = len({s.pipeline_id for s in shown}) > 1
    rows = []
    for stage in shown:
        row = per_stage.get(stage.pk, StageRow(stage.pk, ""))
        row.label = f"{stage.pipeline.name} · {stage.name}" if several else stage.name
        rows.append(row)
    return Pipeline(rows=rows, currency=convert.currency, missing_rates=sorted(convert.missing))


# ----- won revenue by month -------------------------------------------------------------


@dataclass
class MonthRow:
    month: datetime.date  # the first day
    count: int = 0
    amount: Decimal = Decimal("0.00")

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y")


@dataclass
class WonByMonth:
    rows: list[MonthRow]
    currency: str
    missing_rates: list[str]

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def amount(self) -> Decimal:
        return sum((r.amount for r in self.rows), Decimal("0.00"))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def won_by_month(
    *, user: User, months: int = WON_MONTHS, convert: Converter | None = None
) -> WonByMonth:
    """Revenue of the opportunities I answer for that were won (in a won stage), by the
    month of their close date (set to the day it was won, editable afterwards), in each of
    the last `months` calendar months, this one included, in the organisation's currency at
    the month's end rate. One query (two with a foreign currency, unless `convert` has read
    the rates)."""
    today = timezone.localdate()
    first = _add_months(today.replace(day=1), -(months - 1))
    sums = (
        my_records(Opportunity, user)
        .filter(stage__kind=StageKind.WON, expected_close_date__gte=first)
        .annotate(month=TruncMonth("expected_close_date"))
        .order_by()
        .values("month", "currency")
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    rows = {_add_months(first, i): MonthRow(_add_months(first, i)) for i in range(months)}
    convert = convert or Converter()
    for row in sums:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = (timezone.localtime(month) if timezone.is_aware(month) else month).date()
        month = month.replace(day=1)
        target = rows.get(month)
        if target is None:  # a close date in a later month: not part of the chart
            continue
        last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        amount = convert(row["total"], row["currency"], min(last_day, today))
        target.count += row["n"]
        if amount is not None:
            target.amount += amount
    return WonByMonth(
        rows=list(rows.values()), currency=convert.currency, missing_rates=sorted(convert.missing)
    )


# ----- recent activity ------------------------------------------------------------------


def _pk_among(rows: QuerySet) -> Q:
    """`pk IN (rows)`, as primary-key lookups: PostgreSQL reads `id IN (subquery) OR ...` by
    walking the ordered index and testing every row against the subqueries' hashes (all
    the events, for a user with none), while `id = ANY(ARRAY(subquery))` is an index
    condition. SQLite looks the ids up by itself."""
    if connection.vendor != "postgresql":
        return Q(pk__in=rows)
    among = Func(
        F("pk"),
        Subquery(rows),
        arg_joiner=" = ANY(ARRAY",
        template="%(expressions)s)",
        output_field=BooleanField(),
    )
    return Q(among)


def recent_events(*, user: User, limit: int = RECENT_EVENTS_LIMIT) -> list[TimelineEvent]:
    """The newest timeline events of records I answer for, newest first, each with
    `subject` (the most specific record of the event that I may see) and `subject_url`.
    Two queries (the candidates, the events shown with their records), and one more when
    some record involved is not the user's own (which of those they may see)."""
    if user is None or not user.is_authenticated or not user.is_active:
        # Nothing to show; and the empty subqueries below would compile, on PostgreSQL, to
        # `id = ANY(ARRAYNULL)` (test_dashboard_agreement: the deactivated persona).
        return []
    # The newest `limit` events of each kind of subject, merged: each part is served by its
    # (subject, occurred_at) index when the user answers for few records, or by walking the
    # (occurred_at, id) index when they answer for many; neither reads every event (one
    # filter over all subjects at once did, for a user with few records).
    newest = TimelineEvent.objects.order_by("-occurred_at", "-id").values("pk")
    mine = Q(pk__in=[])
    for name, model in EVENT_SUBJECTS:
        part = newest.filter(**{f"{name}_id__in": my_records(model, user).values("pk")})
        mine |= _pk_among(part[:limit])
    # The candidates (at most 4 × limit) are fetched as plain rows with what the decision
    # reads and narrowed on the rows (`visible_events`, the rule of `events_visible_to`);
    # then the events shown are fetched with their records and which of those may be
    # named is decided on them (`_subject_flags`). The visibility of the records involved asked once per model on those few ids (none
    # when they are all the user's). As probe expressions over the query, compiling them
    # cost a rep ~65 ms of Python per call at a million contacts; written as one query with
    # the candidates, PostgreSQL planned the probes over the whole events table.
    newest_first = TimelineEvent.objects.filter(mine).order_by("-occurred_at", "-id")
    if user.is_admin:
        # An admin sees every event (`visible_events` keeps them all): no decision columns
        # to join and read (on SQLite the joined candidates cost the admin +12 ms a call).
        shown = list(newest_first.values_list("pk", flat=True)[:limit])
    else:
        shown = [row.pk for row in visible_events(candidate_rows(newest_first), user)[:limit]]
    events = list(
        TimelineEvent.objects.filter(pk__in=shown)
        .select_related("actor", "activity", *(name for name, _ in EVENT_SUBJECTS))
        .order_by("-occurred_at", "-id")
    )
    _subject_flags(events, user, mine_only=True)
    for event in events:
        event.subject = _first_shown(event)
        event.subject_url = record_url(event.subject)
        event.subject_kind = type(event.subject)._meta.verbose_name if event.subject else ""
    return events


# ----- the charts' data -----------------------------------------------------------------


def chart_data(pipeline: Pipeline, won: WonByMonth) -> dict:
    """What the client-side charts draw (embedded with json_script; numbers as floats)."""
    return {
        "currency": pipeline.currency,
        "pipeline": {
            "labels": [r.label for r in pipeline.rows],
            "count": [r.count for r in pipeline.rows],
            "amount": [float(r.amount) for r in pipeline.rows],
            "weighted": [float(r.weighted) for r in pipeline.rows],
        },
        "won": {
            "labels": [r.label for r in won.rows],
            "count": [r.count for r in won.rows],
            "amount": [float(r.amount) for r in won.rows],
        },
    }

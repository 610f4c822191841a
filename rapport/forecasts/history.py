"""The organisation's deal history in plain rows, and what the forecast learns from it as of a
moment: stage-to-won conversion, time from stage entry to close, close-date slip, run-rate.

Learned over every deal of the organisation (aggregates, like the scoring models): only
statistics leave this module, never a record. What is summed for a reader (pipeline, won,
actuals) always comes from the deals that reader may see (see `selectors`)."""

import datetime
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import cached_property

import numpy as np
from django.conf import settings
from django.db.models import F, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from rapport.forecasts.montecarlo import Timing
from rapport.forecasts.periods import Period
from rapport.sales.models import Opportunity, Stage, StageChange
from rapport.sales.selectors import (
    ExchangeRateMissing,
    convert_to_org_currency,
    exchange_rate_table,
)

CENT = Decimal("0.01")
PRIOR_WEIGHT = 10  # the stage default counts as this many deals in the conversion rate
MIN_SLIPS = 20  # fewer won deals with an expected close date: no slip model
MIN_RUN_RATE_PERIODS = 2


@dataclass
class Deal:
    id: int
    owner_id: int | None
    team_id: int | None
    account_id: int | None
    name: str
    currency: str
    amount: Decimal
    stage_id: int
    kind: str  # current stage kind
    created_at: datetime.datetime
    closed_at: datetime.datetime | None
    expected_close: datetime.date | None
    # (changed_at, to_stage_id, amount) oldest first; the creation is the first entry.
    changes: list[tuple[datetime.datetime, int, Decimal]] = field(default_factory=list)

    @cached_property
    def created_day(self) -> datetime.date:
        return timezone.localtime(self.created_at).date()

    @cached_property
    def closed_day(self) -> datetime.date | None:
        return timezone.localtime(self.closed_at).date() if self.closed_at is not None else None

    def state_at(self, moment: datetime.datetime) -> tuple[datetime.datetime, int, Decimal] | None:
        """The last stage change at or before `moment` (None: the deal did not exist yet)."""
        last = None
        for change in self.changes:
            if change[0] > moment:
                break
            last = change
        return last


@dataclass
class History:
    deals: list[Deal]
    stages: dict[int, tuple[str, int]]  # id → (kind, default probability %)
    rates: dict = field(default_factory=dict)
    unconverted: int = 0
    # When `deals` holds only the closed deals (the live forecast reads the open ones as
    # columns, `load_open`): the creation time of the organisation's first deal.
    first_created: datetime.datetime | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def first_day(self) -> datetime.date | None:
        """The local date the organisation's first deal was created (None: no deal)."""
        if "first" not in self._cache:
            if self.first_created is not None:  # the earliest of all deals, these included
                first = timezone.localtime(self.first_created).date()
            else:
                first = min((d.created_day for d in self.deals), default=None)
            self._cache["first"] = first
        return self._cache["first"]

    def org_amount(self, amount: Decimal, currency: str, day) -> float | None:
        try:
            return float(convert_to_org_currency(amount, currency, day, table=self.rates))
        except ExchangeRateMissing:
            self.unconverted += 1
            return None


def load_history(queryset=None) -> History:
    """Deals (by default every live one) with their stage changes: three queries."""
    qs = queryset if queryset is not None else Opportunity.objects.all()
    deals: dict[int, Deal] = {}
    for row in qs.values_list(
        "id",
        "owner_id",
        "team_id",
        "account_id",
        "name",
        "currency",
        "amount",
        "stage_id",
        "stage__kind",
        "created_at",
        "closed_at",
        "expected_close_date",
    ).order_by("id"):
        deals[row[0]] = Deal(*row)
    for opp_id, changed_at, to_stage, amount in (
        StageChange.objects.filter(opportunity__in=qs)
        .order_by("opportunity_id", "changed_at", "id")
        .values_list("opportunity_id", "changed_at", "to_stage_id", "amount")
    ):
        deal = deals.get(opp_id)
        if deal is not None:
            deal.changes.append((changed_at, to_stage, amount))
    for deal in deals.values():
        if not deal.changes:  # older rows without a creation entry
            deal.changes.append((deal.created_at, deal.stage_id, deal.amount))
    stages = {
        pk: (kind, prob)
        for pk, kind, prob in Stage.objects.values_list("id", "kind", "probability")
    }
    return History(list(deals.values()), stages, exchange_rate_table())


def load_closed_history() -> History:
    """The history the live forecast learns from: every closed (not open) deal with its
    stage changes, the stages, the rates, and when the first deal of all was created."""
    history = load_history(Opportunity.objects.exclude(stage__kind="open"))
    history.first_created = Opportunity.objects.aggregate(first=Min("created_at"))["first"]
    return history


@dataclass
class OpenDeals:
    """Open deals as columns (id order), for the live forecast: no Deal objects. `money` is
    the amount in the organisation's currency today (NaN: no exchange rate), `elapsed` the
    days since the last stage change, `anchor` the days from today to the expected close
    date (NaN: none), `default` the stage's default probability (0–1)."""

    id: np.ndarray
    owner_id: np.ndarray  # 0: no owner
    stage: np.ndarray
    money: np.ndarray
    default: np.ndarray
    elapsed: np.ndarray
    anchor: np.ndarray
    today: datetime.date

    def __len__(self) -> int:
        return len(self.id)

    def subset(self, keep) -> "OpenDeals":
        return OpenDeals(
            *(getattr(self, f.name)[keep] for f in fields(self) if f.name != "today"),
            self.today,
        )

    def in_period(self, period: Period) -> np.ndarray:
        """Expected to close in the period (NaN compares false: no date, not in it)."""
        lo = (period.start - self.today).days
        hi = (period.end - self.today).days
        return (self.anchor >= lo) & (self.anchor < hi)

    @classmethod
    def from_rows(cls, history: History, rows, moment: datetime.datetime) -> "OpenDeals":
        """From (id, owner_id, currency, amount (Decimal, or None when `amount_float` is
        given for the organisation's currency), amount_float, stage_id, days from today to
        the expected close (None: none), microseconds from the last stage change to
        `moment`) rows. The arithmetic is `open_at`'s, value for value."""
        today = timezone.localtime(moment).date()
        org = settings.RAPPORT_CURRENCY.upper()
        ids, owners, stages, money, default, elapsed, anchor = [], [], [], [], [], [], []
        nan = float("nan")
        probability = {pk: prob / 100 for pk, (_, prob) in history.stages.items()}
        for pk, owner_id, currency, amount, amount_float, stage_id, due, age in rows:
            ids.append(pk)
            owners.append(owner_id or 0)
            stages.append(stage_id)
            if (currency or "").upper() == org:
                if amount_float is not None:
                    money.append(amount_float)
                else:
                    money.append(float(Decimal(amount).quantize(CENT)))
            else:
                try:
                    value = convert_to_org_currency(amount, currency, today, table=history.rates)
                    money.append(float(value))
                except ExchangeRateMissing:
                    money.append(nan)
            default.append(probability.get(stage_id, 0.0))
            # timedelta.total_seconds() is exactly microseconds / 10**6.
            elapsed.append(max(0.0, age / 10**6 / 86400.0))
            anchor.append(nan if due is None else float(due))
        return cls(
            np.array(ids, dtype=np.int64),
            np.array(owners, dtype=np.int64),
            np.array(stages, dtype=np.int64),
            np.array(money, dtype=np.float64),
            np.array(default, dtype=np.float64),
            np.array(elapsed, dtype=np.float64),
            np.array(anchor, dtype=np.float64),
            today,
        )


def _micros(delta: datetime.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def load_open(queryset, history: History, moment: datetime.datetime) -> OpenDeals:
    """The open deals of `queryset` as columns: one query (the last stage change of each by
    a correlated subquery on the (opportunity, changed_at) index). On PostgreSQL the
    database does the date arithmetic (microseconds since the last change, days to the
    expected close) and the float of organisation-currency amounts, so no date or Decimal
    is parsed per row; the values are the same (integers, and a correctly rounded float)."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection
    from django.db.models import (
        BigIntegerField,
        Case,
        DateField,
        DateTimeField,
        DecimalField,
        FloatField,
        Func,
        IntegerField,
        Value,
        When,
    )
    from django.db.models.functions import Cast

    today = timezone.localtime(moment).date()
    last = (
        StageChange.objects.filter(opportunity=OuterRef("pk"))
        .order_by("-changed_at")  # only the time is read: no tie-break, no sort per deal
        .values("changed_at")[:1]
    )
    since = Coalesce(Subquery(last), F("created_at"))
    qs = queryset.filter(stage__kind="open").order_by("id")
    org = settings.RAPPORT_CURRENCY.upper()
    if connection.vendor == "postgresql":
        rows = qs.annotate(
            f_amount=Case(
                When(currency__iexact=org, then=Cast("amount", FloatField())),
                default=None,
                output_field=FloatField(),
            ),
            d_amount=Case(
                When(currency__iexact=org, then=Value(None)),
                default=F("amount"),
                output_field=DecimalField(max_digits=16, decimal_places=2),
            ),
            due=Func(
                F("expected_close_date"),
                Value(today, output_field=DateField()),
                arg_joiner=" - ",
                template="(%(expressions)s)",
                output_field=IntegerField(),
            ),
            age=Func(
                Value(moment, output_field=DateTimeField()),
                since,
                arg_joiner=" - ",
                template="(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000000)::bigint",
                output_field=BigIntegerField(),
            ),
        ).values_list(
            "id", "owner_id", "currency", "d_amount", "f_amount", "stage_id", "due", "age"
        )
        # Straight off the driver: every column is already the type `from_rows` wants
        # (int, str, Decimal or None, float or None), so Django's per-row converters and
        # model-iterator machinery (a third of the call at 100k deals) are skipped.
        try:
            sql, params = rows.query.sql_with_params()
        except EmptyResultSet:  # a scope that cannot hold a deal
            return OpenDeals.from_rows(history, [], moment)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return OpenDeals.from_rows(history, fetched, moment)
    else:
        rows = qs.annotate(since=since).values_list(
            "id", "owner_id", "currency", "amount", "stage_id", "expected_close_date", "since"
        )
        source = (
            (
                pk,
                owner,
                currency,
                amount,
                None,
                stage,
                None if due is None else (due - today).days,
                _micros(moment - changed),
            )
            for pk, owner, currency, amount, stage, due, changed in rows.iterator(chunk_size=10_000)
        )
    return OpenDeals.from_rows(history, source, moment)


def _days(later, earlier) -> float:
    return (later - earlier).total_seconds() / 86400.0


@dataclass
class Learned:
    conversion: dict[int, float]  # open stage → P(won | entered it)
    conversion_n: dict[int, int]
    timing: Timing
    notes: list[str]


def learn(history: History, moment: datetime.datetime) -> Learned:
    """Conversion, timing and slips from the deals closed before `moment` only (a backtest
    must not see the future)."""
    entered: dict[int, int] = {}
    won_from: dict[int, int] = {}
    stays: dict[int, list[float]] = {}
    slips: list[float] = []
    for deal in history.deals:
        if deal.closed_at is None or deal.closed_at >= moment or deal.kind not in ("won", "lost"):
            continue
        won = deal.kind == "won"
        seen: set[int] = set()
        for changed_at, stage_id, _ in deal.changes:
            if history.stages.get(stage_id, ("", 0))[0] != "open" or stage_id in seen:
                continue
            seen.add(stage_id)
            entered[stage_id] = entered.get(stage_id, 0) + 1
            if won:
                won_from[stage_id] = won_from.get(stage_id, 0) + 1
                stays.setdefault(stage_id, []).append(max(0.0, _days(deal.closed_at, changed_at)))
        if won and deal.expected_close is not None:
            local = timezone.localtime(deal.closed_at).date()
            slips.append(float((local - deal.expected_close).days))
    conversion, notes = {}, []
    for stage_id, (kind, prob) in history.stages.items():
        if kind != "open":
            continue
        n = entered.get(stage_id, 0)
        conversion[stage_id] = (won_from.get(stage_id, 0) + PRIOR_WEIGHT * prob / 100) / (
            n + PRIOR_WEIGHT
        )
    if not entered:
        notes.append("No closed deals yet: win chances are the stages' default probabilities.")
    timing = Timing(
        slips=np.array(slips) if len(slips) >= MIN_SLIPS else np.zeros(0),
        remaining={k: np.sort(np.array(v)) for k, v in stays.items()},
    )
    if len(slips) < MIN_SLIPS:
        notes.append(
            f"Too little history for a close-date slip model ({len(slips)} won deals with an "
            f"expected close date, {MIN_SLIPS} needed): expected close dates are taken as given."
        )
    return Learned(conversion, entered, timing, notes)


def run_rate(history: History, deals: list[Deal], period: Period) -> tuple[np.ndarray, str]:
    """Won amounts of deals created and won within each of the (up to 8) periods before
    `period`, counted only from periods that started after the first deal was created."""
    first = history.first_day()
    if first is None:
        return np.zeros(0), "No history for a run-rate of deals not created yet."
    values = []
    for back in range(1, 9):
        past = period.shifted(-back)
        if past.start < first:
            break
        total = 0.0
        for deal in deals:
            if deal.kind != "won" or deal.closed_at is None:
                continue
            created, closed = deal.created_day, deal.closed_day
            if past.start <= created < past.end and past.start <= closed < past.end:
                total += history.org_amount(deal.amount, deal.currency, closed) or 0.0
        values.append(total)
    if len(values) < MIN_RUN_RATE_PERIODS:
        return np.zeros(0), (
            f"Too little history for a run-rate of deals not created yet ({len(values)} full "
            f"past periods, {MIN_RUN_RATE_PERIODS} needed): only existing deals are simulated."
        )
    return np.array(values), ""

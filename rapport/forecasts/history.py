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


def load_closed_columns() -> tuple[History, "ClosedDeals"]:
    """What the live forecast learns from, as columns: a History without Deal rows (the
    stages, the rates, when the first deal of all was created) and every closed deal with
    its stage changes (`load_closed`)."""
    stages = {
        pk: (kind, prob)
        for pk, kind, prob in Stage.objects.values_list("id", "kind", "probability")
    }
    history = History([], stages, exchange_rate_table())
    history.first_created = Opportunity.objects.aggregate(first=Min("created_at"))["first"]
    return history, load_closed(history)


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


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass
class ClosedDeals:
    """Closed (won/lost) deals as columns (id order): what the forecast learns from
    (`learn_columns`, live and in the backtest) and what the live forecast sums as won and as
    run-rate (`won_in` and `run_rate` read those off Deal rows), without Deal rows. Days are local dates as
    ordinals (`date.toordinal()`), moments microseconds since the epoch. `money` is a won
    deal's amount in the organisation's currency at its close day (NaN: no rate, or lost).
    The stage changes are three more columns, ordered (deal, changed_at, id); a deal without
    any has its creation (created_at, current stage) as the only one, as in `load_history`."""

    id: np.ndarray
    owner_id: np.ndarray  # 0: no owner
    won: np.ndarray  # bool: the current stage is a won one (else lost)
    money: np.ndarray
    created_day: np.ndarray
    closed_day: np.ndarray  # -1: no close time
    closed_us: np.ndarray
    has_closed: np.ndarray  # bool
    expected: np.ndarray  # -1: no expected close date
    change_deal: np.ndarray  # position of the deal in these columns
    change_stage: np.ndarray
    change_us: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def subset(self, keep: np.ndarray) -> "ClosedDeals":
        """The deals where `keep` (bool per deal), with their stage changes."""
        position = np.cumsum(keep) - 1
        mine = keep[self.change_deal]
        return ClosedDeals(
            *(getattr(self, f.name)[keep] for f in fields(self)[:9]),
            position[self.change_deal[mine]],
            self.change_stage[mine],
            self.change_us[mine],
        )

    def unconverted(self) -> int:
        """Won deals whose amount has no exchange rate at their close day."""
        return int((self.won & self.has_closed & np.isnan(self.money)).sum())

    def won_between(self, start: datetime.date, end: datetime.date):
        """(owner ids, amounts) of the deals won in [start, end) with a rate, in id order."""
        lo, hi = start.toordinal(), end.toordinal()
        keep = self.won & self.has_closed & (self.closed_day >= lo) & (self.closed_day < hi)
        keep &= ~np.isnan(self.money)
        return self.owner_id[keep].tolist(), self.money[keep].tolist()

    def created_and_won_between(self, start: datetime.date, end: datetime.date):
        """(owner ids, amounts) of the deals created and won within [start, end)."""
        lo, hi = start.toordinal(), end.toordinal()
        keep = self.won & self.has_closed & (self.closed_day >= lo) & (self.closed_day < hi)
        keep &= (self.created_day >= lo) & (self.created_day < hi) & ~np.isnan(self.money)
        return self.owner_id[keep].tolist(), self.money[keep].tolist()


def _us(moment: datetime.datetime) -> int:
    return _micros(moment - EPOCH)


def load_closed(history: History) -> ClosedDeals:
    """Every closed (won/lost) deal of the organisation as columns: two queries. On
    PostgreSQL the database turns each moment into microseconds and local date ordinals
    and organisation-currency amounts into floats (the same values `load_history` +
    Python give: integers, and a correctly rounded float), so no datetime or Decimal is
    parsed per row; elsewhere the rows come through Django and are converted here."""
    from django.db import connection

    org = settings.RAPPORT_CURRENCY.upper()
    table = Opportunity._meta.db_table
    stage_table = Stage._meta.db_table
    change_table = StageChange._meta.db_table
    if connection.vendor == "postgresql":
        zone = timezone.get_current_timezone_name()
        day = "((({col}) AT TIME ZONE %s)::date - DATE '0001-01-01' + 1)"
        micros = "(EXTRACT(EPOCH FROM {col}) * 1000000)::bigint"
        sql = (
            "SELECT o.id, COALESCE(o.owner_id, 0), s.kind = 'won', "  # noqa: S608
            "CASE WHEN UPPER(o.currency) = %s THEN o.amount::float8 END, "
            "CASE WHEN UPPER(o.currency) = %s THEN NULL ELSE o.amount END, o.currency, "
            f"{day.format(col='o.created_at')}, {day.format(col='o.closed_at')}, "
            f"{micros.format(col='o.closed_at')}, "
            "(o.expected_close_date - DATE '0001-01-01' + 1), o.stage_id, "
            f"{micros.format(col='o.created_at')} "
            f"FROM {table} o JOIN {stage_table} s ON s.id = o.stage_id "
            "WHERE s.kind <> 'open' AND o.deleted_at IS NULL ORDER BY o.id"
        )
        params = [org, org, zone, zone]
        changes_sql = (
            f"SELECT c.opportunity_id, c.to_stage_id, {micros.format(col='c.changed_at')} "  # noqa: S608
            f"FROM {change_table} c JOIN {table} o ON o.id = c.opportunity_id "
            f"JOIN {stage_table} s ON s.id = o.stage_id WHERE s.kind <> 'open' "
            "AND o.deleted_at IS NULL ORDER BY c.opportunity_id, c.changed_at, c.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute(changes_sql)
            change_rows = cursor.fetchall()
    else:
        rows = []
        qs = Opportunity.objects.exclude(stage__kind="open").order_by("id")
        for pk, owner, kind, amount, currency, created, closed, due, stage in qs.values_list(
            "id",
            "owner_id",
            "stage__kind",
            "amount",
            "currency",
            "created_at",
            "closed_at",
            "expected_close_date",
            "stage_id",
        ):
            mine = (currency or "").upper() == org
            rows.append(
                (
                    pk,
                    owner or 0,
                    kind == "won",
                    float(Decimal(amount).quantize(CENT)) if mine else None,
                    None if mine else amount,
                    currency,
                    timezone.localtime(created).date().toordinal(),
                    None if closed is None else timezone.localtime(closed).date().toordinal(),
                    None if closed is None else _us(closed),
                    None if due is None else due.toordinal(),
                    stage,
                    _us(created),
                )
            )
        change_rows = [
            (opp, stage, _us(at))
            for opp, stage, at in StageChange.objects.filter(
                opportunity__in=Opportunity.objects.exclude(stage__kind="open")
            )
            .order_by("opportunity_id", "changed_at", "id")
            .values_list("opportunity_id", "to_stage_id", "changed_at")
        ]
    n = len(rows)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    money = np.full(n, np.nan)
    for i, (_, _, won, f_amount, d_amount, currency, _, closed_day, *_rest) in enumerate(rows):
        if not won or closed_day is None:
            continue
        if f_amount is not None:
            money[i] = f_amount
            continue
        try:
            day = datetime.date.fromordinal(closed_day)
            money[i] = float(convert_to_org_currency(d_amount, currency, day, table=history.rates))
        except ExchangeRateMissing:
            pass  # NaN: left out (`ClosedDeals.unconverted`)

    def column(k, missing=-1):
        return np.array([missing if r[k] is None else r[k] for r in rows], dtype=np.int64)

    change_opp = np.array([c[0] for c in change_rows], dtype=np.int64)
    change_stage = np.array([c[1] for c in change_rows], dtype=np.int64)
    change_us = np.array([c[2] for c in change_rows], dtype=np.int64)
    change_deal = np.searchsorted(ids, change_opp)
    # A deal closed between the two statements has changes but no row: drop them.
    known = np.zeros(len(change_opp), dtype=bool)
    if n:
        known = (change_deal < n) & (ids[np.minimum(change_deal, n - 1)] == change_opp)
    if not known.all():
        change_deal, change_stage, change_us = (
            change_deal[known],
            change_stage[known],
            change_us[known],
        )
    # Deals without a stage change: their creation in their current stage stands in.
    bare = np.ones(n, dtype=bool)
    bare[change_deal] = False
    if bare.any():
        extra = np.flatnonzero(bare)
        change_deal = np.concatenate([change_deal, extra])
        change_stage = np.concatenate([change_stage, column(10)[extra]])
        change_us = np.concatenate([change_us, column(11)[extra]])
        order = np.argsort(change_deal, kind="stable")  # one entry each: order kept
        change_deal, change_stage, change_us = (
            change_deal[order],
            change_stage[order],
            change_us[order],
        )
    closed_day = column(7)
    return ClosedDeals(
        ids,
        column(1, 0),
        np.array([bool(r[2]) for r in rows], dtype=bool),
        money,
        column(6),
        closed_day,
        column(8, 0),
        closed_day >= 0,
        column(9),
        change_deal,
        change_stage,
        change_us,
    )


def learn_columns(
    stages: dict[int, tuple[str, int]], closed: ClosedDeals, moment: datetime.datetime
) -> "Learned":
    """Conversion (first entry of each closed deal into each open stage, won or not), timing
    (days from that entry to the win) and close-date slips (local close day − expected close
    date of won deals) from the deals closed before `moment` only: a backtest must not see
    the future. The live forecast and the backtest both learn here."""
    done = closed.has_closed & (closed.closed_us < _us(moment))
    open_ids = np.array([pk for pk, (kind, _) in stages.items() if kind == "open"], np.int64)
    keep = done[closed.change_deal] & np.isin(closed.change_stage, open_ids)
    deal, stage, at = closed.change_deal[keep], closed.change_stage[keep], closed.change_us[keep]
    # The first entry of each deal into each stage (changes are in (deal, time) order).
    _, first = np.unique(deal * (int(stage.max(initial=0)) + 1) + stage, return_index=True)
    first.sort()
    deal, stage, at = deal[first], stage[first], at[first]
    won = closed.won[deal]
    entered = dict(zip(*(a.tolist() for a in np.unique(stage, return_counts=True)), strict=True))
    won_from = dict(
        zip(*(a.tolist() for a in np.unique(stage[won], return_counts=True)), strict=True)
    )
    # timedelta.total_seconds() is exactly microseconds / 10**6.
    stay = np.maximum(0.0, (closed.closed_us[deal[won]] - at[won]) / 10**6 / 86400.0)
    remaining = {int(s): np.sort(stay[stage[won] == s]) for s in np.unique(stage[won]).tolist()}
    with_date = done & closed.won & (closed.expected >= 0)
    slips = (closed.closed_day[with_date] - closed.expected[with_date]).astype(np.float64)
    return _learned(stages, entered, won_from, remaining, slips)


@dataclass
class Learned:
    conversion: dict[int, float]  # open stage → P(won | entered it)
    conversion_n: dict[int, int]
    timing: Timing
    notes: list[str]


def _learned(stages, entered, won_from, remaining, slips) -> Learned:
    conversion, notes = {}, []
    for stage_id, (kind, prob) in stages.items():
        if kind != "open":
            continue
        n = entered.get(stage_id, 0)
        conversion[stage_id] = (won_from.get(stage_id, 0) + PRIOR_WEIGHT * prob / 100) / (
            n + PRIOR_WEIGHT
        )
    if not entered:
        notes.append("No closed deals yet: win chances are the stages' default probabilities.")
    timing = Timing(
        slips=slips if len(slips) >= MIN_SLIPS else np.zeros(0),
        remaining=remaining,
    )
    if len(slips) < MIN_SLIPS:
        notes.append(
            f"Too little history for a close-date slip model ({len(slips)} won deals with an "
            f"expected close date, {MIN_SLIPS} needed): expected close dates are taken as given."
        )
    return Learned(conversion, entered, timing, notes)

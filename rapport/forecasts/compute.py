"""The forecast of one period for a set of deals, live (as of now) or replayed as of a past
period's start (the backtest). Pure over `history` rows: no queries here."""

import datetime

import numpy as np
from django.utils import timezone

from rapport.forecasts.history import (
    MIN_RUN_RATE_PERIODS,
    ClosedDeals,
    Deal,
    History,
    Learned,
    OpenDeals,
    learn_columns,
)
from rapport.forecasts.montecarlo import Deals, Split, histogram, simulate
from rapport.forecasts.periods import Period

SIMS = 1000
MIN_BACKTEST_PERIODS = 3


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _local(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def won_in(history: History, deals: list[Deal], start: datetime.date, end: datetime.date) -> float:
    """Won amount (organisation currency, at the close date) of deals closed in [start, end)."""
    return _total(_won_rows(history, deals, start, end)[1])


def _total(values) -> float:
    """Added one by one in the order given (the same float on every path)."""
    total = 0.0
    for value in values:
        total += value
    return total


def _by_owner(owners, values) -> dict[int, float]:
    """Per owner, its values added one by one in the order given."""
    out: dict[int, float] = {}
    for owner, value in zip(owners, values, strict=True):
        out[owner] = out.get(owner, 0.0) + value
    return out


def _won_rows(history: History, deals: list[Deal], start, end, *, created=False):
    """(owner ids, amounts) of the deals won in [start, end) (and, `created`, created in
    it), in deal order; an amount without a rate counts as nothing."""
    owners, values = [], []
    for deal in deals:
        if deal.kind != "won" or deal.closed_at is None:
            continue
        closed = deal.closed_day
        if not start <= closed < end:
            continue
        if created and not start <= deal.created_day < end:
            continue
        value = history.org_amount(deal.amount, deal.currency, closed)
        if value is not None:
            owners.append(deal.owner_id or 0)
            values.append(value)
    return owners, values


def _closed_parts(
    history: History,
    deals: list[Deal] | None,
    closed: ClosedDeals | None,
    period: Period,
    today: datetime.date,
) -> tuple[list, list, dict[int, list[float]], int, str]:
    """From the scope's closed deals (Deal rows or columns): the won (owner, amount) rows of
    the period so far, each owner's run-rate (won amount of deals created and won within
    each of the up to 8 periods before `period` that started after the organisation's first
    deal) and the number of those periods (0 when fewer than MIN_RUN_RATE_PERIODS), with
    the note saying why there is no run-rate."""
    end = min(period.end, today + datetime.timedelta(1))

    def rows(start, stop, *, created=False):
        if closed is not None:
            if created:
                return closed.created_and_won_between(start, stop)
            return closed.won_between(start, stop)
        return _won_rows(history, deals or [], start, stop, created=created)

    won_owners, won_values = rows(period.start, end)
    first = history.first_day()
    if first is None:
        return won_owners, won_values, {}, 0, "No history for a run-rate of deals not created yet."
    per_period = []
    for back in range(1, 9):
        past = period.shifted(-back)
        if past.start < first:
            break
        per_period.append(_by_owner(*rows(past.start, past.end, created=True)))
    if len(per_period) < MIN_RUN_RATE_PERIODS:
        return (
            won_owners,
            won_values,
            {},
            0,
            f"Too little history for a run-rate of deals not created yet ({len(per_period)} "
            f"full past periods, {MIN_RUN_RATE_PERIODS} needed): only existing deals are "
            "simulated.",
        )
    owners = set().union(*per_period)
    rates = {o: [sums.get(o, 0.0) for sums in per_period] for o in owners}
    return won_owners, won_values, rates, len(per_period), ""


def open_at(
    history: History,
    deals: list[Deal],
    moment: datetime.datetime,
    learned: Learned,
    period: Period,
    *,
    live: bool,
    scores: dict[int, float] | None = None,
) -> tuple[Deals, list[float], list[Deal]]:
    """The deals open at `moment` as simulation input, each one's naive forecast (amount ×
    stage default probability if expected to close in the period, else nothing: 0.0) and
    the deals themselves.
    Live: today's amounts, the learned win probability where the scoring model beats the
    stage default, expected close dates as anchors. Replayed: the stage and amount the stage
    history says the deal had then, the conversion learned before then, no anchors (past
    expected close dates are not kept)."""
    today = _local(moment)
    amount, p_win, stage, elapsed, anchor, picked, naive = [], [], [], [], [], [], []
    for deal in deals:
        if live:
            if deal.kind != "open":
                continue
            since, stage_id, value = deal.changes[-1][0], deal.stage_id, deal.amount
        else:
            if deal.closed_at is not None and deal.closed_at < moment:
                continue
            state = deal.state_at(moment)
            if state is None:
                continue
            since, stage_id, value = state
            if history.stages.get(stage_id, ("", 0))[0] != "open":
                continue
        money = history.org_amount(value, deal.currency, today)
        if money is None:
            continue
        default = history.stages.get(stage_id, ("open", 0))[1] / 100
        p = (scores or {}).get(deal.id) if live else None
        if p is None:
            p = learned.conversion.get(stage_id, default)
        amount.append(money)
        p_win.append(p)
        stage.append(stage_id)
        elapsed.append(max(0.0, (moment - since).total_seconds() / 86400.0))
        has_date = live and deal.expected_close is not None
        anchor.append(float((deal.expected_close - today).days) if has_date else np.nan)
        due = deal.expected_close is not None and period.start <= deal.expected_close < period.end
        naive.append(money * default if due else 0.0)
        picked.append(deal)
    arrays = Deals(
        np.array(amount, dtype=np.float64),
        np.array(p_win, dtype=np.float64),
        np.array(stage, dtype=np.int64),
        np.array(elapsed, dtype=np.float64),
        np.array(anchor, dtype=np.float64),
    )
    return arrays, naive, picked


def open_live(
    history: History,
    open_deals: OpenDeals,
    learned: Learned,
    period: Period,
    scores: dict[int, float] | None = None,
) -> tuple[Deals, np.ndarray, np.ndarray]:
    """`open_at(live=True)` over columns: the same arrays in the same (id) order, the same
    naive values and the positions in `open_deals` picked."""
    missing = np.isnan(open_deals.money)
    history.unconverted += int(missing.sum())
    picked = np.flatnonzero(~missing)
    stages = open_deals.stage[picked]
    default = open_deals.default[picked]
    # The learned conversion of the stage, else the stage default; a learned score wins.
    p_win = default.copy()
    for stage_id in np.unique(stages).tolist():
        if stage_id in learned.conversion:
            p_win[stages == stage_id] = learned.conversion[stage_id]
    if scores:
        ids = open_deals.id[picked]
        scored = np.array(sorted(scores), dtype=np.int64)
        at = np.flatnonzero(np.isin(ids, scored))
        p_win[at] = [scores[pk] for pk in ids[at].tolist()]
    money = open_deals.money[picked]
    naive = np.where(open_deals.in_period(period)[picked], money * default, 0.0)
    arrays = Deals(money, p_win, stages, open_deals.elapsed[picked], open_deals.anchor[picked])
    return arrays, naive, picked


def forecast_period(
    history: History,
    deals: list[Deal],
    period: Period,
    *,
    moment: datetime.datetime | None = None,
    learned: Learned,
    scores: dict[int, float] | None = None,
    live: bool = True,
    sims: int = SIMS,
    seed: int = 0,
    open_deals: OpenDeals | None = None,
    closed: ClosedDeals | None = None,
) -> dict:
    """P10/P50/P90 of the amount won in `period`, the naive baseline and what went in, for
    the scope and (`owners`) for each owner of its deals (owner 0: none) from the same runs:
    a run's total is its owners' totals added in owner order.

    Live with `open_deals` (columns, `history.load_open`): the open deals come from there
    and "deals" in the answer are positions in `open_deals`; the closed ones from `closed`
    (columns, `history.load_closed`, the scope's) when given, else from `deals`. `learned`
    is what the organisation's closed deals teach as of `moment` (`learn_columns`)."""
    moment = moment or timezone.now()
    today = _local(moment)
    notes = list(learned.notes)
    won_owners, won_values, rates, n_rates, note = _closed_parts(
        history, deals, closed, period, today
    )
    already = _total(won_values)
    already_by = _by_owner(won_owners, won_values)
    if live and period.end <= today:
        return {
            "won": already,
            "p10": already,
            "p50": already,
            "p90": already,
            "mean": already,
            "naive": already,
            "open_deals": 0,
            "histogram": {"edges": [], "counts": []},
            "notes": ["The period is over: the forecast is what was won."],
            "deals": [],
            "input": Deals.empty(),
            "owners": {
                o: {"won": v, "naive": v, "p10": v, "p50": v, "p90": v}
                for o, v in already_by.items()
            },
        }
    if live and open_deals is not None:
        arrays, naive, picked = open_live(history, open_deals, learned, period, scores)
        owner_of = open_deals.owner_id[picked]
    else:
        arrays, naive, picked = open_at(
            history, deals, moment, learned, period, live=live, scores=scores
        )
        owner_of = np.array([d.owner_id or 0 for d in picked], dtype=np.int64)
    if note:
        notes.append(note)
    naive_list = naive.tolist() if isinstance(naive, np.ndarray) else naive
    naive_by = _by_owner(owner_of.tolist(), naive_list)
    if not live:
        already_by = {}
    labels = np.array(
        sorted(set(owner_of.tolist()) | set(already_by) | set(rates) or {0}), dtype=np.int64
    )
    lo = max(0.0, float((period.start - today).days))
    hi = float((period.end - today).days)
    ahead = min(1.0, hi / period.days) if period.days else 0.0
    zero = [0.0] * n_rates
    split = Split(
        labels,
        owner_of,
        np.array([already_by.get(o, 0.0) for o in labels.tolist()]),
        np.array([rates.get(o, zero) for o in labels.tolist()], dtype=np.float64).reshape(
            len(labels), n_rates
        ),
    )
    result = simulate(
        arrays,
        learned.timing,
        lo=lo,
        hi=hi,
        run_rate_share=ahead,
        sims=sims,
        seed=seed,
        split=split,
    )
    won = already if live else 0.0
    owners = {}
    for i, owner in enumerate(labels.tolist()):
        p10, p50, p90 = np.percentile(result.group_totals[i], [10, 50, 90])
        mine = already_by.get(owner, 0.0)
        owners[owner] = {
            "won": mine,
            "naive": mine + naive_by.get(owner, 0.0),
            "p10": float(p10),
            "p50": float(p50),
            "p90": float(p90),
        }
    return {
        "won": won,
        "p10": result.p10,
        "p50": result.p50,
        "p90": result.p90,
        "mean": result.mean,
        "naive": won + _total(naive_list),
        "open_deals": len(arrays),
        "histogram": histogram(result.totals),
        "notes": notes,
        "deals": picked,
        "input": arrays,
        "owners": owners,
    }


def backtest(
    history: History,
    deals: list[Deal],
    current: Period,
    *,
    closed: ClosedDeals,
    periods: int = 6,
    sims: int = SIMS,
) -> dict:
    """Replay each of the `periods` periods before `current` as of its start and compare the
    range and the naive forecast with what was won. Each replay learns from `closed` (the
    organisation's closed deals as columns, `history.load_closed`) as of its start, as the
    live forecast does now. Periods before the first deal are not replayed; fewer than
    MIN_BACKTEST_PERIODS replayed says so."""
    first = history.first_day()
    rows = []
    for back in range(periods, 0, -1):
        past = current.shifted(-back)
        if first is None or past.start <= first:
            continue
        moment = _midnight(past.start)
        learned = learn_columns(history.stages, closed, moment)
        out = forecast_period(
            history, deals, past, moment=moment, learned=learned, live=False, sims=sims
        )
        actual = won_in(history, deals, past.start, past.end)
        rows.append(
            {
                "period": past.key,
                "label": past.label,
                "p10": out["p10"],
                "p50": out["p50"],
                "p90": out["p90"],
                "naive": out["naive"],
                "actual": actual,
                "inside": out["p10"] <= actual <= out["p90"],
                "open_deals": out["open_deals"],
            }
        )
    n = len(rows)
    summary = {
        "periods": n,
        "inside": sum(r["inside"] for r in rows),
        "coverage": (sum(r["inside"] for r in rows) / n) if n else None,
        "p50_mae": float(np.mean([abs(r["p50"] - r["actual"]) for r in rows])) if n else None,
        "naive_mae": float(np.mean([abs(r["naive"] - r["actual"]) for r in rows])) if n else None,
        "enough_history": n >= MIN_BACKTEST_PERIODS,
        "message": ""
        if n >= MIN_BACKTEST_PERIODS
        else (
            f"Too little history for a backtest: {n} past period{'s' if n != 1 else ''} with "
            f"deals before their start, {MIN_BACKTEST_PERIODS} needed."
        ),
    }
    return {"rows": rows, "summary": summary}

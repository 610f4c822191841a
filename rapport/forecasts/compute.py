"""The forecast of one period for a set of deals, live (as of now) or replayed as of a past
period's start (the backtest). Pure over `history` rows: no queries here."""

import datetime

import numpy as np
from django.utils import timezone

from rapport.forecasts.history import Deal, History, Learned, OpenDeals, learn, run_rate
from rapport.forecasts.montecarlo import Deals, histogram, simulate
from rapport.forecasts.periods import Period

SIMS = 1000
MIN_BACKTEST_PERIODS = 3


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _local(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def won_in(history: History, deals: list[Deal], start: datetime.date, end: datetime.date) -> float:
    """Won amount (organisation currency, at the close date) of deals closed in [start, end)."""
    total = 0.0
    for deal in deals:
        if deal.kind == "won" and deal.closed_at is not None:
            closed = deal.closed_day
            if start <= closed < end:
                total += history.org_amount(deal.amount, deal.currency, closed) or 0.0
    return total


def open_at(
    history: History,
    deals: list[Deal],
    moment: datetime.datetime,
    learned: Learned,
    period: Period,
    *,
    live: bool,
    scores: dict[int, float] | None = None,
) -> tuple[Deals, float, list[Deal]]:
    """The deals open at `moment` as simulation input, the naive forecast (amount × stage
    default probability of those expected to close in the period) and the deals themselves.
    Live: today's amounts, the learned win probability where the scoring model beats the
    stage default, expected close dates as anchors. Replayed: the stage and amount the stage
    history says the deal had then, the conversion learned before then, no anchors (past
    expected close dates are not kept)."""
    today = _local(moment)
    amount, p_win, stage, elapsed, anchor, picked = [], [], [], [], [], []
    naive = 0.0
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
        if deal.expected_close is not None and period.start <= deal.expected_close < period.end:
            naive += money * default
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
) -> tuple[Deals, float, np.ndarray]:
    """`open_at(live=True)` over columns: the same arrays in the same (id) order, the same
    naive sum (added deal by deal, as there) and the positions in `open_deals` picked."""
    missing = np.isnan(open_deals.money)
    history.unconverted += int(missing.sum())
    picked = np.flatnonzero(~missing)
    ids = open_deals.id[picked].tolist()
    stages = open_deals.stage[picked].tolist()
    defaults = open_deals.default[picked].tolist()
    scores = scores or {}
    conversion = learned.conversion
    p_win = []
    for pk, stage_id, default in zip(ids, stages, defaults, strict=True):
        p = scores.get(pk)
        p_win.append(conversion.get(stage_id, default) if p is None else p)
    money = open_deals.money[picked]
    naive = 0.0
    for value in (money * open_deals.default[picked])[open_deals.in_period(period)[picked]]:
        naive += float(value)
    arrays = Deals(
        money,
        np.array(p_win, dtype=np.float64),
        open_deals.stage[picked],
        open_deals.elapsed[picked],
        open_deals.anchor[picked],
    )
    return arrays, naive, picked


def forecast_period(
    history: History,
    deals: list[Deal],
    period: Period,
    *,
    moment: datetime.datetime | None = None,
    scores: dict[int, float] | None = None,
    learned: Learned | None = None,
    live: bool = True,
    sims: int = SIMS,
    seed: int = 0,
    open_deals: OpenDeals | None = None,
) -> dict:
    """P10/P50/P90 of the amount won in `period`, the naive baseline and what went in.
    Live with `open_deals` (columns, `history.load_open`): the open deals come from there
    (`deals` then needs only the closed ones) and "deals" in the answer are positions in
    `open_deals`."""
    moment = moment or timezone.now()
    today = _local(moment)
    learned = learned or learn(history, moment)
    notes = list(learned.notes)
    already = won_in(history, deals, period.start, min(period.end, today + datetime.timedelta(1)))
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
        }
    if live and open_deals is not None:
        arrays, naive, picked = open_live(history, open_deals, learned, period, scores)
    else:
        arrays, naive, picked = open_at(
            history, deals, moment, learned, period, live=live, scores=scores
        )
    lo = max(0.0, float((period.start - today).days))
    hi = float((period.end - today).days)
    rates, note = run_rate(history, deals, period)
    if note:
        notes.append(note)
    ahead = min(1.0, hi / period.days) if period.days else 0.0
    result = simulate(
        arrays,
        learned.timing,
        lo=lo,
        hi=hi,
        already_won=already if live else 0.0,
        run_rate=rates,
        run_rate_share=ahead,
        sims=sims,
        seed=seed,
    )
    return {
        "won": already if live else 0.0,
        "p10": result.p10,
        "p50": result.p50,
        "p90": result.p90,
        "mean": result.mean,
        "naive": (already if live else 0.0) + naive,
        "open_deals": len(arrays),
        "histogram": histogram(result.totals),
        "notes": notes,
        "deals": picked,
        "input": arrays,
    }


def backtest(
    history: History, deals: list[Deal], current: Period, *, periods: int = 6, sims: int = SIMS
) -> dict:
    """Replay each of the `periods` periods before `current` as of its start and compare the
    range and the naive forecast with what was won. Periods before the first deal are not
    replayed; fewer than MIN_BACKTEST_PERIODS replayed says so."""
    first = history.first_day()
    rows = []
    for back in range(periods, 0, -1):
        past = current.shifted(-back)
        if first is None or past.start <= first:
            continue
        moment = _midnight(past.start)
        out = forecast_period(history, deals, past, moment=moment, live=False, sims=sims)
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

"""The probabilistic forecast without Django: a Monte Carlo over open deals (does each win, and
does it close inside the window?) plus the run-rate of deals not created yet.

Days are counted from the as-of date; the window is [lo, hi) in those days. All inputs are
plain numpy arrays so the same code serves the live forecast, the backtest and the bench.
"""

from dataclasses import dataclass, field

import numpy as np

CHUNK = 16_384  # deals per block: sims × CHUNK floats stay ~130 MB at 1,000 sims


@dataclass
class Timing:
    """When an open deal closes, learned from history.

    `slips`: days between the expected close date a won deal carried and its real close
    (the slip model, used for deals with an expected close date). `remaining[s]`: sorted days
    from entering stage s to the close of deals that went on to win from it (used for deals
    without a usable expected close date, and in the backtest, where expected close dates of
    the past are not known): a deal that has already spent e days in the stage draws only
    from the stays longer than e.
    """

    slips: np.ndarray = field(default_factory=lambda: np.zeros(0))
    remaining: dict[int, np.ndarray] = field(default_factory=dict)
    fallback_days: float = 0.0  # no history at all for a stage: closes this many days out


@dataclass
class Deals:
    amount: np.ndarray  # organisation currency
    p_win: np.ndarray  # 0–1
    stage: np.ndarray  # int stage ids (keys of Timing.remaining)
    elapsed: np.ndarray  # days already in the current stage
    anchor: np.ndarray  # days to the expected close date; NaN when unknown

    @classmethod
    def empty(cls) -> "Deals":
        z = np.zeros(0)
        return cls(z, z, np.zeros(0, dtype=np.int64), z, z)

    def __len__(self) -> int:
        return len(self.amount)


@dataclass
class Result:
    totals: np.ndarray  # one simulated total per run
    p10: float
    p50: float
    p90: float
    mean: float


def close_days(deals: Deals, timing: Timing, rng: np.random.Generator, sims: int) -> np.ndarray:
    """(sims × deals) days from the as-of date to each deal's close, never before day 0."""
    n = len(deals)
    out = np.full((sims, n), float(timing.fallback_days))
    has_anchor = ~np.isnan(deals.anchor)
    if has_anchor.any():
        cols = np.flatnonzero(has_anchor)
        base = np.broadcast_to(deals.anchor[cols], (sims, len(cols)))
        if len(timing.slips):
            base = base + rng.choice(timing.slips, size=(sims, len(cols)))
        out[:, cols] = base
    for stage in np.unique(deals.stage[~has_anchor]):
        cols = np.flatnonzero((~has_anchor) & (deals.stage == stage))
        stays = timing.remaining.get(int(stage))
        if stays is None or not len(stays):
            continue
        elapsed = deals.elapsed[cols]
        first = np.searchsorted(stays, elapsed, side="right")
        left = len(stays) - first
        u = rng.random((sims, len(cols)))
        idx = np.minimum(first + (u * left).astype(np.int64), len(stays) - 1)
        # No recorded stay as long as this one: the deal is overdue, it closes now or never.
        days = np.where(left > 0, stays[idx] - elapsed, 0.0)
        out[:, cols] = days
    np.maximum(out, 0.0, out=out)
    return out


def simulate(
    deals: Deals,
    timing: Timing,
    *,
    lo: float,
    hi: float,
    already_won: float = 0.0,
    run_rate: np.ndarray | None = None,
    run_rate_share: float = 1.0,
    sims: int = 1000,
    seed: int = 0,
) -> Result:
    """Totals won in [lo, hi) over `sims` runs: already won + open deals that win and close in
    the window + one draw of the run-rate (a past period's won amount from deals created
    within it, scaled by the share of the window still ahead). Same seed, same answer."""
    rng = np.random.default_rng(seed)
    totals = np.full(sims, float(already_won))
    for start in range(0, len(deals), CHUNK):
        part = slice(start, start + CHUNK)
        chunk = Deals(
            deals.amount[part],
            deals.p_win[part],
            deals.stage[part],
            deals.elapsed[part],
            deals.anchor[part],
        )
        wins = rng.random((sims, len(chunk))) < chunk.p_win
        days = close_days(chunk, timing, rng, sims)
        inside = wins & (days >= lo) & (days < hi)
        totals += inside.astype(np.float64) @ chunk.amount
    if run_rate is not None and len(run_rate):
        totals += rng.choice(run_rate, size=sims) * run_rate_share
    p10, p50, p90 = np.percentile(totals, [10, 50, 90])
    return Result(totals, float(p10), float(p50), float(p90), float(totals.mean()))


def histogram(totals: np.ndarray, bins: int = 20) -> dict:
    """Bin edges and counts of the simulated totals, for the chart."""
    if not len(totals):
        return {"edges": [], "counts": []}
    lo, hi = float(totals.min()), float(totals.max())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(totals, bins=bins, range=(lo, hi))
    return {"edges": [round(float(e), 2) for e in edges], "counts": counts.tolist()}

"""The probabilistic forecast without Django: a Monte Carlo over open deals (does each win, and
does it close inside the window?) plus the run-rate of deals not created yet.

Days are counted from the as-of date; the window is [lo, hi) in those days. All inputs are
plain numpy arrays so the same code serves the live forecast, the backtest and the bench.
"""

from dataclasses import dataclass, field

import numpy as np

CHUNK = 16_384  # deals per block: sims × CHUNK float32 draws stay ~65 MB at 1,000 sims


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
class Split:
    """Per-group (per-owner) parts of one simulation: `labels` the groups (sorted),
    `of_deal` each deal's label, `already` the amount each group has already won and
    `run_rate` (groups × past periods) each group's won amount in each past period of the
    run-rate (no columns: no run-rate)."""

    labels: np.ndarray
    of_deal: np.ndarray
    already: np.ndarray
    run_rate: np.ndarray


@dataclass
class Result:
    totals: np.ndarray  # one simulated total per run: the groups' totals added in label order
    p10: float
    p50: float
    p90: float
    mean: float
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_totals: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # groups × runs

    def group_range(self, label: int) -> tuple[float, float, float]:
        """P10/P50/P90 of one group's totals over the same runs as the scope's."""
        i = int(np.searchsorted(self.labels, label))
        if i >= len(self.labels) or self.labels[i] != label:
            raise KeyError(label)
        p10, p50, p90 = np.percentile(self.group_totals[i], [10, 50, 90])
        return float(p10), float(p50), float(p90)


def p_in_window(deals: Deals, timing: Timing, lo: float, hi: float) -> np.ndarray:
    """Per deal, the probability that it closes within [lo, hi) days of the as-of date
    (never before day 0), read off the empirical slip and time-in-stage distributions.

    Whether a deal wins and when it closes are drawn independently, and deals independently
    of each other, so "wins and closes inside" is one Bernoulli of p_win × this: the
    simulation needs one random number per deal and run, not a close date per run."""
    n = len(deals)
    q = np.zeros(n)
    has_anchor = ~np.isnan(deals.anchor)
    if has_anchor.any():
        cols = np.flatnonzero(has_anchor)
        anchor = deals.anchor[cols]
        if len(timing.slips):
            slips = np.sort(timing.slips)
            # Closes at max(anchor + slip, 0): below hi, and (when lo > 0) not below lo.
            inside = np.searchsorted(slips, hi - anchor, side="left")
            if lo > 0:
                inside = inside - np.searchsorted(slips, lo - anchor, side="left")
            q[cols] = inside / len(slips)
        else:
            day = np.maximum(anchor, 0.0)
            q[cols] = (day >= lo) & (day < hi)
    fallback = float(lo <= timing.fallback_days < hi)
    for stage in np.unique(deals.stage[~has_anchor]):
        cols = np.flatnonzero((~has_anchor) & (deals.stage == stage))
        stays = timing.remaining.get(int(stage))
        if stays is None or not len(stays):
            q[cols] = fallback
            continue
        elapsed = deals.elapsed[cols]
        # Only stays longer than the time already spent; the deal closes after stay − elapsed.
        first = np.searchsorted(stays, elapsed, side="right")
        left = len(stays) - first
        upper = np.searchsorted(stays, elapsed + hi, side="left")
        lower = np.maximum(first, np.searchsorted(stays, elapsed + lo, side="left"))
        share = np.maximum(upper - lower, 0) / np.maximum(left, 1)
        # No recorded stay as long as this one: the deal is overdue, it closes now or never.
        q[cols] = np.where(left > 0, share, float(lo <= 0 < hi))
    return q


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
    split: Split | None = None,
) -> Result:
    """Totals won in [lo, hi) over `sims` runs: already won + open deals that win and close in
    the window + one draw of the run-rate (a past period's won amount from deals created
    within it, scaled by the share of the window still ahead). Same seed, same answer.

    With `split` (else one group of `already_won` and `run_rate`), every run is also summed
    per group from the SAME draws — one sims × deals matrix for the scope and all its
    owners: the deals are ordered by group (stably), each block of draws is compared with
    the win-and-close chances once, and each group's stretch of columns is summed by one
    matrix-vector product. The run-rate draws one past period per run, the same period for
    every group. A run's total is its groups' totals added in label order.

    Draws and per-block sums are float32 (half the memory traffic; a block's sum is exact
    to about 1e-7 of itself), the running totals float64."""
    if split is None:
        rates = np.zeros((1, 0)) if run_rate is None else np.asarray(run_rate, float)[None, :]
        split = Split(
            np.zeros(1, dtype=np.int64),
            np.zeros(len(deals), dtype=np.int64),
            np.array([float(already_won)]),
            rates,
        )
    labels = np.asarray(split.labels, dtype=np.int64)
    group = np.searchsorted(labels, split.of_deal)  # the position of each deal's label
    order = np.argsort(group, kind="stable")
    group = group[order]
    chance = (deals.p_win * p_in_window(deals, timing, lo, hi)).astype(np.float32)[order]
    amount = deals.amount.astype(np.float32)[order]
    starts = np.flatnonzero(np.diff(group)) + 1  # where a new group's columns begin

    rng = np.random.default_rng(seed)
    group_totals = np.zeros((len(labels), sims))
    group_totals += np.asarray(split.already, dtype=np.float64)[:, None]
    n = len(amount)
    width = min(CHUNK, n)
    draws = np.empty((sims, width), dtype=np.float32)
    hit = np.empty((sims, width), dtype=bool)
    hits = np.empty((sims, width), dtype=np.float32)
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        cols = end - start
        block = draws[:, :cols]
        if cols == width:
            rng.random(out=block, dtype=np.float32)
        else:
            block = rng.random((sims, cols), dtype=np.float32)
        np.less(block, chance[start:end], out=hit[:, :cols])
        h = hits[:, :cols]
        h[...] = hit[:, :cols]
        first, last = np.searchsorted(starts, [start, end], side="right")
        cuts = [start, *starts[first:last].tolist()]
        if cuts[-1] == end:
            cuts.pop()
        for a, b in zip(cuts, [*cuts[1:], end], strict=True):
            group_totals[group[a]] += h[:, a - start : b - start] @ amount[a:b]
    rates = np.asarray(split.run_rate, dtype=np.float64)
    if rates.ndim == 2 and rates.shape[1]:
        period = rng.integers(0, rates.shape[1], size=sims)
        group_totals += rates[:, period] * run_rate_share
    totals = np.zeros(sims)
    for row in group_totals:
        totals += row
    p10, p50, p90 = np.percentile(totals, [10, 50, 90])
    return Result(
        totals, float(p10), float(p50), float(p90), float(totals.mean()), labels, group_totals
    )


def histogram(totals: np.ndarray, bins: int = 20) -> dict:
    """Bin edges and counts of the simulated totals, for the chart."""
    if not len(totals):
        return {"edges": [], "counts": []}
    lo, hi = float(totals.min()), float(totals.max())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(totals, bins=bins, range=(lo, hi))
    return {"edges": [round(float(e), 2) for e in edges], "counts": counts.tolist()}

"""Per-rep ranges come from the scope's own runs (one draw matrix, summed per owner), not
from a second simulation per rep. On planted deals with a fixed seed:

- every run's scope total is exactly its owners' totals added in owner order;
- each owner's P10/P50/P90 agrees with an independent simulation of that owner's deals
  alone (another seed) within a Monte Carlo tolerance of 3 % of the owner's mean — the
  standard error of a percentile of 4,000 runs here is under 0.5 % of it, so a deal
  summed under the wrong owner or a block boundary off by one column fails;
- an owner whose deals are certain (probability 1 or 0) gets a degenerate range;
- an owner with only history (already won, run-rate) and no open deal is still a group.

Deals are given interleaved by owner, and blocks of draws are made small so that owners
straddle block boundaries."""

import numpy as np
import pytest

from rapport.forecasts import montecarlo
from rapport.forecasts.montecarlo import Deals, Split, Timing, simulate

SIMS = 4000
TOLERANCE = 0.03  # of the owner's mean


def _planted():
    rng = np.random.default_rng(5)
    owners, amount, p = [], [], []
    for _ in range(300):  # owner 7: many small, uncertain deals
        owners.append(7), amount.append(float(rng.integers(5, 20) * 100)), p.append(0.3)
    for _ in range(60):  # owner 3: fewer, bigger, likely
        owners.append(3), amount.append(5000.0), p.append(0.8)
    owners += [11, 11, 11]  # owner 11: only certain deals
    amount += [700.0, 900.0, 250.0]
    p += [1.0, 0.0, 1.0]
    order = rng.permutation(len(owners))  # interleaved, not grouped
    n = len(owners)
    deals = Deals(
        np.array(amount)[order],
        np.array(p)[order],
        np.ones(n, dtype=np.int64),
        np.zeros(n),
        np.full(n, 5.0),  # expected in 5 days: inside the window, no slip model
    )
    return deals, np.array(owners, dtype=np.int64)[order]


def _subset(deals: Deals, keep) -> Deals:
    return Deals(
        *(getattr(deals, f)[keep] for f in ("amount", "p_win", "stage", "elapsed", "anchor"))
    )


@pytest.mark.parametrize("chunk", [montecarlo.CHUNK, 37])
def test_per_owner_ranges_from_the_shared_draws(monkeypatch, chunk):
    monkeypatch.setattr(montecarlo, "CHUNK", chunk)
    deals, owner_of = _planted()
    labels = np.array([3, 7, 11, 20], dtype=np.int64)  # 20: history only
    split = Split(
        labels,
        owner_of,
        already=np.array([1000.0, 0.0, 50.0, 300.0]),
        run_rate=np.zeros((4, 0)),
    )
    result = simulate(deals, Timing(), lo=0, hi=30, sims=SIMS, seed=1, split=split)

    # The scope total of every run is its owners' totals added in owner order, exactly.
    assert result.group_totals.shape == (4, SIMS)
    added = np.zeros(SIMS)
    for row in result.group_totals:
        added = added + row
    assert np.array_equal(result.totals, added)

    # Each owner's range agrees with a simulation of its deals alone.
    for owner, already in ((3, 1000.0), (7, 0.0)):
        mine = owner_of == owner
        alone = simulate(
            _subset(deals, mine), Timing(), lo=0, hi=30, already_won=already, sims=SIMS, seed=2
        )
        expected_mean = already + float(deals.amount[mine] @ deals.p_win[mine])
        got = result.group_range(owner)
        assert abs(result.group_totals[list(labels).index(owner)].mean() - expected_mean) < (
            TOLERANCE * expected_mean
        )
        for ours, theirs in zip(got, (alone.p10, alone.p50, alone.p90), strict=True):
            assert abs(ours - theirs) <= TOLERANCE * expected_mean, (owner, got, alone)
        assert got[0] < got[1] < got[2]  # a real range

    # Certain deals only: no range at all. History only: what was already won.
    assert result.group_range(11) == (1000.0, 1000.0, 1000.0)
    assert result.group_range(20) == (300.0, 300.0, 300.0)
    with pytest.raises(KeyError):
        result.group_range(99)


def test_run_rate_draws_one_past_period_per_run_for_every_owner():
    # No open deals: each run is one past period, the same for all owners, so the
    # owners' totals move together and the scope's total is a period's sum.
    labels = np.array([1, 2], dtype=np.int64)
    rates = np.array([[100.0, 200.0, 300.0], [10.0, 20.0, 30.0]])
    split = Split(labels, np.zeros(0, dtype=np.int64), np.zeros(2), rates)
    result = simulate(Deals.empty(), Timing(), lo=0, hi=30, sims=500, seed=4, split=split)
    assert np.array_equal(result.group_totals[0] / 10, result.group_totals[1])
    assert set(result.totals.tolist()) == {110.0, 220.0, 330.0}

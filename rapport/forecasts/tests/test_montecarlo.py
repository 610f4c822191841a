"""The Monte Carlo core on hand-made inputs: seeded, deterministic, known answers."""

import numpy as np

from rapport.forecasts.montecarlo import Deals, Timing, p_in_window, simulate


def _deals(amount, p, *, stage=None, elapsed=None, anchor=None):
    n = len(amount)
    return Deals(
        np.array(amount, dtype=float),
        np.array(p, dtype=float),
        np.array(stage if stage is not None else [1] * n, dtype=np.int64),
        np.array(elapsed if elapsed is not None else [0.0] * n, dtype=float),
        np.array(anchor if anchor is not None else [np.nan] * n, dtype=float),
    )


def test_same_seed_same_totals_other_seed_other_totals():
    deals = _deals([100, 200, 300] * 10, [0.3, 0.5, 0.7] * 10, anchor=[5.0] * 30)
    a = simulate(deals, Timing(), lo=0, hi=30, seed=7)
    b = simulate(deals, Timing(), lo=0, hi=30, seed=7)
    c = simulate(deals, Timing(), lo=0, hi=30, seed=8)
    assert np.array_equal(a.totals, b.totals)
    assert not np.array_equal(a.totals, c.totals)


def test_certain_deals_inside_the_window_give_a_point_forecast():
    deals = _deals([100, 250], [1.0, 1.0], anchor=[3.0, 10.0])
    result = simulate(deals, Timing(), lo=0, hi=30, already_won=50)
    assert result.p10 == result.p50 == result.p90 == 400


def test_deals_expected_after_the_window_count_nothing_without_slip():
    deals = _deals([100], [1.0], anchor=[45.0])
    assert simulate(deals, Timing(), lo=0, hi=30).p90 == 0


def test_one_coin_flip_deal_ranges_from_nothing_to_everything():
    result = simulate(_deals([100], [0.5], anchor=[1.0]), Timing(), lo=0, hi=30, sims=2000)
    assert (result.p10, result.p90) == (0, 100)
    assert 45 < result.mean < 55


def test_mean_of_many_deals_is_the_weighted_sum():
    rng = np.random.default_rng(1)
    amount = rng.integers(1, 100, 500) * 100.0
    p = rng.random(500)
    result = simulate(_deals(amount, p, anchor=[1.0] * 500), Timing(), lo=0, hi=30, sims=2000)
    expected = float(amount @ p)
    assert abs(result.mean - expected) / expected < 0.01
    assert result.p10 < expected < result.p90


def test_slip_moves_deals_out_of_the_window():
    # Every won deal closed 40 days after its expected date: nothing lands this month.
    timing = Timing(slips=np.array([40.0] * 30))
    assert simulate(_deals([100], [1.0], anchor=[5.0]), timing, lo=0, hi=30).p90 == 0


def test_time_in_stage_counts_only_longer_stays():
    # Recorded stays 10, 20, 30 days; 15 already spent → 5 or 15 days left, half inside [0, 10).
    timing = Timing(remaining={1: np.array([10.0, 20.0, 30.0])})
    deal = _deals([100], [1.0], elapsed=[15.0])
    assert p_in_window(deal, timing, 0, 10).tolist() == [0.5]
    assert p_in_window(deal, timing, 10, 20).tolist() == [0.5]
    result = simulate(deal, timing, lo=0, hi=10, sims=4000, seed=3)
    assert 0.45 < result.mean / 100 < 0.55


def test_slip_distribution_gives_the_share_inside_the_window():
    # Expected in 5 days; slips -10, 0, 5, 40 → closes on day 0 (clipped), 5, 10, 45.
    timing = Timing(slips=np.array([-10.0, 0.0, 5.0, 40.0]))
    deal = _deals([100], [1.0], anchor=[5.0])
    assert p_in_window(deal, timing, 0, 30).tolist() == [0.75]
    assert p_in_window(deal, timing, 6, 30).tolist() == [0.25]


def test_stage_without_history_uses_the_fallback():
    deal = _deals([100], [1.0], stage=[9])
    assert p_in_window(deal, Timing(fallback_days=0.0), 0, 30).tolist() == [1.0]
    assert p_in_window(deal, Timing(fallback_days=0.0), 30, 60).tolist() == [0.0]


def test_overdue_deal_closes_now():
    timing = Timing(remaining={1: np.array([10.0])})
    result = simulate(_deals([100], [1.0], elapsed=[50.0]), timing, lo=0, hi=30)
    assert result.p10 == 100


def test_run_rate_is_scaled_by_the_share_ahead():
    result = simulate(
        Deals.empty(), Timing(), lo=0, hi=15, run_rate=np.array([200.0]), run_rate_share=0.5
    )
    assert result.p50 == 100


def test_chunks_give_the_same_answer_as_one_block(monkeypatch):
    deals = _deals([10.0] * 50, [0.5] * 50, anchor=[1.0] * 50)
    whole = simulate(deals, Timing(), lo=0, hi=30, seed=2)
    monkeypatch.setattr("rapport.forecasts.montecarlo.CHUNK", 50)
    assert np.array_equal(simulate(deals, Timing(), lo=0, hi=30, seed=2).totals, whole.totals)

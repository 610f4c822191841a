import numpy as np
import pytest

from rapport.analytics.numeric import gammagamma
from rapport.analytics.numeric.gammagamma import GammaGammaModel, frequency_spend_correlation
from rapport.analytics.numeric.simulate import simulate_spend


def test_cdnow_fit_on_946_repeat_buyers_reproduces_fader_hardie(cdnow_summary):
    m = GammaGammaModel.fit(cdnow_summary["frequency"], cdnow_summary["monetary"])
    assert m.converged
    assert m.n_customers == 946
    assert m.p == pytest.approx(6.25, abs=5e-3)
    assert m.q == pytest.approx(3.74, abs=5e-3)
    assert m.gamma == pytest.approx(15.44, abs=1e-2)


def test_expected_spend_shrinks_towards_population_mean():
    m = GammaGammaModel(p=6.25, q=3.74, gamma=15.44)
    population = m.population_mean_spend
    spend = m.expected_average_spend([0, 1, 10, 100], [0.0, 100.0, 100.0, 100.0])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < spend[3] < 100.0
    assert spend[3] == pytest.approx(100.0, rel=0.01)


def test_analytic_gradient_matches_finite_differences(cdnow_summary):
    x, z, w = gammagamma._repeat_buyers(cdnow_summary["frequency"], cdnow_summary["monetary"], None)
    d = gammagamma._prepare(x, z, w)
    params = np.array([5.0, 3.0, 12.0])
    _, grad = gammagamma._log_likelihood(params, d)
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6 * params[i]
        numeric = (
            gammagamma._log_likelihood(params + step, d)[0]
            - gammagamma._log_likelihood(params - step, d)[0]
        ) / (2 * step[i])
        assert grad[i] == pytest.approx(numeric, rel=1e-5)


def test_fit_recovers_planted_parameters_and_handles_huge_frequencies():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 30, size=20_000)
    x[:5] = [500, 500, 5000, 1, 1]
    z = simulate_spend(x, p=4.0, q=5.0, gamma=60.0, rng=rng)
    m = GammaGammaModel.fit(x, z)
    assert m.p == pytest.approx(4.0, rel=0.05)
    assert m.q == pytest.approx(5.0, rel=0.1)
    assert m.gamma == pytest.approx(60.0, rel=0.15)
    assert np.isfinite(m.expected_average_spend(x, z)).all()
    assert abs(frequency_spend_correlation(x, z)) < 0.05


def test_rejects_non_positive_spend_for_repeat_buyers():
    with pytest.raises(ValueError):
        GammaGammaModel.fit([1, 2], [10.0, 0.0])

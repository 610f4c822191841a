import numpy as np
import pytest
from scipy.special import hyp2f1

from rapport.analytics.numeric import paretonbd
from rapport.analytics.numeric.histories import compress_histories
from rapport.analytics.numeric.paretonbd import ParetoNbdModel

PUBLISHED = ParetoNbdModel(r=0.553, alpha=10.578, s=0.606, beta=11.669)


@pytest.fixture(scope="module")
def cdnow_pnbd(cdnow_published_summary):
    s = cdnow_published_summary
    return ParetoNbdModel.fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_fit_reproduces_fader_hardie(cdnow_pnbd):
    m = cdnow_pnbd
    assert m.converged
    assert m.r == pytest.approx(0.553, abs=1e-3)
    assert m.alpha == pytest.approx(10.578, abs=1e-2)
    assert m.s == pytest.approx(0.606, abs=1e-3)
    # The likelihood is nearly flat in beta: assert loosely.
    assert m.beta == pytest.approx(11.67, rel=0.05)
    assert m.log_likelihood == pytest.approx(-9595.0, abs=0.1)


def _log_tail_via_hyp2f1(params, x, tau):
    """log of integral_tau^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du, textbook 2F1 form."""
    r, alpha, s, beta = params
    k = r + s + x
    if alpha >= beta:
        g = hyp2f1(k, s + 1, k + 1, (alpha - beta) / (alpha + tau)) / (alpha + tau) ** k
    else:
        g = hyp2f1(k, r + x, k + 1, (beta - alpha) / (beta + tau)) / (beta + tau) ** k
    return np.log(g / k)


@pytest.mark.parametrize(
    "params", [(0.553, 10.578, 0.606, 11.669), (0.553, 20.0, 0.606, 3.0), (2.0, 1.0, 1.5, 1.0)]
)
def test_quadrature_matches_hypergeometric_form_where_scipy_is_reliable(params):
    x = np.array([0.0, 1, 2, 7, 20, 60])
    tau = np.array([0.0, 1.7, 30.43, 38.86, 5.0, 300.0])
    ours, _ = paretonbd._log_tail_integral(np.array(params), x, tau, gradient=False)
    np.testing.assert_allclose(ours, _log_tail_via_hyp2f1(params, x, tau), rtol=1e-9)


def test_analytic_gradient_matches_finite_differences(cdnow_published_summary):
    s = cdnow_published_summary
    h = compress_histories(s["frequency"], s["recency"], s["T"])
    for params in (np.array([0.5, 9.0, 0.7, 12.0]), np.array([0.5, 15.0, 0.7, 3.0])):
        _, grad = paretonbd._log_likelihood(params, h)
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-6 * params[i]
            numeric = (
                paretonbd._log_likelihood(params + step, h)[0]
                - paretonbd._log_likelihood(params - step, h)[0]
            ) / (2 * step[i])
            assert grad[i] == pytest.approx(numeric, rel=1e-5)


def test_dert_equals_fine_discounted_sum_of_expected_purchases():
    delta = 0.0027  # ~15% a year, weekly
    x, tx, big_t = np.array([0.0, 2, 10]), np.array([0.0, 30.43, 30]), np.full(3, 38.86)
    dert = PUBLISHED.discounted_expected_residual_transactions(x, tx, big_t, delta)
    grid = np.arange(0, 6_000, 0.5)
    for i in range(3):
        cumulative = PUBLISHED.expected_purchases(
            np.full(grid.size, x[i]), np.full(grid.size, tx[i]), np.full(grid.size, big_t[i]), grid
        )
        mid = (grid[1:] + grid[:-1]) / 2
        assert dert[i] == pytest.approx(
            (np.diff(cumulative) * np.exp(-delta * mid)).sum(), rel=1e-4
        )


@pytest.mark.parametrize(
    "model",
    [
        PUBLISHED,
        ParetoNbdModel(r=0.5, alpha=1000.0, s=0.05, beta=0.01),
        ParetoNbdModel(r=0.5, alpha=0.01, s=3.0, beta=1000.0),
    ],
)
def test_extreme_histories_stay_finite(model):
    # alpha >> beta with x = 500 is where scipy's hyp2f1 returns inf.
    x = np.array([0, 0, 500, 500, 500, 5000, 1, 2])
    tx = np.array([0, 0, 1e6, 1.0, 10.0, 10.0, 1e-9, 1e7])
    big_t = np.array([0, 1e9, 1e6, 1e6, 10.0, 10.0, 1e9, 1e7])
    alive = model.probability_alive(x, tx, big_t)
    expected = model.expected_purchases(x, tx, big_t, 39.0)
    assert np.isfinite(alive).all() and np.isfinite(expected).all()
    assert ((alive >= 0) & (alive <= 1)).all() and (expected >= 0).all()
    assert alive[2] > alive[3]
    assert np.isfinite(model.log_likelihood_of(x, tx, big_t))

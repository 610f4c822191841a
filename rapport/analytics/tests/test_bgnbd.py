import numpy as np
import pytest
from scipy.special import hyp2f1

from rapport.analytics.numeric import bgnbd
from rapport.analytics.numeric.bgnbd import BgNbdModel
from rapport.analytics.numeric.histories import compress_histories
from rapport.analytics.numeric.simulate import simulate_bg_nbd

PUBLISHED = BgNbdModel(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow_published_summary):
    s = cdnow_published_summary
    return BgNbdModel.fit(s["frequency"], s["recency"], s["T"])


def test_cdnow_fit_reproduces_fader_hardie_lee(cdnow_bgnbd):
    m = cdnow_bgnbd
    assert m.converged
    assert m.r == pytest.approx(0.243, abs=5e-4)
    assert m.alpha == pytest.approx(4.414, abs=5e-3)
    assert m.a == pytest.approx(0.793, abs=5e-4)
    assert m.b == pytest.approx(2.426, abs=5e-3)
    assert m.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert m.n_distinct < m.n_customers == 2357


def test_fit_from_our_own_summary_matches_published_summary_fit(cdnow_summary, cdnow_bgnbd):
    m = BgNbdModel.fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    assert m.r == pytest.approx(cdnow_bgnbd.r, rel=1e-3)
    assert m.alpha == pytest.approx(cdnow_bgnbd.alpha, rel=1e-3)


def test_conditional_expectation_matches_published_example():
    assert PUBLISHED.expected_purchases(2, 30.43, 38.86, 39)[0] == pytest.approx(1.226, abs=1e-3)


def test_conditional_expectation_equals_untransformed_formula():
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    x, tx, big_t, t = np.array([0.0, 1, 5, 20]), np.array([0.0, 2, 30, 35]), 38.86, 39.0
    z = t / (alpha + big_t + t)
    bracket = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - hyp2f1(r + x, b + x, a + b + x - 1, z)
            * ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
        )
    )
    denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x)
    np.testing.assert_allclose(
        PUBLISHED.expected_purchases(x, tx, big_t, t), bracket / denominator, rtol=1e-10
    )


def test_probability_alive_is_one_without_repeat_and_falls_with_silence():
    alive = PUBLISHED.probability_alive([0, 3, 3], [0, 38, 10], [38.86, 38.86, 38.86])
    assert alive[0] == 1.0
    assert 0 < alive[2] < alive[1] < 1


def test_analytic_gradient_matches_finite_differences(cdnow_published_summary):
    s = cdnow_published_summary
    d = bgnbd._prepare(compress_histories(s["frequency"], s["recency"], s["T"]))
    params = np.array([0.3, 5.0, 0.7, 2.0])
    _, grad = bgnbd._log_likelihood(params, d)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * params[i]
        numeric = (
            bgnbd._log_likelihood(params + step, d)[0] - bgnbd._log_likelihood(params - step, d)[0]
        ) / (2 * step[i])
        assert grad[i] == pytest.approx(numeric, rel=1e-5)


def test_fit_recovers_planted_parameters():
    data = simulate_bg_nbd(
        30_000, r=0.5, alpha=6.0, a=0.7, b=3.0, whole_days=False, rng=np.random.default_rng(7)
    )
    m = BgNbdModel.fit(data["frequency"], data["recency"], data["T"])
    assert m.r == pytest.approx(0.5, rel=0.1)
    assert m.alpha == pytest.approx(6.0, rel=0.15)
    assert m.a == pytest.approx(0.7, rel=0.25)
    assert m.b == pytest.approx(3.0, rel=0.3)


def test_extreme_histories_stay_finite():
    x = np.array([0, 0, 500, 500, 500, 5000, 1, 2])
    tx = np.array([0, 0, 1e6, 1.0, 10.0, 10.0, 1e-9, 1e7])
    big_t = np.array([0, 1e9, 1e6, 1e6, 10.0, 10.0, 1e9, 1e7])
    alive = PUBLISHED.probability_alive(x, tx, big_t)
    expected = PUBLISHED.expected_purchases(x, tx, big_t, 39.0)
    assert np.isfinite(alive).all() and np.isfinite(expected).all()
    assert ((alive >= 0) & (alive <= 1)).all() and (expected >= 0).all()
    assert alive[3] == pytest.approx(
        0.0, abs=1e-300
    )  # 500 purchases then a million weeks of silence
    assert alive[2] > 0.99  # t_x = T
    assert expected[5] > expected[4] > 0
    assert np.isfinite(PUBLISHED.log_likelihood_of(x, tx, big_t))


def test_fit_survives_extreme_customers_in_the_data(cdnow_published_summary):
    s = cdnow_published_summary
    x = np.concatenate([s["frequency"], [500, 0]])
    tx = np.concatenate([s["recency"], [38.0, 0]])
    big_t = np.concatenate([s["T"], [38.86, 1e6]])
    m = BgNbdModel.fit(x, tx, big_t)
    assert m.converged and np.isfinite(m.log_likelihood)


def test_score_expands_to_every_customer(cdnow_published_summary):
    s = cdnow_published_summary
    alive, expected = PUBLISHED.score(s["frequency"], s["recency"], s["T"], 39.0)
    assert alive.shape == expected.shape == (2357,)
    np.testing.assert_allclose(
        expected, PUBLISHED.expected_purchases(s["frequency"], s["recency"], s["T"], 39.0)
    )

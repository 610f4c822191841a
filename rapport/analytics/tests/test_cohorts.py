import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.cohorts import SbgModel, retention_matrix, survival_counts

REGULAR = np.array([1.000, 0.631, 0.468, 0.382, 0.326, 0.289, 0.262, 0.241])
HIGH_END = np.array([1.000, 0.869, 0.743, 0.653, 0.593, 0.551, 0.517, 0.491])


@pytest.mark.parametrize(
    ("survival", "alpha", "beta"), [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)]
)
def test_sbg_reproduces_fader_hardie_2007(survival, alpha, beta):
    m = SbgModel.fit(1000 * survival)
    assert m.alpha == pytest.approx(alpha, abs=2e-3)
    assert m.beta == pytest.approx(beta, abs=5e-3)
    # The fitted curve tracks the observed years and retention rises with tenure.
    np.testing.assert_allclose(m.survival(np.arange(8)), survival, atol=0.02)
    assert (np.diff(m.retention_rate(np.arange(1, 13))) > 0).all()


def test_sbg_recovers_planted_parameters_from_censored_cohorts():
    rng = np.random.default_rng(11)
    starts, ends = [], []
    origin = pd.Timestamp("2023-01-01")
    for cohort in range(12):
        theta = rng.beta(0.8, 2.5, size=2500)
        lifetime = rng.geometric(theta)
        for life in lifetime:
            starts.append(origin + pd.DateOffset(months=cohort))
            ends.append(
                origin + pd.DateOffset(months=cohort + int(life)) if cohort + life <= 12 else pd.NaT
            )
    counts = survival_counts(starts, ends, as_of="2024-01-20")
    assert counts.shape == (12, 13)
    assert np.isnan(counts.iloc[-1, 2])  # youngest cohort: only ages 0..1 observed
    m = SbgModel.fit_cohorts(counts)
    assert m.alpha == pytest.approx(0.8, rel=0.15)
    assert m.beta == pytest.approx(2.5, rel=0.2)


def test_projection_and_discounted_lifetime_agree_with_survival():
    m = SbgModel(alpha=0.704, beta=1.182)
    projected = m.project(1000, 12)
    assert projected[0] == 1000 and (np.diff(projected) < 0).all()
    t = np.arange(1, 400)
    assert m.churn_probability(t).sum() == pytest.approx(1 - m.survival(399), abs=1e-9)
    t = np.arange(20_000)
    by_sum = (m.survival(t) * np.exp(-t * np.log(1.1))).sum()
    assert m.discounted_expected_lifetime(0.1) == pytest.approx(by_sum, rel=1e-9)


def test_retention_matrix_by_first_purchase_month():
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 3, 4],
            "date": pd.to_datetime(
                [
                    "2024-01-03",
                    "2024-02-05",
                    "2024-04-01",
                    "2024-01-20",
                    "2024-01-25",
                    "2024-02-10",
                    "2024-02-11",
                ]
            ),
        }
    )
    m = retention_matrix(tx, as_of="2024-04-30")
    assert list(m.sizes) == [2, 2]
    assert m.retention.loc[pd.Period("2024-01", "M"), 1] == 0.5
    assert m.retention.loc[pd.Period("2024-01", "M"), 3] == 0.5
    assert m.retention.loc[pd.Period("2024-02", "M"), 2] == 0.0
    assert np.isnan(m.retention.loc[pd.Period("2024-02", "M"), 3])


def test_non_monotone_survivors_are_rejected():
    with pytest.raises(ValueError):
        SbgModel.fit([100, 80, 90])

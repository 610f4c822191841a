import numpy as np
import pytest

from rapport.analytics.numeric.bgnbd import BgNbdModel
from rapport.analytics.numeric.clv import (
    customer_value,
    discounted_expected_purchases,
    fit_report,
)
from rapport.analytics.numeric.gammagamma import GammaGammaModel
from rapport.analytics.numeric.paretonbd import ParetoNbdModel

BG = BgNbdModel(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGammaModel(p=6.25, q=3.74, gamma=15.44)


def test_fit_report_calibration_tracks_holdout(cdnow_summary):
    model = BgNbdModel.fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    report = fit_report(model, cdnow_summary)
    table = report.calibration
    assert list(table["bin"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == 2357
    # Predictions rise with calibration frequency, like the actuals.
    assert (np.diff(table["predicted"]) > 0).all()
    assert table.loc[0, "predicted"] == pytest.approx(table.loc[0, "actual"], abs=0.03)
    assert report.holdout_predicted == pytest.approx(report.holdout_actual, rel=0.15)
    as_dict = report.as_dict()
    assert as_dict["params"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert len(as_dict["calibration"]) == 8


def test_no_discount_sums_to_expected_purchases_over_the_horizon(cdnow_summary):
    s = cdnow_summary
    undiscounted = discounted_expected_purchases(
        BG, s["frequency"], s["recency"], s["T"], periods=12, period_length=4.0, discount_rate=0.0
    )
    direct = BG.expected_purchases(s["frequency"], s["recency"], s["T"], 48.0)
    np.testing.assert_allclose(undiscounted, direct, rtol=1e-10)


def test_discounting_lowers_value_and_clv_is_spend_times_discounted_purchases(cdnow_summary):
    s = cdnow_summary
    values = customer_value(s, BG, GG, periods=12, discount_rate=0.01, margin=0.3)
    assert values.index.equals(s.index)
    assert np.isfinite(values.to_numpy()).all()
    assert (values["clv"] >= 0).all()
    cheap = customer_value(s, BG, GG, periods=12, discount_rate=0.0, margin=0.3)
    assert (values["clv"] <= cheap["clv"] + 1e-12).all()
    np.testing.assert_allclose(
        cheap["clv"],
        0.3 * cheap["expected_average_spend"] * cheap["expected_purchases"],
        rtol=1e-9,
    )


def test_clv_works_with_pareto_nbd(cdnow_summary):
    pnbd = ParetoNbdModel(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    values = customer_value(cdnow_summary, pnbd, GG)
    assert np.isfinite(values["clv"]).all()
    best = values["clv"].idxmax()
    assert cdnow_summary.loc[best, "frequency"] >= 10

import numpy as np
import pandas as pd
import pytest

from rapport.analytics.numeric.churn import (
    assemble_churn_features,
    at_risk_high_value,
    train_churn_model,
)


def _subscribers(n: int = 6000, seed: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven mostly by falling engagement and open complaints; recency matters a little."""
    rng = np.random.default_rng(seed)
    idx = pd.Index(np.arange(n), name="customer_id")
    rfm = pd.DataFrame(
        {
            "recency_days": rng.exponential(40, n),
            "frequency": rng.poisson(6, n),
            "monetary": rng.gamma(2.0, 150.0, n),
        },
        index=idx,
    )
    engagement = pd.DataFrame(
        {"logins_30d": rng.poisson(8, n), "login_trend": rng.normal(0, 1, n)}, index=idx
    )
    service = pd.DataFrame({"open_tickets": rng.poisson(0.5, n)}, index=idx).iloc[: n // 2]
    features = assemble_churn_features(rfm, engagement, service)
    logit = (
        -1.0
        + 0.006 * (features["recency_days"] - 40)
        - 0.25 * (features["logins_30d"] - 8)
        - 1.2 * features["login_trend"]
        + 0.8 * features["open_tickets"]
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    return features, churned.astype(int)


@pytest.mark.parametrize("method", ["logistic", "gradient_boosting"])
def test_model_beats_recency_only_baseline(method):
    features, churned = _subscribers()
    model = train_churn_model(features, churned, method=method)
    assert 0.5 < model.baseline_auc < 0.7
    assert model.auc > model.baseline_auc + 0.15
    assert model.n_test == pytest.approx(0.3 * len(features), abs=1)
    proba = model.predict_proba(features)
    assert proba.between(0, 1).all() and proba.index.equals(features.index)


def test_logistic_weights_point_the_planted_way():
    features, churned = _subscribers()
    weights = train_churn_model(features, churned).feature_weights()
    assert weights["login_trend"] < 0 and weights["logins_30d"] < 0
    assert weights["open_tickets"] > 0
    assert abs(weights["monetary"]) < abs(weights["login_trend"])


def test_missing_service_rows_become_zero():
    features, _ = _subscribers(n=100)
    assert (features["open_tickets"].iloc[50:] == 0).all()


def test_at_risk_high_value_lists_valuable_likely_churners_first():
    proba = pd.Series([0.9, 0.8, 0.2, 0.95, 0.6], index=list("abcde"))
    value = pd.Series([1000.0, 5000.0, 9000.0, 10.0, 4000.0], index=list("abcde"))
    out = at_risk_high_value(proba, value, min_probability=0.5, value_quantile=0.2)
    assert list(out.index) == ["b", "e", "a"]
    assert out.loc["b", "value_at_risk"] == pytest.approx(4000.0)


def test_labels_must_have_both_classes():
    features, _ = _subscribers(n=50)
    with pytest.raises(ValueError):
        train_churn_model(features, np.zeros(50))

"""Churn prediction for contractual customers with scikit-learn, judged against a baseline.

The baseline is what a CRM user would do without a model: rank customers by how long ago they
last bought (recency). A churn model is only worth showing if it beats that on held-out data,
so the report carries both AUCs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

METHODS = ("logistic", "gradient_boosting")


def assemble_churn_features(
    rfm: pd.DataFrame, *extra: pd.DataFrame, fill_value: float = 0.0
) -> pd.DataFrame:
    """Join per-customer feature frames (RFM first, then engagement, service, ...) on the
    index. Customers missing from an extra frame get ``fill_value`` (no logins = 0 logins)."""
    features = rfm.copy()
    for frame in extra:
        overlap = set(features.columns) & set(frame.columns)
        if overlap:
            raise ValueError(f"duplicate feature columns: {sorted(overlap)}")
        features = features.join(frame, how="left")
    return features.fillna(fill_value)


@dataclass(frozen=True)
class ChurnModel:
    """A fitted churn classifier with its holdout AUC and the recency-only baseline AUC."""

    estimator: Pipeline
    features: tuple[str, ...]
    method: str
    auc: float
    baseline_auc: float
    n_train: int
    n_test: int
    churn_rate: float

    @property
    def auc_gain(self) -> float:
        return self.auc - self.baseline_auc

    def predict_proba(self, features: pd.DataFrame) -> pd.Series:
        """P(churn) per row of ``features`` (same columns as in training), same index."""
        missing = set(self.features) - set(features.columns)
        if missing:
            raise ValueError(f"missing features: {sorted(missing)}")
        proba = self.estimator.predict_proba(features[list(self.features)])[:, 1]
        return pd.Series(proba, index=features.index, name="churn_probability")

    def feature_weights(self) -> pd.Series | None:
        """Standardised logistic coefficients (positive = raises churn), or None for trees."""
        final = self.estimator[-1]
        if not isinstance(final, LogisticRegression):
            return None
        return pd.Series(final.coef_[0], index=list(self.features), name="weight").sort_values(
            key=np.abs, ascending=False
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "auc": self.auc,
            "baseline_auc": self.baseline_auc,
            "auc_gain": self.auc_gain,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "churn_rate": self.churn_rate,
        }


def _estimator(method: str, random_state: int) -> ClassifierMixin | Pipeline:
    if method == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if method == "gradient_boosting":
        return make_pipeline(
            HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.1, random_state=random_state
            )
        )
    raise ValueError(f"method must be one of {METHODS}")


def train_churn_model(
    features: pd.DataFrame,
    churned: ArrayLike,
    *,
    method: str = "logistic",
    recency_col: str = "recency_days",
    feature_cols: Sequence[str] | None = None,
    test_size: float = 0.3,
    random_state: int = 0,
) -> ChurnModel:
    """Fit a churn classifier on a stratified split and score it on the held-out part.

    ``churned`` is 1 for customers who left in the outcome window. The baseline is a logistic
    regression on ``recency_col`` alone, fitted on the same training rows, so its direction
    is learned rather than assumed. Guarantees AUCs measured on rows neither model saw.
    """
    y = np.asarray(churned).astype(np.int64)
    if y.shape[0] != len(features):
        raise ValueError("one churn label per feature row is required")
    if len(np.unique(y)) != 2:
        raise ValueError("churn labels need both churned and retained customers")
    if recency_col not in features.columns:
        raise ValueError(f"baseline needs the recency column {recency_col!r}")
    cols = tuple(feature_cols) if feature_cols is not None else tuple(features.columns)
    x = features[list(cols)].astype(np.float64)
    if not np.isfinite(x.to_numpy()).all():
        raise ValueError("features must be finite (fill missing values first)")
    x_train, x_test, y_train, y_test, rec_train, rec_test = train_test_split(
        x,
        y,
        features[[recency_col]].astype(np.float64),
        test_size=test_size,
        random_state=random_state,
        stratify=y,
    )
    model = _estimator(method, random_state)
    model.fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    baseline = make_pipeline(StandardScaler(), LogisticRegression())
    baseline.fit(rec_train, y_train)
    baseline_auc = roc_auc_score(y_test, baseline.predict_proba(rec_test)[:, 1])
    return ChurnModel(
        estimator=model,
        features=cols,
        method=method,
        auc=float(auc),
        baseline_auc=float(baseline_auc),
        n_train=int(len(y_train)),
        n_test=int(len(y_test)),
        churn_rate=float(y.mean()),
    )


def at_risk_high_value(
    churn_probability: pd.Series,
    value: pd.Series,
    *,
    min_probability: float = 0.5,
    value_quantile: float = 0.8,
    limit: int | None = None,
) -> pd.DataFrame:
    """Customers with churn probability >= ``min_probability`` whose value is in the top
    (1 - ``value_quantile``) share, ordered by value at risk = probability x value.

    ``value`` is whatever the business treats as worth keeping (CLV, annual revenue). Columns:
    churn_probability, value, value_at_risk; index = customer id.
    """
    frame = pd.DataFrame({"churn_probability": churn_probability, "value": value}).dropna()
    if frame.empty:
        return frame.assign(value_at_risk=pd.Series(dtype=float))
    cutoff = frame["value"].quantile(value_quantile)
    risky = frame[(frame["churn_probability"] >= min_probability) & (frame["value"] >= cutoff)]
    risky = risky.assign(value_at_risk=risky["churn_probability"] * risky["value"])
    risky = risky.sort_values("value_at_risk", ascending=False)
    return risky if limit is None else risky.head(limit)

"""The numeric core of scoring, without Django: features as dicts, a calibrated logistic
regression, the naive-Bayes frequency baseline (Odoo's: per-field value frequencies among
won and lost, multiplied), holdout metrics (AUC, Brier, expected calibration error, a
reliability table) and per-row reasons (coefficient × value of the standardised feature)."""

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean |observed rate − mean prediction| over equal-width
    bins, weighted by their share of rows."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            out.append(
                {
                    "low": round(float(edges[b]), 2),
                    "high": round(float(edges[b + 1]), 2),
                    "n": int(mask.sum()),
                    "predicted": round(float(p[mask].mean()), 4),
                    "observed": round(float(y[mask].mean()), 4),
                }
            )
    return out


def metrics(y, p) -> dict:
    y, p = np.asarray(y, int), np.clip(np.asarray(p, float), 0, 1)
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else None
    return {
        "auc": round(auc, 4) if auc is not None else None,
        "brier": round(float(brier_score_loss(y, p)), 4),
        "ece": round(ece(y, p), 4),
        "reliability": reliability(y, p),
    }


class FrequencyNB:
    """Odoo's lead probability: for each categorical field, the frequency of the value among
    won and among lost (Laplace-smoothed), multiplied naive-Bayes style with the priors."""

    def __init__(self, fields: list[str]):
        self.fields = fields

    def fit(self, rows: list[dict], y):
        y = list(y)
        self.won = sum(y)
        self.lost = len(y) - self.won
        self.counts: dict = {}
        for row, label in zip(rows, y, strict=True):
            for f in self.fields:
                key = (f, str(row.get(f, "")))
                won, lost = self.counts.get(key, (0, 0))
                self.counts[key] = (won + label, lost + (1 - label))
        self.values = {f: len({k[1] for k in self.counts if k[0] == f}) for f in self.fields}
        return self

    def predict(self, rows: list[dict]) -> np.ndarray:
        out = np.empty(len(rows))
        prior_w = math.log((self.won + 1) / (self.won + self.lost + 2))
        prior_l = math.log((self.lost + 1) / (self.won + self.lost + 2))
        for i, row in enumerate(rows):
            lw, ll = prior_w, prior_l
            for f in self.fields:
                won, lost = self.counts.get((f, str(row.get(f, ""))), (0, 0))
                k = self.values[f] + 1
                lw += math.log((won + 1) / (self.won + k))
                ll += math.log((lost + 1) / (self.lost + k))
            out[i] = 1 / (1 + math.exp(ll - lw))
        return out


@dataclass
class Trained:
    model: object  # calibrated pipeline: predict_proba over feature dicts
    explainer: object  # the plain (uncalibrated) pipeline: reasons
    metrics: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    n_train: int = 0
    n_holdout: int = 0
    holdout: dict = field(default_factory=dict)  # y and p for the caller's comparisons


def _pipeline():
    return make_pipeline(
        DictVectorizer(sparse=False),
        StandardScaler(),
        LogisticRegression(C=0.5, max_iter=500),
    )


def train(
    rows: list[dict], y: list[int], *, categorical: list[str], seed: int = 7, holdout: float = 0.25
) -> Trained:
    """Fit on 75 %, measure on the 25 % holdout (the same rows for the baseline), then refit
    the calibrated model on every row for use."""
    y = np.asarray(y, int)
    idx = np.arange(len(rows))
    tr, te = train_test_split(idx, test_size=holdout, random_state=seed, stratify=y)
    rows_tr = [rows[i] for i in tr]
    rows_te = [rows[i] for i in te]
    cv = min(3, int(min(np.bincount(y[tr]))))
    calibrated = CalibratedClassifierCV(_pipeline(), method="sigmoid", cv=max(cv, 2))
    calibrated.fit(rows_tr, y[tr])
    p = calibrated.predict_proba(rows_te)[:, 1]
    nb = FrequencyNB(categorical).fit(rows_tr, y[tr])
    p_nb = nb.predict(rows_te)
    final = CalibratedClassifierCV(
        _pipeline(), method="sigmoid", cv=max(min(3, int(min(np.bincount(y)))), 2)
    )
    final.fit(rows, y)
    explainer = _pipeline().fit(rows, y)
    return Trained(
        model=final,
        explainer=explainer,
        metrics=metrics(y[te], p),
        baseline=metrics(y[te], p_nb),
        n_train=len(tr),
        n_holdout=len(te),
        holdout={"y": y[te].tolist(), "p": p.tolist(), "rows": rows_te},
    )


def predict(model, rows: list[dict]) -> np.ndarray:
    if not rows:
        return np.empty(0)
    return model.predict_proba(rows)[:, 1]


def reasons(explainer, rows: list[dict], top: int = 3) -> list[list[dict]]:
    """The features pushing each row's score up or down most: coefficient × standardised
    value, relative to an average row."""
    vec, scaler, lr = explainer.steps[0][1], explainer.steps[1][1], explainer.steps[2][1]
    raw = vec.transform(rows)
    contrib = scaler.transform(raw) * lr.coef_[0]
    names = vec.get_feature_names_out()
    # A one-hot value the row does not have is not a reason about it.
    onehot = np.array(["=" in str(n) for n in names])
    contrib[:, onehot] = np.where(raw[:, onehot] != 0, contrib[:, onehot], 0.0)
    out = []
    for row in contrib:
        order = np.argsort(-np.abs(row))[:top]
        out.append(
            [
                {"feature": _label(str(names[j])), "effect": round(float(row[j]), 3)}
                for j in order
                if abs(row[j]) >= 0.01
            ]
        )
    return out


def _label(name: str) -> str:
    if "=" in name:
        field_name, value = name.split("=", 1)
        return f"{field_name.replace('_', ' ')}: {value or '(empty)'}"
    return name.replace("_", " ")

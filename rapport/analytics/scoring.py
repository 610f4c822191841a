"""Per-customer scores from a warehouse snapshot, with the numeric core doing the modelling.

Customer summaries (frequency, recency, T, monetary; in weeks, same-day orders as one purchase
occasion, as in ``numeric.summary``) are computed by DuckDB SQL over the transactions table,
which keeps memory to a few arrays per customer. Then, per customer:

- RFM scores and segment (``numeric.rfm``: quintiles of days since the last purchase, purchase
  occasions and total revenue);
- BG/NBD probability alive and expected purchases in the next 12 and 52 weeks;
- Gamma-Gamma expected average spend and a discounted 12-month CLV (``numeric.clv``);
- churn risk = 1 - P(alive): customers here have no contract that ends, so defection is only
  visible as a purchase rate that stopped (the BG/NBD posterior). Under BG/NBD a one-time buyer
  cannot have dropped out yet (P(alive) = 1, churn risk 0): the RFM segment is what flags an
  old one-time buyer ("lost", "hibernating");
- next-best products (item-to-item co-occurrence, top 3 not owned yet);
- profitability: revenue - activity counts x cost rates - attributed marketing cost.

Nothing here touches Django models: ``services`` stores the result.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from rapport.analytics.baskets import basket_analysis
from rapport.analytics.closed_churn import closed_churn
from rapport.analytics.numeric import recommend
from rapport.analytics.numeric.bgnbd import BgNbdModel
from rapport.analytics.numeric.clv import WEEKS_PER_MONTH, customer_value, fit_report
from rapport.analytics.numeric.gammagamma import GammaGammaModel
from rapport.analytics.numeric.paretonbd import ParetoNbdModel
from rapport.analytics.numeric.profitability import (
    attribute_marketing_cost,
    customer_profitability,
)
from rapport.analytics.numeric.rfm import rfm_from_measures
from rapport.analytics.warehouse import ACTIVITY_KINDS

logger = logging.getLogger(__name__)

TIME_UNIT_DAYS = 7.0
NEXT_PRODUCTS = 3
# Pareto/NBD is fitted as a comparison model only (its likelihood needs numerical quadrature
# per distinct history, ~100x the cost of BG/NBD): on a random sample of this many customers,
# with BG/NBD's log-likelihood on the same sample reported beside it.
PARETO_SAMPLE = 5_000
SAMPLE_SEED = 20250630
# The holdout report needs enough customers first seen before the holdout to mean anything.
MIN_CALIBRATION_CUSTOMERS = 20


@dataclass
class ScoreConfig:
    cost_rates: dict[str, float]
    marketing_cost_per_year: float = 0.0
    annual_discount_rate: float = 0.10
    margin: float = 1.0
    holdout_weeks: int = 26
    at_risk_min_churn: float = 0.5
    at_risk_value_quantile: float = 0.8
    churn_min_per_class: int = 30


@dataclass
class FitRecord:
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    log_likelihood: float | None = None
    n_customers: int = 0
    converged: bool = False
    calibration: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class ScoreResult:
    scores: pd.DataFrame
    fits: list[FitRecord]
    summary: dict[str, Any]


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf as None (PostgreSQL's jsonb
    refuses NaN), dates as ISO strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime.date | pd.Timestamp):
        return value.isoformat()
    return value


_SUMMARY_SQL = """
WITH occ AS (
    SELECT customer_key, day, coalesce(sum(amount), 0) AS amount
    FROM transactions WHERE day <= $end GROUP BY customer_key, day
),
agg AS (
    SELECT customer_key, min(day) AS first_day, max(day) AS last_day, count(*) AS n,
           sum(amount) AS total, arg_min(amount, day) AS first_amount
    FROM occ GROUP BY customer_key
)
SELECT customer_key,
       n - 1 AS frequency,
       date_diff('day', first_day, last_day) / $unit AS recency,
       date_diff('day', first_day, $end) / $unit AS "T",
       CASE WHEN n > 1 THEN (total - first_amount) / (n - 1) ELSE 0 END AS monetary,
       date_diff('day', last_day, $end) AS recency_days,
       n AS occasions,
       total,
       first_day, last_day
FROM agg
ORDER BY customer_key
"""

_HOLDOUT_SQL = """
SELECT customer_key, count(DISTINCT day) AS frequency_holdout,
       coalesce(sum(amount), 0) / count(DISTINCT day) AS monetary_holdout
FROM transactions
WHERE day > $start AND day <= $end
  AND customer_key IN (SELECT customer_key FROM transactions WHERE day <= $start)
GROUP BY customer_key
"""


def customer_summary_sql(
    con: duckdb.DuckDBPyConnection,
    *,
    calibration_end: datetime.date,
    observation_end: datetime.date | None = None,
) -> pd.DataFrame:
    """The ``numeric.summary.customer_summary`` frame (in weeks), computed by DuckDB, plus
    recency_days, occasions, total, first_day, last_day. Indexed by customer_key."""
    frame = (
        con.execute(_SUMMARY_SQL, {"end": calibration_end, "unit": TIME_UNIT_DAYS})
        .df()
        .set_index("customer_key")
    )
    frame["frequency"] = frame["frequency"].astype(np.int64)
    if observation_end is not None:
        hold = (
            con.execute(_HOLDOUT_SQL, {"start": calibration_end, "end": observation_end})
            .df()
            .set_index("customer_key")
        )
        frame["frequency_holdout"] = (
            hold["frequency_holdout"].reindex(frame.index, fill_value=0).astype(np.int64)
        )
        frame["monetary_holdout"] = hold["monetary_holdout"].reindex(frame.index, fill_value=0.0)
        frame["duration_holdout"] = (observation_end - calibration_end).days / TIME_UNIT_DAYS
    return frame


def _fit_record(model: Any, name: str) -> FitRecord:
    return FitRecord(
        model=name,
        params=jsonable(dict(model.params)),
        log_likelihood=jsonable(float(model.log_likelihood)),
        n_customers=int(model.n_customers),
        converged=bool(model.converged),
    )


def _sample(frame: pd.DataFrame, size: int | None) -> pd.DataFrame:
    if size is None or len(frame) <= size:
        return frame
    return frame.sample(n=size, random_state=SAMPLE_SEED).sort_index()


def _calibration_report(
    con: duckdb.DuckDBPyConnection,
    model_cls: type,
    *,
    as_of: datetime.date,
    weeks: int,
    sample: int | None = None,
) -> dict[str, Any] | None:
    """Fit `model_cls` on the period before the last `weeks` weeks and compare its predicted
    repeat purchases in the holdout with the actual ones, per calibration frequency."""
    calibration_end = as_of - datetime.timedelta(weeks=weeks)
    summary = customer_summary_sql(con, calibration_end=calibration_end, observation_end=as_of)
    summary = _sample(summary, sample)
    if len(summary) < MIN_CALIBRATION_CUSTOMERS or summary["frequency"].sum() == 0:
        return None
    model = model_cls.fit(summary["frequency"], summary["recency"], summary["T"])
    if isinstance(model, BgNbdModel):
        model, _ = stable_bgnbd(model, summary)
    report = fit_report(model, summary)
    return {
        "calibration": jsonable(
            [] if report.calibration is None else report.calibration.to_dict(orient="records")
        ),
        "report": jsonable(
            {
                "calibration_end": calibration_end,
                "holdout_end": as_of,
                "holdout_weeks": weeks,
                "calibration_params": report.params,
                "calibration_log_likelihood": report.log_likelihood,
                "calibration_customers": report.n_customers,
                "holdout_actual": report.holdout_actual,
                "holdout_predicted": report.holdout_predicted,
            }
        ),
    }


def _purchase_model_fit(
    con,
    summary: pd.DataFrame,
    model_cls: type,
    name: str,
    config: ScoreConfig,
    as_of,
    sample: int | None = None,
) -> tuple[Any | None, FitRecord]:
    summary = _sample(summary, sample)
    try:
        model = model_cls.fit(summary["frequency"], summary["recency"], summary["T"])
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        return None, FitRecord(model=name, error=str(exc))
    record = _fit_record(model, name)
    try:
        calibration = _calibration_report(
            con, model_cls, as_of=as_of, weeks=max(1, config.holdout_weeks), sample=sample
        )
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        calibration = None
        record.report["calibration_error"] = str(exc)
    if calibration:
        record.calibration = calibration["calibration"]
        record.report.update(calibration["report"])
    return model, record


# Past this a + b, the Beta(a, b) of BG/NBD dropout probabilities is a point mass for every
# practical purpose, and scipy's hyp2f1 in E[X(t)] overflows (NaN) for large x.
MAX_BETA_CONCENTRATION = 1e4


def stable_bgnbd(model: BgNbdModel, summary: pd.DataFrame) -> tuple[BgNbdModel, dict[str, Any]]:
    """`model`, or when its (a, b) drifted to the flat ridge a, b -> infinity with a/(a+b)
    fixed (homogeneous dropout), the same model with a + b scaled down until the predictions
    are finite. Returns the model used for scoring and what was done (for the fit report)."""
    x, tx, big_t = summary["frequency"], summary["recency"], summary["T"]
    total = model.a + model.b
    if total <= MAX_BETA_CONCENTRATION:
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(model.expected_purchases(x, tx, big_t, 52.0)).all()
        if finite:
            return model, {}
        total = MAX_BETA_CONCENTRATION
    for concentration in (MAX_BETA_CONCENTRATION, 1e3, 1e2):
        limit = min(concentration, total)
        scaled = BgNbdModel(
            r=model.r,
            alpha=model.alpha,
            a=model.a * limit / (model.a + model.b),
            b=model.b * limit / (model.a + model.b),
            log_likelihood=model.log_likelihood,
            n_customers=model.n_customers,
            n_distinct=model.n_distinct,
            converged=model.converged,
        )
        with np.errstate(invalid="ignore", over="ignore"):
            finite = np.isfinite(scaled.expected_purchases(x, tx, big_t, 52.0)).all()
        if finite:
            return scaled, {
                "scoring_params": scaled.params,
                "scoring_log_likelihood": scaled.log_likelihood_of(x, tx, big_t),
                "note": (
                    "a and b ran off to the flat ridge a, b -> infinity (every customer "
                    "drops out with the same probability a/(a+b)); scores use a + b = "
                    f"{limit:g} with the same ratio"
                ),
            }
    return model, {"note": "predictions are not finite for some customers"}


def _next_products(con: duckdb.DuckDBPyConnection, customers: pd.Index) -> tuple[dict, FitRecord]:
    lines = con.execute(
        """
        SELECT DISTINCT customer_key AS customer_id, order_id, product_id, day AS date
        FROM order_lines WHERE product_id IS NOT NULL
        """
    ).df()
    record = FitRecord(model="next_products", n_customers=len(customers))
    if lines.empty:
        record.error = "no order lines with products"
        return {}, record
    best = recommend.next_best_products(lines, k=NEXT_PRODUCTS, customers=customers)
    grouped = best.sort_values(["customer_id", "rank"]).groupby("customer_id")["product_id"]
    picks = {key: [int(p) for p in ids] for key, ids in grouped}
    try:
        hit = recommend.hit_rate_at_k(lines, k=5)
        record.report = jsonable(
            {
                "k": hit.k,
                "customers_evaluated": hit.customers_evaluated,
                "hit_rate": hit.hit_rate,
                "popularity_hit_rate": hit.popularity_hit_rate,
                "lift_over_popularity": hit.lift_over_popularity,
            }
        )
        record.converged = True
    except ValueError as exc:
        record.report = {"hit_rate_error": str(exc)}
    return picks, record


def compute_scores(
    con: duckdb.DuckDBPyConnection, *, as_of: datetime.date, config: ScoreConfig
) -> ScoreResult:
    """Scores for every customer with a revenue-bearing order in the snapshot."""
    seconds: dict[str, float] = {}
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - last[0], 3)
        last[0] = now

    summary = customer_summary_sql(con, calibration_end=as_of)
    lap("summary")
    fits: list[FitRecord] = []
    index = summary.index
    n = len(index)
    scores = pd.DataFrame(index=index)
    if n == 0:
        return ScoreResult(scores=scores, fits=fits, summary={"customers": 0})

    # RFM
    measures = pd.DataFrame(
        {
            "recency_days": summary["recency_days"].astype(np.int64),
            "frequency": summary["occasions"].astype(np.int64),
            "monetary": summary["total"].astype(np.float64),
        }
    )
    rfm = rfm_from_measures(measures)
    scores = scores.join(rfm.table[["r_score", "f_score", "m_score", "segment"]])
    scores["recency_days"] = measures["recency_days"]
    scores["first_purchase"] = summary["first_day"]
    scores["last_purchase"] = summary["last_day"]
    fits.append(
        FitRecord(
            model="rfm",
            params=jsonable({"thresholds": rfm.thresholds.to_dict(orient="records")}),
            n_customers=n,
            converged=True,
        )
    )

    lap("rfm")

    # Purchase and spend models
    bg, bg_record = _purchase_model_fit(con, summary, BgNbdModel, "bgnbd", config, as_of)
    if bg is not None:
        bg, adjustment = stable_bgnbd(bg, summary)
        bg_record.report.update(jsonable(adjustment))
    fits.append(bg_record)
    repeat = (summary["frequency"] > 0) & (summary["monetary"] > 0)
    gg = None
    if repeat.any():
        try:
            gg = GammaGammaModel.fit(
                summary.loc[repeat, "frequency"], summary.loc[repeat, "monetary"]
            )
            fits.append(_fit_record(gg, "gammagamma"))
        except (ValueError, FloatingPointError) as exc:
            fits.append(FitRecord(model="gammagamma", error=str(exc)))
    else:
        fits.append(FitRecord(model="gammagamma", error="no repeat buyers"))

    if bg is not None:
        x, tx, big_t = summary["frequency"], summary["recency"], summary["T"]
        p_alive, e12 = bg.score(x, tx, big_t, 12.0)
        _, e52 = bg.score(x, tx, big_t, 52.0)
        scores["p_alive"] = p_alive
        scores["expected_purchases_12w"] = e12
        scores["expected_purchases_52w"] = e52
        scores["churn_risk"] = 1.0 - p_alive
        scores["churn_source"] = "purchase_model"
    else:
        for column in ("p_alive", "expected_purchases_12w", "expected_purchases_52w"):
            scores[column] = np.nan
        scores["churn_risk"] = 0.0
        scores["churn_source"] = ""
    if bg is not None and gg is not None and gg.q > 1:
        monthly = (1.0 + config.annual_discount_rate) ** (1.0 / 12.0) - 1.0
        value = customer_value(
            summary[["frequency", "recency", "T", "monetary"]].clip(lower=0),
            bg,
            gg,
            periods=12,
            period_length=WEEKS_PER_MONTH,
            discount_rate=monthly,
            margin=config.margin,
        )
        scores["expected_spend"] = value["expected_average_spend"]
        scores["clv"] = value["clv"].clip(lower=0).fillna(0.0)
    else:
        scores["expected_spend"] = np.nan
        scores["clv"] = 0.0

    lap("bgnbd_gammagamma_clv")

    # Pareto/NBD, for comparison in the model-fit report only.
    _, pareto_record = _purchase_model_fit(
        con, summary, ParetoNbdModel, "paretonbd", config, as_of, sample=PARETO_SAMPLE
    )
    if n > PARETO_SAMPLE and bg is not None:
        sampled = _sample(summary, PARETO_SAMPLE)
        pareto_record.report["sample"] = PARETO_SAMPLE
        pareto_record.report["bgnbd_log_likelihood_on_sample"] = jsonable(
            bg.log_likelihood_of(sampled["frequency"], sampled["recency"], sampled["T"])
        )
    fits.append(pareto_record)

    lap("paretonbd")

    # Cross-sell
    picks, products_record = _next_products(con, index)
    scores["next_products"] = [picks.get(key, []) for key in index]
    fits.append(products_record)

    lap("next_products")

    # Bundles and up-sell
    baskets = basket_analysis(con, index)
    scores["upsell_products"] = [baskets.upsell.get(int(key), []) for key in index]
    fits.append(
        FitRecord(
            model="bundles",
            n_customers=n,
            converged=not baskets.bundle_error,
            params={"bundles": baskets.bundles_found},
            report=jsonable(baskets.bundle_report),
            error=baskets.bundle_error,
        )
    )
    fits.append(
        FitRecord(
            model="upsell",
            n_customers=baskets.upsell_customers,
            converged=not baskets.upsell_error and "hit_rate" in baskets.upsell_report,
            report=jsonable(baskets.upsell_report),
            error=baskets.upsell_error,
        )
    )

    lap("bundles_upsell")

    # Supervised churn for accounts with a known end (closed accounts).
    supervised = closed_churn(con, as_of=as_of, min_per_class=config.churn_min_per_class)
    if supervised.model is not None:
        open_keys = supervised.probability.index.intersection(index)
        scores.loc[open_keys, "churn_risk"] = supervised.probability.loc[open_keys].to_numpy()
        scores.loc[open_keys, "churn_source"] = "classifier"
    closed_keys = supervised.closed.intersection(index)
    scores.loc[closed_keys, "churn_risk"] = 1.0
    scores.loc[closed_keys, "churn_source"] = "closed"
    fits.append(
        FitRecord(
            model="churn_classifier",
            params=jsonable({"weights": supervised.weights}),
            n_customers=int(
                supervised.report["closed_accounts"] + supervised.report["open_accounts"]
            ),
            converged=supervised.model is not None,
            report=jsonable(supervised.report),
            error=supervised.error,
        )
    )

    lap("churn_classifier")

    # Profitability
    facts = (
        con.execute(
            f"""
            SELECT customer_key, revenue, {", ".join(f"{k}s" for k in ACTIVITY_KINDS)}
            FROM customers WHERE orders > 0
            """  # noqa: S608 - constants only
        )
        .df()
        .set_index("customer_key")
        .reindex(index)
    )
    counts = facts[[f"{k}s" for k in ACTIVITY_KINDS]].fillna(0)
    counts.columns = list(ACTIVITY_KINDS)
    new_since = as_of - datetime.timedelta(days=365)
    new_customers = summary.index[summary["first_day"] > pd.Timestamp(new_since)]
    marketing = None
    if config.marketing_cost_per_year > 0 and len(new_customers):
        touches = pd.DataFrame({"customer_id": new_customers, "campaign_id": "acquisition"})
        marketing = attribute_marketing_cost(
            touches, {"acquisition": config.marketing_cost_per_year}
        )
    # Revenue up to the observation end (orders after it are not part of the analysis).
    profit = customer_profitability(
        summary["total"].fillna(0.0),
        activity_counts=counts,
        cost_rates=config.cost_rates,
        marketing_cost=marketing,
    ).reindex(index)
    scores["revenue"] = profit["revenue"].fillna(0.0)
    scores["cost_to_serve"] = profit["cost_to_serve"].fillna(0.0)
    scores["marketing_cost"] = profit["marketing_cost"].fillna(0.0)
    scores["profit"] = profit["profit"].fillna(0.0)
    scores["orders"] = summary["occasions"].astype(np.int64)

    # At risk: high churn risk among the most valuable customers (by revenue so far). One
    # predicate, on the amounts as stored (cents), gives the flags, the count in the summary
    # and the cutoff the at-risk list filters with. A closed account has left already: it is
    # neither at risk nor part of the revenue ranking.
    scores["revenue"] = scores["revenue"].round(2)
    scores["value_at_risk"] = scores["churn_risk"] * scores["revenue"]
    open_customers = ~scores.index.isin(closed_keys)
    ranked = scores.loc[open_customers, "revenue"]
    value_cutoff = (
        round(float(ranked.quantile(config.at_risk_value_quantile)), 2) if len(ranked) else 0.0
    )
    scores["at_risk"] = (
        open_customers
        & (scores["churn_risk"].clip(0.0, 1.0) >= config.at_risk_min_churn)
        & (scores["revenue"] >= value_cutoff)
    )
    lap("profitability_at_risk")
    return ScoreResult(
        scores=scores,
        fits=fits,
        summary=jsonable(
            {
                "customers": n,
                "at_risk": int(scores["at_risk"].sum()),
                "at_risk_value_cutoff": value_cutoff,
                "at_risk_min_churn": config.at_risk_min_churn,
                "churn_source": "classifier"
                if supervised.model is not None
                else ("purchase_model" if bg is not None else ""),
                "as_of": as_of,
                "scoring_seconds": seconds,
            }
        ),
    )


SCORE_COLUMNS = (
    "segment",
    "r_score",
    "f_score",
    "m_score",
    "p_alive",
    "churn_risk",
    "expected_purchases_12w",
    "expected_purchases_52w",
    "expected_spend",
    "clv",
    "at_risk",
    "value_at_risk",
    "profit",
    "cost_to_serve",
    "revenue",  # up to the observation end (the warehouse's customers table has every order)
)


def store_scores_in_warehouse(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> None:
    """The scores as a DuckDB table, so that the cube and the aggregates can use them."""
    frame = scores[list(SCORE_COLUMNS)].reset_index()
    frame["customer_key"] = frame["customer_key"].astype(np.int64)
    frame["segment"] = frame["segment"].astype(str)
    frame["at_risk"] = frame["at_risk"].astype(bool)
    con.register("_scores", frame)
    try:
        con.execute("CREATE OR REPLACE TABLE customer_scores AS SELECT * FROM _scores")
    finally:
        con.unregister("_scores")

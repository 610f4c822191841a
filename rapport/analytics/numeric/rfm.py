"""RFM segmentation: recency, frequency and monetary quintile scores and named segments.

Scores run 1 (worst) to 5 (best). Cut points are the 20/40/60/80% quantiles of each measure and
are returned with the scores, so a screen can say "frequency 5 means more than 6 orders". Tied
values always share a score, so on skewed data (most customers buying once) some scores are
skipped rather than splitting identical customers arbitrarily.

Segments are assigned from the recency score R and the combined frequency-monetary score
FM = round-half-up((F + M) / 2) by the first matching rule of ``SEGMENT_RULES``; the rules cover
all 25 (R, FM) cells. A rule may also ask for a minimum frequency score F: "at risk" ("bought
often") needs F >= 2, so a one-time buyer with a big order (F 1, M 5, FM 3) is not "at risk" but
"hibernating". A one-time buyer always has F = 1 (no cut point lies below one occasion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .summary import purchase_occasions


@dataclass(frozen=True)
class SegmentRule:
    """Customers with r_min <= R <= r_max, fm_min <= FM <= fm_max and F >= f_min belong to
    ``segment``."""

    segment: str
    r_min: int
    r_max: int
    fm_min: int
    fm_max: int
    description: str
    f_min: int = 1

    def matches(self, r: np.ndarray, fm: np.ndarray, f: np.ndarray | None = None) -> np.ndarray:
        hit = (r >= self.r_min) & (r <= self.r_max) & (fm >= self.fm_min) & (fm <= self.fm_max)
        if f is not None and self.f_min > 1:
            hit &= f >= self.f_min
        return hit


# Order matters: the first matching rule wins (hibernating catches the R 2-3 low-FM remainder
# and the one-time buyers of R 1-2, FM 3-4 that "at risk" leaves out).
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("champions", 5, 5, 4, 5, "Bought recently, buy often and spend the most"),
    SegmentRule("loyal", 3, 4, 4, 5, "Buy often and spend well; not the very latest buyers"),
    SegmentRule("new", 4, 5, 1, 1, "Bought recently, but only once or for little"),
    SegmentRule("potential loyalists", 3, 5, 2, 3, "Recent buyers with average frequency/spend"),
    SegmentRule("can't lose them", 1, 2, 5, 5, "Used to buy most and spend most; gone quiet"),
    SegmentRule("at risk", 1, 2, 3, 4, "Bought often and well, but long ago", f_min=2),
    SegmentRule("lost", 1, 1, 1, 2, "Lowest recency, frequency and spend"),
    SegmentRule(
        "hibernating", 1, 3, 1, 4, "Few purchases (or a single one), not recent; low spend"
    ),
)


def segment_rules() -> pd.DataFrame:
    """The segment rules as data, in matching order (first match wins)."""
    return pd.DataFrame(
        [
            {
                "order": i,
                "segment": rule.segment,
                "r_min": rule.r_min,
                "r_max": rule.r_max,
                "fm_min": rule.fm_min,
                "fm_max": rule.fm_max,
                "f_min": rule.f_min,
                "description": rule.description,
            }
            for i, rule in enumerate(SEGMENT_RULES, start=1)
        ]
    )


def segment_grid() -> pd.DataFrame:
    """The 5 x 5 map of segment names: rows R = 5..1, columns FM = 1..5 (for repeat buyers:
    a rule's minimum F is not applied)."""
    r = np.repeat(np.arange(5, 0, -1), 5)
    fm = np.tile(np.arange(1, 6), 5)
    names = assign_segments(r, fm)
    return pd.DataFrame(
        names.reshape(5, 5), index=pd.Index(range(5, 0, -1), name="R"), columns=range(1, 6)
    )


def assign_segments(
    r_score: np.ndarray, fm_score: np.ndarray, f_score: np.ndarray | None = None
) -> np.ndarray:
    """Segment name per customer from R and FM scores (1..5) and, when given, F scores (for
    the rules with a minimum F); every customer gets exactly one name."""
    r = np.asarray(r_score)
    fm = np.asarray(fm_score)
    f = None if f_score is None else np.asarray(f_score)
    names = np.full(r.shape, "", dtype=object)
    unassigned = np.ones(r.shape, dtype=bool)
    for rule in SEGMENT_RULES:
        hit = unassigned & rule.matches(r, fm, f)
        names[hit] = rule.segment
        unassigned &= ~hit
    if unassigned.any():
        raise ValueError("scores must be integers from 1 to 5")
    return names


@dataclass(frozen=True)
class RfmResult:
    """Per-customer measures, scores and segment, plus the cut points that produced them.

    ``thresholds`` has one row per measure with the four cut points q20..q80 and the direction:
    for recency lower is better (score 5 = days since last purchase <= q20); for frequency and
    monetary score s means value above s-1 cut points.
    """

    table: pd.DataFrame
    thresholds: pd.DataFrame


def quintile_cuts(values: pd.Series | np.ndarray) -> np.ndarray:
    """The 20/40/60/80% quantiles of ``values`` (linear interpolation)."""
    return np.quantile(np.asarray(values, dtype=np.float64), [0.2, 0.4, 0.6, 0.8])


def score(values: np.ndarray, cuts: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """Scores 1..5 from cut points; equal values always get equal scores."""
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(cuts, dtype=np.float64)
    if higher_is_better:
        # Number of cut points strictly below the value.
        return 1 + np.searchsorted(c, v, side="left")
    # Recency: 5 for values at or below the lowest cut point.
    return 5 - np.searchsorted(c, v, side="left")


def rfm_from_measures(
    measures: pd.DataFrame, *, thresholds: pd.DataFrame | None = None
) -> RfmResult:
    """Scores and segments from per-customer ``recency_days``, ``frequency``, ``monetary``.

    Pass ``thresholds`` (as returned in an earlier ``RfmResult``) to score against fixed cut
    points, e.g. to keep segments stable from one month to the next.
    """
    required = {"recency_days", "frequency", "monetary"}
    if not required <= set(measures.columns):
        raise ValueError(f"measures need columns {sorted(required)}")
    if thresholds is None:
        thresholds = pd.DataFrame(
            {
                "measure": ["recency_days", "frequency", "monetary"],
                "higher_is_better": [False, True, True],
                **{
                    f"q{p}": [
                        quintile_cuts(measures[m])[i]
                        for m in ("recency_days", "frequency", "monetary")
                    ]
                    for i, p in enumerate((20, 40, 60, 80))
                },
            }
        )
    cuts = {
        row.measure: np.array([row.q20, row.q40, row.q60, row.q80])
        for row in thresholds.itertuples()
    }
    table = measures[["recency_days", "frequency", "monetary"]].copy()
    table["r_score"] = score(table["recency_days"], cuts["recency_days"], higher_is_better=False)
    table["f_score"] = score(table["frequency"], cuts["frequency"], higher_is_better=True)
    table["m_score"] = score(table["monetary"], cuts["monetary"], higher_is_better=True)
    # Round half up: (F + M + 1) // 2 maps (4, 5) to 5 and (1, 2) to 2.
    table["fm_score"] = (table["f_score"] + table["m_score"] + 1) // 2
    table["segment"] = assign_segments(
        table["r_score"].to_numpy(), table["fm_score"].to_numpy(), table["f_score"].to_numpy()
    )
    return RfmResult(table=table, thresholds=thresholds)


def rfm_measures(
    transactions: pd.DataFrame,
    *,
    as_of: object,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    monetary: str = "total",
) -> pd.DataFrame:
    """Per customer: days since last purchase (as of ``as_of``), purchase occasions (same-day
    transactions count once) and total (or ``monetary="mean"``) spend, from transactions up to
    and including ``as_of``."""
    if monetary not in {"total", "mean"}:
        raise ValueError("monetary must be 'total' or 'mean'")
    occ = purchase_occasions(
        transactions, customer_col=customer_col, date_col=date_col, amount_col=amount_col
    )
    cutoff = pd.Timestamp(as_of)
    tz = getattr(occ["day"].dt, "tz", None)
    if tz is not None and cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize(tz)
    occ = occ[occ["day"] <= cutoff.normalize()]
    grouped = occ.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "recency_days": (cutoff.normalize() - grouped["day"].max()).dt.days.astype(np.int64),
            "frequency": grouped["day"].size().astype(np.int64),
            "monetary": grouped["amount"].sum()
            if monetary == "total"
            else grouped["amount"].mean(),
        }
    )
    out.index.name = "customer_id"
    return out


def rfm_segment(
    transactions: pd.DataFrame,
    *,
    as_of: object,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    monetary: str = "total",
    thresholds: pd.DataFrame | None = None,
) -> RfmResult:
    """RFM measures, scores and segments for every customer with a purchase up to ``as_of``."""
    measures = rfm_measures(
        transactions,
        as_of=as_of,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        monetary=monetary,
    )
    return rfm_from_measures(measures, thresholds=thresholds)


def segment_summary(result: RfmResult) -> pd.DataFrame:
    """Per segment: customers, share of customers, mean measures and share of monetary value."""
    table = result.table
    total_value = float(table["monetary"].sum())
    summary = table.groupby("segment").agg(
        customers=("monetary", "size"),
        recency_days=("recency_days", "mean"),
        frequency=("frequency", "mean"),
        monetary=("monetary", "mean"),
        value=("monetary", "sum"),
    )
    summary["share_of_customers"] = summary["customers"] / len(table)
    summary["share_of_value"] = summary["value"] / total_value if total_value else 0.0
    order = [r.segment for r in SEGMENT_RULES]
    return summary.reindex([s for s in order if s in summary.index])

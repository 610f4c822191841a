"""Reads of scores for pages: a score row as a card (badge class, signed reasons)."""


def score_card(row, *, percent: bool = False) -> dict | None:
    """What the lead (or opportunity) page shows: the score, its source, a badge class and
    the top reasons with their direction."""
    if row is None:
        return None
    value = getattr(row, "score", None)
    if value is None:
        value = row.probability
    reasons = [
        {
            "feature": r.get("feature", ""),
            "effect": r.get("effect", 0),
            "up": (r.get("effect") or 0) > 0,
        }
        for r in (row.reasons or [])
    ]
    return {
        "value": value,
        "source": row.source,
        "learned": row.source in ("learned", "model"),
        "rule_score": getattr(row, "rule_score", None),
        "badge": "score-hot" if value >= 60 else ("score-warm" if value >= 30 else "score-cold"),
        "reasons": reasons,
        "scored_at": row.scored_at,
    }

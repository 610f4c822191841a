"""Score columns of the account and contact lists (segment, CLV, churn risk).

The list selectors annotate `clv` and `churn_risk` (0 for unscored customers, so that keyset
pagination can sort by them) and select the score row, so these columns cost no query.
"""

from django.conf import settings

from rapport.web.listing import Column


def _score(record):
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    return getattr(record, "customer_score", None)


def _segment(record) -> str:
    score = _score(record)
    return score.segment if score else ""


def _clv(record):
    return record.clv if _score(record) else None


def _churn_risk(record):
    score = _score(record)
    return round(score.churn_risk * 100) if score else None


# Shown with the column chooser or `?cols=` (the analytics pages link to the lists with
# them): as default columns they pushed the accounts list past a 1440px screen.
SCORE_COLUMNS = "segment,clv,churn_risk"


def score_columns(*, default: bool = False) -> list[Column]:
    """Segment, CLV and churn risk (%), sortable by CLV and churn risk; blank for a customer
    that no refresh has scored yet."""
    return [
        Column(
            "segment",
            "Segment",
            lambda r: _segment(r).capitalize(),
            csv=_segment,
            default=default,
        ),
        Column(
            "clv",
            "CLV (12 months)",
            _clv,
            kind="money",
            sort="clv",
            currency=lambda r: settings.RAPPORT_CURRENCY.upper(),
            default=default,
        ),
        Column(
            "churn_risk",
            "Churn risk %",
            _churn_risk,
            kind="number",
            sort="churn_risk",
            default=default,
        ),
    ]

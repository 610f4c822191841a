"""Template helpers of the analytics pages and the "Customer value" card of record pages."""

from django import template
from django.conf import settings

from rapport.accounts.models import Account
from rapport.analytics.numeric.rfm import SEGMENT_RULES
from rapport.sales.selectors import product_list

register = template.Library()

SEGMENT_DESCRIPTIONS = {rule.segment: rule.description for rule in SEGMENT_RULES}
CHURN_SOURCES = {
    "purchase_model": "1 − probability alive (purchase model)",
    "classifier": "model learned from closed accounts",
    "closed": "the account is closed",
}


@register.filter
def percent(value, digits: int = 0) -> str:
    """0.734 → "73 %" (blank for None)."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def decimal(value, digits: int = 2) -> str:
    if value is None or value == "":
        return ""
    return f"{float(value):,.{int(digits)}f}"


@register.filter
def significant(value, digits: int = 4) -> str:
    """A model parameter with `digits` significant digits (1.116, 23.22, 1.137e+07)."""
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):.{int(digits)}g}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def segment_description(name: str) -> str:
    return SEGMENT_DESCRIPTIONS.get(name, "")


@register.filter
def churn_status(risk) -> str:
    """The status colour of a churn risk; the text label goes with it."""
    if risk is None:
        return "info"
    if risk >= 0.5:
        return "danger"
    return "warning" if risk >= 0.25 else "success"


@register.simple_tag
def customer_value(record) -> dict:
    """What the "Customer value" card of an account or contact page shows: the record's scores
    (read through the page's select_related, no query), the names of its next-best products
    (one query), or why there are none."""
    score = getattr(record, "customer_score", None)  # missing: RelatedObjectDoesNotExist
    out = {
        "score": score,
        "currency": settings.RAPPORT_CURRENCY.upper(),
        "is_account": isinstance(record, Account),
        "buys_through_account": None,
        "products": [],
        "upsell": [],
    }
    if score is None:
        if not out["is_account"] and record.account_id:
            # Only an account the reader may see (the contact page's loader checked it).
            out["buys_through_account"] = getattr(record, "linked_account", None)
        return out
    ids = [int(i) for i in score.next_products or []]
    upsell_ids = [int(i) for i in score.upsell_products or []]
    if ids or upsell_ids:
        by_id = {p.pk: p for p in product_list().filter(pk__in=ids + upsell_ids)}
        out["products"] = [by_id[i] for i in ids if i in by_id]
        out["upsell"] = [by_id[i] for i in upsell_ids if i in by_id]
    out["churn_source"] = CHURN_SOURCES.get(score.churn_source, "")
    out["description"] = SEGMENT_DESCRIPTIONS.get(score.segment, "")
    return out


@register.filter
def minutes_duration(minutes) -> str:
    """Business minutes as "45 min", "8 h 24 min", "3 d 2 h" (8-hour days are not assumed:
    days here are 24 hours of business time); "—" for None."""
    if minutes is None or minutes == "":
        return "—"
    total = round(float(minutes))
    if total < 60:
        return f"{total} min"
    hours, mins = divmod(total, 60)
    if hours < 24:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"

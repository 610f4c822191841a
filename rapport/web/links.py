"""Where a record's page is: `<app_label>:<model>_detail` when that URL exists, else the
conventional path, so pages built later get linked to without touching this code."""

from functools import cache

from django.db.models import Model
from django.urls import NoReverseMatch, reverse

# Pages planned but maybe not built yet: plain paths until their URL names exist.
_FALLBACK = {
    "accounts.account": "/accounts/{pk}/",
    "accounts.contact": "/contacts/{pk}/",
    "leads.lead": "/leads/{pk}/",
    "sales.opportunity": "/opportunities/{pk}/",
    "orders.order": "/orders/{pk}/",
    "sales.product": "/products/{pk}/",
    "activities.activity": "/activities/{pk}/",
    "cases.case": "/cases/{pk}/",
}


@cache
def _named(label: str) -> str | None:
    app_label, model_name = label.split(".")
    name = f"{app_label}:{model_name}_detail"
    try:
        reverse(name, args=[1])
    except NoReverseMatch:
        return None
    return name


def record_url(record: Model | None) -> str:
    """The URL of the record's page ('' for None)."""
    if record is None:
        return ""
    label = record._meta.label_lower
    name = _named(label)
    if name:
        return reverse(name, args=[record.pk])
    return _FALLBACK.get(label, "/").format(pk=record.pk)

"""`{% consent_card record %}`: the Consent card on contact and lead pages (the record is
already loaded through the visibility selectors by the page's view)."""

from django import template

register = template.Library()


@register.inclusion_tag("consent/_card.html", takes_context=True)
def consent_card(context, record):
    from rapport.consent.views import card_context

    request = context.get("request")
    return {
        **card_context(record, request.user),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def consent_status_class(status: str) -> str:
    return {
        "opted_in": "status-success",
        "opted_out": "status-danger",
        "pending": "status-warning",
    }.get(status, "badge")

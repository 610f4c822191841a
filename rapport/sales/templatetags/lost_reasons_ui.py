"""`{% lost_reason_options as reasons %}`: the active lost reasons' names, for the lost dialogs
(an empty list: the organisation has none yet, and the dialogs ask for free text)."""

from django import template

register = template.Library()


@register.simple_tag
def lost_reason_options() -> list[str]:
    from rapport.sales.services.lost_reasons import lost_reasons_active

    return [r.name for r in lost_reasons_active()]

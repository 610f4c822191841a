from django import template

register = template.Library()


@register.simple_tag
def case_survey(case):
    """The case's CSAT invitation (sent or answered), or None."""
    from rapport.surveys.models import SurveyInvitation

    return SurveyInvitation.objects.filter(case_id=case.pk, kind="csat").first()


@register.filter
def can_send_nps(user) -> bool:
    """Whether the user may send NPS surveys (administrators and managers)."""
    from rapport.surveys.services import can_send_nps as allowed

    return allowed(user)

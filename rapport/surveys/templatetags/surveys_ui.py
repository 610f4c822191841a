from django import template

from rapport.records.prepared import Prepared

register = template.Library()


@register.simple_tag
def case_survey(case):
    """The case's CSAT invitation (sent or answered), or None: `.first()` of the case's
    invitations, by a statement compiled once (it is asked on every case page)."""
    found = _CASE_CSAT(case.pk)
    return found[0] if found else None


def _first_csat_of_case(case_id):
    from rapport.surveys.models import SurveyInvitation

    qs = SurveyInvitation.objects.filter(case_id=case_id, kind="csat")
    return (qs if qs.ordered else qs.order_by("pk"))[:1]


_CASE_CSAT = Prepared(_first_csat_of_case, 1)


@register.filter
def can_send_nps(user) -> bool:
    """Whether the user may send NPS surveys (administrators and managers)."""
    from rapport.surveys.services import can_send_nps as allowed

    return allowed(user)

"""The contact list's "Send NPS survey" bulk action (administrators and managers)."""

from rapport.web.listing import BulkAction


def send_nps_bulk() -> BulkAction:
    def run(*, record, actor, data):
        from django.core.exceptions import ValidationError

        from rapport.surveys import selectors, services

        survey = selectors.nps_survey_get(pk=data["survey_id"])
        if not services.nps_send_to_contacts(survey=survey, contacts=[record], actor=actor):
            # Counted as skipped: no email address, or this survey reached them before.
            raise ValidationError("not sent", code="not_sent")

    def choices(user):
        from rapport.surveys.selectors import nps_surveys

        return nps_surveys().filter(is_active=True).values_list("pk", "name")[:200]

    def allowed(user) -> bool:
        from rapport.surveys.services import can_send_nps

        return can_send_nps(user)

    return BulkAction(
        "Send NPS survey",
        "sent the NPS survey",
        run,
        needs="survey_id",
        choices=choices,
        allowed=allowed,
    )

"""Reads of web forms: definitions are visible to every signed-in user (like segments);
submissions are listed with the records they created or updated, and a record the user may
not see is shown without its link."""

from django.db.models import Count, Q, QuerySet

from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.webforms.models import FormSubmission, WebForm


def forms_for(user: User) -> QuerySet[WebForm]:
    return (
        WebForm.objects.select_related("assign_user", "assign_team", "campaign")
        .annotate(submission_count=Count("submissions"))
        .order_by("name", "id")
    )


def form_get_for_user(*, pk: int, user: User) -> WebForm:
    form = (
        WebForm.objects.select_related("assign_user", "assign_team", "campaign")
        .filter(pk=pk)
        .first()
    )
    if form is None:
        raise RecordNotFound("form")
    return form


def form_public(*, slug: str) -> WebForm | None:
    """The form behind /f/<slug>/ (active or not: a closed form says so)."""
    return WebForm.objects.filter(slug=slug).prefetch_related("consent_purposes").first()


def submissions_for(*, form: WebForm, user: User) -> QuerySet[FormSubmission]:
    """The form's submissions whose contact or lead the user may see (the answers are
    personal data of that record)."""
    from rapport.accounts.selectors import contacts_visible_to
    from rapport.leads.selectors import leads_visible_to

    return (
        FormSubmission.objects.filter(form=form)
        .filter(
            Q(contact__in=contacts_visible_to(user).values("pk"))
            | Q(lead__in=leads_visible_to(user).values("pk"))
        )
        .select_related("contact", "lead", "campaign")
        .order_by("-submitted_at", "-id")
    )

"""Survey pages: the public answer page (signed link, no login) and the staff dashboard."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from rapport.surveys import selectors, services
from rapport.surveys.models import SCALE, NpsSurvey, SurveyKind
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages


@require_http_methods(["GET", "POST"])
def answer(request, token: str, score: int | None = None):
    """GET: a confirmation page with the link's score preselected (link scanners do not
    vote). POST: record the answer once; a second vote is refused (409), a changed link 404."""
    try:
        invitation = services.read_token(token)
    except services.BadLink:
        return render(request, "surveys/public_invalid.html", status=404)
    low, high = SCALE[invitation.kind]
    if invitation.answered_at is not None:
        return render(
            request,
            "surveys/public_done.html",
            {"invitation": invitation, "again": True},
            status=409,
        )
    errors = []
    if request.method == "POST":
        try:
            services.answer(
                invitation=invitation,
                score=request.POST.get("score"),
                comment=request.POST.get("comment", ""),
                ip=request.META.get("REMOTE_ADDR") or None,
            )
        except services.AlreadyAnswered:
            return render(
                request,
                "surveys/public_done.html",
                {"invitation": invitation, "again": True},
                status=409,
            )
        except ValidationError as exc:
            errors = [m for msgs in exc.message_dict.values() for m in msgs]
        else:
            return render(request, "surveys/public_done.html", {"invitation": invitation})
        score = request.POST.get("score")
    choices = [
        (s, services.CSAT_LABELS.get(s, "") if invitation.kind == SurveyKind.CSAT else "")
        for s in range(low, high + 1)
    ]
    return render(
        request,
        "surveys/public_answer.html",
        {
            "invitation": invitation,
            "choices": choices,
            "selected": str(score) if score is not None else "",
            "errors": errors,
            "question": invitation.nps_survey.question
            if invitation.nps_survey_id
            else "How satisfied are you with our help?",
        },
        status=422 if errors else 200,
    )


@ui_view
def dashboard(request):
    return render(request, "surveys/dashboard.html", {"r": selectors.results(request.user)})


# ----- sending NPS surveys (administrators and managers) ----------------------------------


class NpsSurveyForm(forms.Form):
    name = forms.CharField(max_length=120)
    question = forms.CharField(
        max_length=300, initial=NpsSurvey._meta.get_field("question").default
    )
    segment = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    days_after_order = forms.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        label="Days after an order",
        help_text="Also survey every order's contact this many days after the order",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from rapport.segments.selectors import segments_for

        self.user = user
        self.fields["segment"].choices = [("", "— no segment —")] + [
            (s.pk, s.name) for s in segments_for(user).order_by("name")[:500]
        ]

    def clean_segment(self):
        from rapport.segments.selectors import segment_get_for_user

        pk = self.cleaned_data.get("segment")
        return segment_get_for_user(pk=pk, user=self.user) if pk else None


@ui_view
@require_http_methods(["GET", "POST"])
def nps_surveys(request):
    """The NPS surveys: a new one (a segment and/or N days after an order), and each sent to
    its segment with one click."""
    services.require_nps_sender(request.user)
    form = NpsSurveyForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            survey = services.nps_survey_create(actor=request.user, fields=form.cleaned_data)
        except ValidationError as exc:
            for field, texts in error_messages(exc).items():
                target = field.removesuffix("_id")
                for text in texts:
                    form.add_error(target if target in form.fields else None, text)
        else:
            messages.success(request, f"NPS survey “{survey.name}” created.")
            return redirect("surveys:nps")
    return render(
        request,
        "surveys/nps.html",
        {"form": form, "surveys": selectors.nps_surveys()},
        status=422 if form.errors else 200,
    )


@ui_view
@require_POST
def nps_send_segment(request, pk: int):
    survey = selectors.nps_survey_get(pk=pk)
    try:
        sent = services.nps_send_to_segment(survey=survey, actor=request.user)
    except ValidationError as exc:
        for texts in error_messages(exc).values():
            for text in texts:
                messages.error(request, f"Not sent: {text}.")
    else:
        messages.success(request, f"“{survey.name}” sent to {sent:,} contacts of the segment.")
    return redirect("surveys:nps")


@ui_view
@require_http_methods(["GET", "POST"])
def nps_send_contact(request, contact_id: int):
    """Send an NPS survey to one contact (from their page)."""
    from rapport.accounts.selectors import contact_get_for_user

    services.require_nps_sender(request.user)
    contact = contact_get_for_user(pk=contact_id, user=request.user)
    surveys = selectors.nps_surveys().filter(is_active=True)
    error = ""
    if request.method == "POST":
        survey = selectors.nps_survey_get(pk=request.POST.get("survey"))
        sent = services.nps_send_to_contacts(survey=survey, contacts=[contact], actor=request.user)
        if sent:
            messages.success(request, f"“{survey.name}” sent to {contact.email}.")
            return redirect("accounts:contact_detail", contact.pk)
        error = (
            "Not sent: this contact has no email address."
            if not contact.email
            else "Not sent: this contact already had this survey."
        )
    return render(
        request,
        "surveys/nps_send_contact.html",
        {"contact": contact, "surveys": surveys, "error": error},
        status=422 if error else 200,
    )

"""Survey pages: the public answer page (signed link, no login) and the staff dashboard."""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from rapport.surveys import selectors, services
from rapport.surveys.models import SCALE, SurveyKind
from rapport.web.decorators import ui_view


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

"""REST endpoints of surveys (/api/surveys/…): results (CSAT %, NPS with trend and
breakdowns), answers, NPS surveys and sending them. Visibility: an answer counts for a
reader when its contact or account is visible to them."""

import datetime

from ninja import Field, Query, Router, Schema, Status

from rapport.api.pagination import keyset_page
from rapport.records.api import ERRORS, Id, page_response
from rapport.records.exceptions import RecordNotFound
from rapport.surveys import selectors, services
from rapport.surveys.models import SurveyKind

router = Router(tags=["surveys"])


class SurveyBreakdownOut(Schema):
    key: int | None
    label: str
    answers: int
    score: float | None


class SurveyTrendOut(Schema):
    month: str
    answers: int
    score: float | None


class SurveyCsatOut(Schema):
    score: float | None = Field(..., description="% of answers 4–5")
    answers: int
    sent: int
    trend: list[SurveyTrendOut]
    by_agent: list[SurveyBreakdownOut]
    by_category: list[SurveyBreakdownOut]
    by_product: list[SurveyBreakdownOut]


class SurveyNpsOut(Schema):
    score: float | None = Field(..., description="promoters % − detractors %")
    answers: int
    promoters: int
    detractors: int
    sent: int
    trend: list[SurveyTrendOut]
    by_agent: list[SurveyBreakdownOut]
    by_product: list[SurveyBreakdownOut]


class SurveyResultsOut(Schema):
    csat: SurveyCsatOut
    nps: SurveyNpsOut


class SurveyAnswerOut(Schema):
    id: int
    kind: str
    score: int
    comment: str
    answered_at: datetime.datetime
    sent_at: datetime.datetime
    contact_id: int | None
    account_id: int | None
    case_id: int | None
    order_id: int | None
    nps_survey_id: int | None
    agent_id: int | None
    category_id: int | None
    product_id: int | None


class SurveyAnswerPage(Schema):
    items: list[SurveyAnswerOut]
    next_cursor: str | None
    count: int | str


class SurveyAnswerParams(Schema):
    kind: SurveyKind | None = None
    case_id: int | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class NpsSurveyIn(Schema):
    name: str = Field(..., max_length=120)
    question: str = Field("", max_length=300)
    segment_id: int | None = None
    days_after_order: int | None = Field(None, ge=1, le=3650)


class NpsSurveyOut(Schema):
    id: int
    name: str
    question: str
    segment_id: int | None
    days_after_order: int | None
    is_active: bool


class NpsSendOut(Schema):
    sent: int


@router.get("/results", response={200: SurveyResultsOut, **ERRORS}, operation_id="survey_results")
def results(request):
    return selectors.results(request.user)


@router.get("/answers", response={200: SurveyAnswerPage, **ERRORS}, operation_id="survey_answers")
def answers(request, params: Query[SurveyAnswerParams]):
    qs = selectors.answers(request.user, kind=params.kind)
    if params.case_id:
        qs = qs.filter(case_id=params.case_id)
    page = keyset_page(
        qs, sort="-answered_at", allowed={"answered_at"}, cursor=params.cursor, limit=params.limit
    )
    return page_response(page)


@router.post("/nps", response={201: NpsSurveyOut, **ERRORS}, operation_id="nps_survey_create")
def nps_create(request, payload: NpsSurveyIn):
    segment = None
    if payload.segment_id:
        from rapport.segments.models import Segment

        segment = Segment.objects.filter(pk=payload.segment_id).first()
        if segment is None:
            raise RecordNotFound("segment")
    survey = services.nps_survey_create(
        actor=request.user,
        fields={
            "name": payload.name,
            "question": payload.question,
            "segment": segment,
            "days_after_order": payload.days_after_order,
        },
    )
    return Status(201, survey)


@router.post("/nps/{int:pk}/send", response={200: NpsSendOut, **ERRORS}, operation_id="nps_send")
def nps_send(request, pk: int):
    survey = selectors.nps_survey_get(pk=pk)
    return {"sent": services.nps_send_to_segment(survey=survey, actor=request.user)}


class SurveyNpsContactsIn(Schema):
    contact_ids: list[Id] = Field(..., min_length=1, max_length=500)


@router.post(
    "/nps/{int:pk}/send-contacts",
    response={200: NpsSendOut, **ERRORS},
    operation_id="nps_send_contacts",
    summary="Send an NPS survey to chosen contacts (once each; any id not visible is a 404)",
)
def nps_send_contacts(request, pk: int, payload: SurveyNpsContactsIn):
    from rapport.accounts.selectors import contacts_visible_to

    services.require_nps_sender(request.user)
    survey = selectors.nps_survey_get(pk=pk)
    ids = set(payload.contact_ids)
    contacts = list(contacts_visible_to(request.user).filter(pk__in=ids).order_by("pk"))
    if len(contacts) != len(ids):
        raise RecordNotFound("contact")
    return {
        "sent": services.nps_send_to_contacts(survey=survey, contacts=contacts, actor=request.user)
    }

"""Reads of survey results, through the visibility layer: an answer counts for a reader when
its contact or account is visible to them."""

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from rapport.accounts.models import Account, Contact
from rapport.records.visibility import visible_through_parents
from rapport.surveys.models import NpsSurvey, SurveyInvitation, SurveyKind

PARENTS = {"contact": Contact, "account": Account}


def invitations_visible_to(user) -> QuerySet[SurveyInvitation]:
    return visible_through_parents(SurveyInvitation.objects.all(), user, PARENTS)


def answers(user, *, kind: str | None = None) -> QuerySet[SurveyInvitation]:
    qs = invitations_visible_to(user).filter(answered_at__isnull=False)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("contact", "case", "agent", "category", "product")


def _csat(row: dict) -> float | None:
    return round(100 * row["satisfied"] / row["n"], 1) if row["n"] else None


def _nps(row: dict) -> float | None:
    if not row["n"]:
        return None
    return round(100 * (row["promoters"] - row["detractors"]) / row["n"], 1)


_CSAT_AGG = {"n": Count("id"), "satisfied": Count("id", filter=Q(score__gte=4))}
_NPS_AGG = {
    "n": Count("id"),
    "promoters": Count("id", filter=Q(score__gte=9)),
    "detractors": Count("id", filter=Q(score__lte=6)),
}


def _group(qs, field: str, label: str, agg: dict, score) -> list[dict]:
    rows = qs.values(field, label).annotate(**agg).order_by("-n", field)[:50]
    return [
        {"key": r[field], "label": r[label] or "—", "answers": r["n"], "score": score(r)}
        for r in rows
    ]


def results(user) -> dict:
    """CSAT % (answers 4–5 of all answers), NPS (promoters 9–10 minus detractors 0–6, in
    points), each overall, by month (trend); CSAT by agent, category and product, NPS by agent
    (the customer's owner when invited) and product."""
    csat = answers(user, kind=SurveyKind.CSAT).order_by()
    nps = answers(user, kind=SurveyKind.NPS).order_by()
    csat_all = csat.aggregate(**_CSAT_AGG)
    nps_all = nps.aggregate(**_NPS_AGG)
    sent = invitations_visible_to(user).values("kind").annotate(n=Count("id")).order_by()
    sent_by_kind = {r["kind"]: r["n"] for r in sent}

    def trend(qs, agg, score):
        rows = (
            qs.annotate(month=TruncMonth("answered_at"))
            .values("month")
            .annotate(**agg)
            .order_by("month")
        )
        return [
            {"month": r["month"].strftime("%Y-%m"), "answers": r["n"], "score": score(r)}
            for r in rows
        ][-12:]

    return {
        "csat": {
            "score": _csat(csat_all),
            "answers": csat_all["n"],
            "sent": sent_by_kind.get(SurveyKind.CSAT, 0),
            "trend": trend(csat, _CSAT_AGG, _csat),
            "by_agent": _group(csat, "agent_id", "agent__username", _CSAT_AGG, _csat),
            "by_category": _group(csat, "category_id", "category__name", _CSAT_AGG, _csat),
            "by_product": _group(csat, "product_id", "product__name", _CSAT_AGG, _csat),
        },
        "nps": {
            "score": _nps(nps_all),
            "answers": nps_all["n"],
            "promoters": nps_all["promoters"],
            "detractors": nps_all["detractors"],
            "sent": sent_by_kind.get(SurveyKind.NPS, 0),
            "trend": trend(nps, _NPS_AGG, _nps),
            "by_agent": _group(nps, "agent_id", "agent__username", _NPS_AGG, _nps),
            "by_product": _group(nps, "product_id", "product__name", _NPS_AGG, _nps),
        },
    }


def case_answers(case_id: int) -> QuerySet[SurveyInvitation]:
    return SurveyInvitation.objects.filter(case_id=case_id, answered_at__isnull=False)


def nps_surveys():
    """NPS surveys with how many invitations went out and how many were answered (for the
    managers who send them)."""
    return NpsSurvey.objects.select_related("segment").annotate(
        sent=Count("invitations"),
        answered=Count("invitations", filter=Q(invitations__answered_at__isnull=False)),
    )


def nps_survey_get(*, pk) -> NpsSurvey:
    from rapport.records.exceptions import RecordNotFound

    pk = str(pk or "")
    survey = NpsSurvey.objects.filter(pk=int(pk)).first() if pk.isdigit() and len(pk) < 19 else None
    if survey is None:
        raise RecordNotFound("survey")
    return survey

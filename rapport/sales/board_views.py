"""The pipeline board: a column per stage with count, sum and weighted sum; cards move
through the same stage-move service as the API."""

from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from rapport.records.visibility import editable, shown
from rapport.sales import selectors
from rapport.sales.forms import (
    BoardFilterForm,
)
from rapport.sales.models import Opportunity, StageKind
from rapport.sales.views import STAGE_STYLE
from rapport.web.decorators import ui_view

BOARD_CARD_LIMIT = 50
CENTS = Decimal("0.01")


# ----- pipeline board -----------------------------------------------------------------


def _amounts(by_currency: dict[str, Decimal], table) -> dict:
    """Sums per currency shown as one sum in the organisation's currency when every rate is
    known (approx: converted), else one sum per currency."""
    org = settings.RAPPORT_CURRENCY
    parts = {c: v.quantize(CENTS) for c, v in by_currency.items() if v is not None}
    if not parts:
        return {"parts": [(Decimal("0.00"), org)], "approx": False}
    if len(parts) == 1:
        ((currency, value),) = parts.items()
        return {"parts": [(value, currency)], "approx": False}
    try:
        total = sum(
            (
                selectors.convert_to_org_currency(v, c, table=table)
                for c, v in sorted(parts.items())
            ),
            Decimal("0.00"),
        )
    except selectors.ExchangeRateMissing:
        return {"parts": [(v, c) for c, v in sorted(parts.items())], "approx": False}
    return {"parts": [(total, org)], "approx": True}


def _board_cards(qs, stages) -> list:
    """The first BOARD_CARD_LIMIT cards of every column, soonest close date first, then the
    largest: one short query per stage that an index on (stage, close date, amount) answers
    by reading its first rows. (A window function numbering the rows per stage had to sort
    every opportunity of the pipeline: 1.2 s at a million records.)"""
    ordered = (
        qs.select_related("owner")
        .prefetch_related(None)
        .order_by(F("expected_close_date").asc(nulls_last=True), F("amount").desc(), "id")
    )
    cards = []
    for stage in stages:
        cards += ordered.filter(stage_id=stage.pk)[:BOARD_CARD_LIMIT]
    return cards


def board_columns(request, pipeline, filters: dict) -> dict:
    """One column per stage with its count, sum and weighted sum, and its first cards.

    A fixed number of queries whatever the number of cards: one aggregate per
    (stage, currency), one for the cards, one for which cards the user may move.
    """
    user = request.user
    stages = list(pipeline.stages.all())
    qs = selectors.opportunity_list(user=user, pipeline_id=pipeline.pk, **filters)
    weighted = ExpressionWrapper(
        F("amount") * F("probability"), output_field=DecimalField(max_digits=24, decimal_places=2)
    )
    groups = list(
        qs.order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("id"), total=Sum("amount"), weighted=Sum(weighted))
    )
    cards = _board_cards(qs, stages)
    movable = set()
    if cards and not user.is_read_only:
        ids = [c.pk for c in cards]
        movable = set(
            editable(Opportunity.objects.filter(pk__in=ids), user).values_list("pk", flat=True)
        )
    currencies = {g["currency"] for g in groups}
    table = selectors.exchange_rate_table() if currencies - {settings.RAPPORT_CURRENCY} else {}
    today = timezone.localdate()
    by_stage: dict[int, list] = {s.pk: [] for s in stages}
    for card in cards:
        card.movable = card.pk in movable
        card.shown_account = shown(card, "account")
        card.overdue = bool(
            card.expected_close_date
            and card.expected_close_date < today
            and card.stage.kind == StageKind.OPEN
        )
        by_stage.setdefault(card.stage_id, []).append(card)
    list_url = reverse("sales:opportunity_list")
    columns = []
    summary = {"open": {}, "open_weighted": {}, "won": {}, "open_n": 0}
    for stage in stages:
        rows = [g for g in groups if g["stage_id"] == stage.pk]
        count = sum(g["n"] for g in rows)
        total = {g["currency"]: Decimal(g["total"] or 0) for g in rows}
        weight = {g["currency"]: Decimal(g["weighted"] or 0) / 100 for g in rows}
        stage_cards = by_stage.get(stage.pk, [])
        query = {"pipeline_id": pipeline.pk, "stage_id": stage.pk}
        query.update({k: v for k, v in filters.items() if v is not None})
        columns.append(
            {
                "stage": stage,
                "style": STAGE_STYLE.get(stage.kind, "info"),
                "count": count,
                "total": _amounts(total, table),
                "weighted": _amounts(weight, table),
                "cards": stage_cards,
                "more": count - len(stage_cards),
                "more_url": f"{list_url}?{urlencode(query)}",
            }
        )
        if stage.kind == StageKind.OPEN:
            summary["open_n"] += count
            for key, values in (("open", total), ("open_weighted", weight)):
                for currency, value in values.items():
                    summary[key][currency] = summary[key].get(currency, Decimal(0)) + value
        elif stage.kind == StageKind.WON:
            for currency, value in total.items():
                summary["won"][currency] = summary["won"].get(currency, Decimal(0)) + value
    return {
        "columns": columns,
        "stages": stages,
        "open_count": summary["open_n"],
        "open_total": _amounts(summary["open"], table),
        "open_weighted": _amounts(summary["open_weighted"], table),
        "won_total": _amounts(summary["won"], table),
    }


@ui_view
def board(request):
    """The pipeline board: a column per stage, cards to drag (or move with the "Move to…"
    form, which works without JavaScript), totals per column; only visible opportunities."""
    pipelines = list(selectors.pipeline_list())
    form = BoardFilterForm(request.GET or None, user=request.user, pipelines=pipelines)
    pipeline = form.chosen_pipeline()
    context = {
        "form": form,
        "pipeline": pipeline,
        "card_limit": BOARD_CARD_LIMIT,
        "next": request.get_full_path(),
    }
    if pipeline is not None:
        context.update(board_columns(request, pipeline, form.selector_kwargs()))
    return render(request, "sales/board.html", context)

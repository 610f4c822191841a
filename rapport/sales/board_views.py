"""The pipeline board: a column per stage with count, sum and weighted sum; cards move
through the same stage-move service as the API.

Each column shows its first BOARD_PAGE_SIZE cards and a "Load more" that fetches the next
page of that column only (keyset: after the last card shown), so the page stays small
whatever the number of opportunities."""

import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db.models import Count, F, Q, Sum
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from rapport.records.visibility import editable, shown
from rapport.sales import selectors
from rapport.sales.forms import (
    BoardFilterForm,
)
from rapport.sales.models import Opportunity, StageKind, StageTotal
from rapport.sales.views import STAGE_STYLE
from rapport.web.decorators import ui_view

BOARD_PAGE_SIZE = 20
# What a card shows (_board_card.html): loading whole rows of the opportunity, its account
# and owner cost more than the queries themselves at a million records.
CARD_FIELDS = (
    "id",
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "stage_id",
    "version",
    "account__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)
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


def _ordered_cards(qs):
    """Soonest close date first (no date last), then the largest, then the oldest: the order
    of the index on (stage, close date, -amount, id)."""
    return (
        qs.select_related(None)
        .select_related("account", "owner")
        .prefetch_related(None)
        .only(*CARD_FIELDS)
        .order_by(F("expected_close_date").asc(nulls_last=True), F("amount").desc(), "id")
    )


def _cursor(card) -> str:
    """Where the next page of a column starts: the last card's close date, amount and id."""
    day = card.expected_close_date.isoformat() if card.expected_close_date else ""
    return f"{day}~{card.amount}~{card.pk}"


def _after(qs, cursor: str):
    """The cards after `cursor` in _ordered_cards's order; a malformed cursor is a 400."""
    try:
        day, amount, pk = cursor.split("~")
        day = datetime.date.fromisoformat(day) if day else None
        amount = Decimal(amount)
        pk = int(pk)
        if not amount.is_finite():
            raise ValueError(amount)
    except (ValueError, InvalidOperation) as exc:
        raise BadRequest("The board's “load more” link is not valid; reload the board.") from exc
    same = Q(amount__lt=amount) | Q(amount=amount, pk__gt=pk)
    if day is None:
        return qs.filter(Q(expected_close_date__isnull=True) & same)
    return qs.filter(
        Q(expected_close_date__gt=day)
        | Q(expected_close_date__isnull=True)
        | (Q(expected_close_date=day) & same)
    )


def _board_cards(qs, stages) -> list:
    """The first BOARD_PAGE_SIZE cards of every column: one short query per stage that the
    index on (stage, close date, amount) answers by reading its first rows. (A window
    function numbering the rows per stage had to sort every opportunity of the pipeline:
    1.2 s at a million records.)"""
    ordered = _ordered_cards(qs)
    cards = []
    for stage in stages:
        cards += ordered.filter(stage_id=stage.pk)[:BOARD_PAGE_SIZE]
    return cards


def _mark_cards(cards, user, stages) -> None:
    """Which cards the user may move (one query), which are overdue, and the account each
    may name (only one the reader may see)."""
    movable = set()
    if cards and not user.is_read_only:
        ids = [c.pk for c in cards]
        movable = set(
            editable(Opportunity.objects.filter(pk__in=ids), user).values_list("pk", flat=True)
        )
    kinds = {s.pk: s.kind for s in stages}
    today = timezone.localdate()
    for card in cards:
        card.movable = card.pk in movable
        card.shown_account = shown(card, "account")
        card.overdue = bool(
            card.expected_close_date
            and card.expected_close_date < today
            and kinds.get(card.stage_id) == StageKind.OPEN
        )


def _filter_query(pipeline, filters: dict) -> dict:
    query = {"pipeline": pipeline.pk}
    query.update({k: v for k, v in filters.items() if v is not None})
    return query


def board_columns(request, pipeline, filters: dict) -> dict:
    """One column per stage with its count, sum and weighted sum, and its first cards.

    A fixed number of queries whatever the number of cards: one aggregate per
    (stage, currency), one for the cards, one for which cards the user may move.
    """
    user = request.user
    stages = list(pipeline.stages.all())
    qs = selectors.opportunity_list(user=user, pipeline_id=pipeline.pk, **filters)
    # Grouped by probability too (a handful per stage) and weighted here: multiplying every
    # row's amount in SQL cost a quarter of the aggregate at a million opportunities.
    if user.is_admin and user.is_active and not any(v is not None for v in filters.values()):
        # Every opportunity of the pipeline: the few rows kept by the triggers of
        # `StageTotal` instead of aggregating the whole table (sales/stage_totals.py).
        groups = [
            {
                "stage_id": t.stage_id,
                "currency": t.currency,
                "probability": t.probability,
                "n": t.count,
                "total": Decimal(t.cents).scaleb(-2),
            }
            for t in StageTotal.objects.filter(stage_id__in=[s.pk for s in stages])
            if t.count or t.cents
        ]
    else:
        groups = list(
            qs.order_by()
            .values("stage_id", "currency", "probability")
            .annotate(n=Count("id"), total=Sum("amount"))
        )
    for g in groups:
        g["weighted"] = (g["total"] or 0) * g["probability"]
    cards = _board_cards(qs, stages)
    _mark_cards(cards, user, stages)
    currencies = {g["currency"] for g in groups}
    table = selectors.exchange_rate_table() if currencies - {settings.RAPPORT_CURRENCY} else {}
    by_stage: dict[int, list] = {s.pk: [] for s in stages}
    for card in cards:
        by_stage.setdefault(card.stage_id, []).append(card)
    list_url = reverse("sales:opportunity_list")
    filter_query = urlencode(_filter_query(pipeline, filters))
    columns = []
    summary = {"open": {}, "open_weighted": {}, "won": {}, "open_n": 0}
    for stage in stages:
        rows = [g for g in groups if g["stage_id"] == stage.pk]
        count = sum(g["n"] for g in rows)
        total: dict[str, Decimal] = {}
        weight: dict[str, Decimal] = {}
        for g in rows:
            total[g["currency"]] = total.get(g["currency"], Decimal(0)) + (g["total"] or 0)
            weight[g["currency"]] = weight.get(g["currency"], Decimal(0)) + g["weighted"] / 100
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
                "list_url": f"{list_url}?{urlencode(query)}",
                "more_url": _more_url(stage, stage_cards, filter_query),
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


def _more_url(stage, cards, filter_query: str) -> str:
    if not cards:
        return ""
    path = reverse("sales:opportunity_board_cards", args=[stage.pk])
    return f"{path}?{filter_query}&{urlencode({'after': _cursor(cards[-1])})}"


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
        "next": request.get_full_path(),
    }
    if pipeline is not None:
        context.update(board_columns(request, pipeline, form.selector_kwargs()))
    return render(request, "sales/board.html", context)


@ui_view
def board_cards(request, stage_id: int):
    """The next page of one column (htmx "Load more"): the cards after `after`, under the
    board's filters, and the column's next "Load more" swapped out of band."""
    pipelines = list(selectors.pipeline_list())
    form = BoardFilterForm(request.GET or None, user=request.user, pipelines=pipelines)
    pipeline = form.chosen_pipeline()
    if pipeline is None or form.errors:
        raise Http404("No such pipeline")
    stages = list(pipeline.stages.all())
    stage = next((s for s in stages if s.pk == stage_id), None)
    if stage is None:
        raise Http404("No such stage in this pipeline")
    filters = form.selector_kwargs()
    qs = selectors.opportunity_list(user=request.user, pipeline_id=pipeline.pk, **filters)
    qs = _ordered_cards(qs.filter(stage_id=stage.pk))
    if request.GET.get("after"):
        qs = _after(qs, request.GET["after"])
    cards = list(qs[: BOARD_PAGE_SIZE + 1])
    has_more = len(cards) > BOARD_PAGE_SIZE
    cards = cards[:BOARD_PAGE_SIZE]
    _mark_cards(cards, request.user, stages)
    filter_query = urlencode(_filter_query(pipeline, filters))
    board_url = reverse("sales:opportunity_board") + "?" + filter_query
    list_query = {"pipeline_id": pipeline.pk, "stage_id": stage.pk}
    list_query.update({k: v for k, v in filters.items() if v is not None})
    column = {
        "stage": stage,
        "list_url": reverse("sales:opportunity_list") + "?" + urlencode(list_query),
        "more_url": _more_url(stage, cards, filter_query) if has_more else "",
    }
    context = {"cards": cards, "column": column, "next": board_url, "stages": stages}
    return render(request, "sales/_board_cards_page.html", context)

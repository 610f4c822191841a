"""Opportunity pages: the list, the record page (stage stepper, products, stage history),
create/edit/delete, stage moves (with the lost-reason prompt) and the pipeline board.

Thin: every change goes through the sales services (the API's), every read through the
visibility-applying selectors.
"""

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum, Window
from django.db.models.functions import RowNumber
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rapport.leads.selectors import leads_visible_to
from rapport.records.exceptions import StaleVersion
from rapport.records.selectors import record_get_for_user
from rapport.records.services import require_editable
from rapport.records.visibility import editable
from rapport.sales import selectors, services
from rapport.sales.forms import (
    BoardFilterForm,
    LineItemEditForm,
    LineItemForm,
    MoveStageForm,
    OpportunityFilterForm,
    OpportunityForm,
)
from rapport.sales.models import Opportunity, StageKind
from rapport.web.decorators import ui_view
from rapport.web.forms import DATE_INPUT, add_service_errors, error_messages
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.listing import (
    Column,
    ListConfig,
    created_column,
    list_views,
    owner_column,
    render_list,
    safe_next,
    tags_column,
    team_column,
    updated_column,
)
from rapport.web.record_page import (
    STALE_MESSAGE,
    DetailField,
    custom_detail_fields,
    owner_field,
    tags_field,
    text_field,
)
from rapport.web.record_views import RecordConfig, record_views
from rapport.web.templatetags.rapport_ui import money

STAGE_STYLE = {StageKind.OPEN: "info", StageKind.WON: "success", StageKind.LOST: "danger"}
HISTORY_LIMIT = 10
BOARD_CARD_LIMIT = 50
CENTS = Decimal("0.01")


def _opp_url(opportunity) -> str:
    return reverse("sales:opportunity_detail", args=[opportunity.pk])


def _account_url(account) -> str:
    return reverse("accounts:account_detail", args=[account.pk]) if account else ""


def _messages_of(exc: ValidationError) -> str:
    return " ".join(m for ms in error_messages(exc).values() for m in ms)


# ----- list ---------------------------------------------------------------------------

OPPORTUNITIES = ListConfig(
    object_type="opportunity",
    singular="Opportunity",
    plural="Opportunities",
    namespace="sales",
    selector=selectors.opportunity_list,
    sorts=selectors.OPPORTUNITY_SORTS,
    default_sort="-created_at",
    filter_form=OpportunityFilterForm,
    columns=[
        Column("name", "Name", lambda o: o.name, link=_opp_url, sort="name"),
        Column(
            "account",
            "Account",
            lambda o: o.account.name if o.account else "",
            link=lambda o: _account_url(o.account),
        ),
        Column("stage", "Stage", lambda o: o.stage.name),
        Column("pipeline", "Pipeline", lambda o: o.pipeline.name, default=False),
        Column(
            "amount",
            "Amount",
            lambda o: o.amount,
            kind="money",
            currency=lambda o: o.currency,
            sort="amount",
        ),
        Column(
            "weighted",
            "Weighted",
            lambda o: o.weighted_amount,
            kind="money",
            currency=lambda o: o.currency,
        ),
        Column(
            "probability", "Probability %", lambda o: o.probability, kind="number", default=False
        ),
        Column("close", "Close date", lambda o: o.expected_close_date, kind="date"),
        Column("source", "Source", lambda o: o.source, default=False),
        owner_column(),
        team_column(default=False),
        tags_column(default=False),
        created_column(default=False),
        updated_column(default=False),
    ],
    delete=lambda record, actor: services.opportunity_delete(opportunity=record, actor=actor),
    restore=lambda record, actor: services.opportunity_restore(opportunity=record, actor=actor),
    set_tags=lambda record, actor, tags: services.opportunity_update(
        opportunity=record, actor=actor, fields={}, tags=tags
    ),
    empty_text="No opportunities match. Add one, convert a lead, or clear the filters.",
)


def _opportunity_list_views() -> dict:
    views = list_views(OPPORTUNITIES)

    @ui_view
    def list_view(request):
        # The shared list page with the list/board switch and open/won/lost chips.
        return render_list(request, OPPORTUNITIES, "sales/opportunity_list.html")

    return {**views, "list": list_view}


opportunity_list_views = _opportunity_list_views()

# ----- record page --------------------------------------------------------------------


def opportunity_fields() -> list[DetailField]:
    deal, about = "Deal", "About"
    return [
        text_field("name", "Name", max_length=200, required=True, group=deal),
        DetailField(
            name="account",
            label="Account",
            form_field=lambda user: forms.CharField(required=False),
            initial=lambda o: o.account_id,
            display=lambda o: o.account.name if o.account else "",
            link=lambda o: _account_url(o.account),
            group=deal,
            editable=False,
        ),
        DetailField(
            name="primary_contact",
            label="Primary contact",
            form_field=lambda user: forms.CharField(required=False),
            initial=lambda o: o.primary_contact_id,
            display=lambda o: str(o.primary_contact) if o.primary_contact else "",
            link=lambda o: (
                reverse("accounts:contact_detail", args=[o.primary_contact_id])
                if o.primary_contact_id
                else ""
            ),
            group=deal,
            editable=False,
        ),
        DetailField(
            name="amount",
            label="Amount",
            form_field=lambda user: forms.DecimalField(
                max_digits=16, decimal_places=2, min_value=0
            ),
            initial=lambda o: o.amount,
            display=lambda o: money(o.amount, o.currency),
            group=deal,
        ),
        text_field("currency", "Currency", max_length=3, required=True, group=deal),
        DetailField(
            name="probability",
            label="Probability %",
            form_field=lambda user: forms.IntegerField(min_value=0, max_value=100),
            initial=lambda o: o.probability,
            display=lambda o: f"{o.probability} %",
            group=deal,
        ),
        DetailField(
            name="expected_close_date",
            label="Close date",
            form_field=lambda user: forms.DateField(required=False, widget=DATE_INPUT),
            initial=lambda o: o.expected_close_date,
            display=lambda o: (
                formats.date_format(o.expected_close_date, "DATE_FORMAT")
                if o.expected_close_date
                else ""
            ),
            group=deal,
        ),
        text_field("lost_reason", "Lost reason", max_length=200, group=deal),
        text_field("source", "Source", max_length=60, group=about),
        text_field("description", "Description", max_length=10000, multiline=True, group=about),
        owner_field(),
        tags_field(),
        *custom_detail_fields("opportunity"),
    ]


def _load_opportunity(*, pk: int, user) -> Opportunity:
    qs = selectors.opportunity_base("active").select_related("owner", "team")
    return record_get_for_user(model=Opportunity, pk=pk, user=user, qs=qs)


def stepper(opportunity, stages) -> list[dict]:
    """The pipeline's stages with their state for the stage buttons: done, current, todo."""
    current = opportunity.stage
    steps = []
    for stage in stages:
        if stage.pk == current.pk:
            state = "current"
        elif (
            stage.kind == StageKind.OPEN
            and current.kind != StageKind.LOST
            and (stage.position, stage.pk) < (current.position, current.pk)
        ):
            state = "done"
        else:
            state = "todo"
        steps.append({"stage": stage, "state": state})
    return steps


def opportunity_context(request, opportunity) -> dict:
    """Stage buttons, products, stage history and the lead it came from (fixed queries)."""
    stages = list(opportunity.pipeline.stages.all())
    history_qs = selectors.stage_history(opportunity)
    history = list(history_qs.order_by("-changed_at", "-id")[: HISTORY_LIMIT + 1])
    origin = (
        leads_visible_to(request.user)
        .prefetch_related(None)
        .filter(converted_opportunity_id=opportunity.pk)
        .first()
    )
    return {
        "stage_style": STAGE_STYLE.get(opportunity.stage.kind, "info"),
        "steps": stepper(opportunity, stages),
        "move_url": reverse("sales:opportunity_move", args=[opportunity.pk]),
        "line_items": list(selectors.line_items_of(opportunity)),
        "line_item_form": LineItemForm(),
        "line_item_add_url": reverse("sales:line_item_add", args=[opportunity.pk]),
        "history": history[:HISTORY_LIMIT],
        "history_more": len(history) > HISTORY_LIMIT,
        "origin_lead": origin,
        "board_url": reverse("sales:opportunity_board") + f"?pipeline={opportunity.pipeline_id}",
    }


OPPORTUNITY_PAGE = RecordConfig(
    object_type="opportunity",
    namespace="sales",
    get=_load_opportunity,
    update=lambda record, **kw: services.opportunity_update(opportunity=record, **kw),
    fields=opportunity_fields,
    activity_link="opportunity_id",
    template="sales/opportunity_detail.html",
    extra_context=opportunity_context,
)

opportunity_page_views = record_views(OPPORTUNITY_PAGE)

# ----- create, edit, delete -----------------------------------------------------------


def _save(form, save):
    """Run the service; its errors go next to the fields. Returns the record or None."""
    if not form.is_valid():
        return None
    try:
        return save(form.service_kwargs())
    except StaleVersion:
        form.add_error(None, STALE_MESSAGE)
    except ValidationError as exc:
        add_service_errors(form, exc, form.SERVICE_FIELDS)
    return None


def _form_page(request, form, *, record=None, status=200):
    return render(
        request, "sales/opportunity_form.html", {"form": form, "record": record}, status=status
    )


@ui_view
def opportunity_create(request):
    account_id = request.GET.get("account", "")
    form = OpportunityForm(
        request.POST or None,
        user=request.user,
        account_id=int(account_id) if account_id.isdigit() else None,
    )
    if request.method == "POST":
        opportunity = _save(form, lambda kw: services.opportunity_create(actor=request.user, **kw))
        if opportunity is not None:
            messages.success(request, f"Opportunity {opportunity.name} created.")
            return HttpResponseRedirect(_opp_url(opportunity))
        return _form_page(request, form, status=422)
    return _form_page(request, form)


@ui_view
def opportunity_edit(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    require_editable(opportunity, request.user)
    form = OpportunityForm(request.POST or None, user=request.user, record=opportunity)
    if request.method == "POST":

        def save(kw):
            services.opportunity_update(
                opportunity=opportunity,
                actor=request.user,
                expected_version=form.cleaned_data.get("version"),
                **kw,
            )
            return opportunity

        if _save(form, save) is not None:
            messages.success(request, "Opportunity saved.")
            return HttpResponseRedirect(_opp_url(opportunity))
        return _form_page(request, form, record=opportunity, status=422)
    return _form_page(request, form, record=opportunity)


@ui_view
@require_POST
def opportunity_delete(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    services.opportunity_delete(opportunity=opportunity, actor=request.user)
    undo = reverse("sales:opportunity_restore", args=[pk])
    messages.success(request, f"{opportunity.name} moved to the trash.", extra_tags=f"undo:{undo}")
    return HttpResponseRedirect(reverse("sales:opportunity_list"))


# ----- stage moves --------------------------------------------------------------------


def _lost_prompt(request, opportunity, form, back, *, status=200):
    context = {"record": opportunity, "form": form, "next": back}
    return render(request, "sales/opportunity_lost_reason.html", context, status=status)


@ui_view
def opportunity_move(request, pk: int):
    """POST: move the opportunity to a stage with `opportunity_move_stage` (the API's
    service), checking the version the page showed; then back to `next` (the board or the
    record page) with a toast. A lost stage without a reason, and GET, give the lost-reason
    prompt."""
    user = request.user
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=user)
    require_editable(opportunity, user)
    data = request.POST if request.method == "POST" else request.GET
    back = safe_next(request, data.get("next"), _opp_url(opportunity))
    form = MoveStageForm(data, opportunity=opportunity)
    if not form.is_valid():
        messages.error(request, "Choose a stage of the opportunity's pipeline.")
        return HttpResponseRedirect(back)
    stage = form.cleaned_data["stage_id"]
    reason = form.cleaned_data["lost_reason"]
    if request.method != "POST":
        return _lost_prompt(request, opportunity, form, back)
    if stage.kind == StageKind.LOST and not reason:
        if data.get("prompted"):
            form.add_error("lost_reason", "Give the reason it was lost")
            return _lost_prompt(request, opportunity, form, back, status=422)
        query = {"stage_id": stage.pk, "next": back}
        if form.cleaned_data["version"]:
            query["version"] = form.cleaned_data["version"]
        prompt = reverse("sales:opportunity_move", args=[pk]) + "?" + urlencode(query)
        if is_htmx(request):
            return HttpResponseClientRedirect(prompt)
        return HttpResponseRedirect(prompt)
    old_stage_id = opportunity.stage_id
    try:
        services.opportunity_move_stage(
            opportunity=opportunity,
            stage=stage,
            actor=user,
            lost_reason=reason,
            expected_version=form.cleaned_data["version"],
        )
    except StaleVersion:
        messages.error(
            request,
            f"“{opportunity.name}” was changed by someone else after you loaded the page, so "
            "it was not moved. It now shows where it really is; move it again if you still "
            "want to.",
        )
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    else:
        if stage.pk == old_stage_id:
            messages.info(request, f"{opportunity.name} is in {stage.name} already.")
        else:
            messages.success(request, f"{opportunity.name} moved to {stage.name}.")
    return HttpResponseRedirect(back)


# ----- line items ---------------------------------------------------------------------


def _retarget(response, element_id: str):
    """An htmx form answered with its errors: swap them into the form, not the page."""
    response["HX-Retarget"] = f"#{element_id}"
    response["HX-Reswap"] = "outerHTML"
    response["HX-Reselect"] = f"#{element_id}"
    return response


def _line_item_page(request, opportunity, form, *, item=None, status=200):
    context = {"record": opportunity, "form": form, "item": item}
    return render(request, "sales/line_item_form.html", context, status=status)


@ui_view
def line_item_add(request, pk: int):
    opportunity = _load_opportunity(pk=pk, user=request.user)
    require_editable(opportunity, request.user)
    form = LineItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = services.line_item_add(
                opportunity=opportunity,
                actor=request.user,
                product=data["product"],
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                discount_percent=data["discount_percent"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"product_id": "product"})
        else:
            messages.success(request, f"Added {item.product.name}.")
            return HttpResponseRedirect(_opp_url(opportunity) + "#line-items")
    status = 422 if request.method == "POST" else 200
    if is_htmx(request):
        context = {
            "record": opportunity,
            "line_item_form": form,
            "line_item_add_url": reverse("sales:line_item_add", args=[pk]),
            "can_edit": True,
        }
        response = render_fragment(request, "sales/_line_item_add.html", context, status=status)
        return _retarget(response, "line-item-add")
    return _line_item_page(request, opportunity, form, status=status)


@ui_view
def line_item_edit(request, pk: int, item_id: int):
    opportunity = _load_opportunity(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    require_editable(opportunity, request.user)
    form = LineItemEditForm(request.POST or None, item=item)
    if request.method == "POST" and form.is_valid():
        try:
            services.line_item_update(
                line_item=item,
                actor=request.user,
                fields=form.changes(),
                expected_version=form.cleaned_data["version"],
            )
        except StaleVersion:
            form.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{item.product.name} saved.")
            return HttpResponseRedirect(_opp_url(opportunity) + "#line-items")
    status = 422 if request.method == "POST" else 200
    if is_htmx(request):
        context = {"record": opportunity, "item": item, "form": form}
        response = render_fragment(request, "sales/_line_item_edit_row.html", context, status)
        return _retarget(response, f"line-item-{item.pk}") if status == 422 else response
    return _line_item_page(request, opportunity, form, item=item, status=status)


@ui_view
@require_POST
def line_item_remove(request, pk: int, item_id: int):
    opportunity = _load_opportunity(pk=pk, user=request.user)
    item = selectors.line_item_get(opportunity=opportunity, pk=item_id)
    version = request.POST.get("version", "")
    try:
        services.line_item_delete(
            line_item=item,
            actor=request.user,
            expected_version=int(version) if version.isdigit() else None,
        )
    except StaleVersion:
        messages.error(request, f"{item.product.name} was changed meanwhile: not removed.")
    else:
        messages.success(request, f"Removed {item.product.name}.")
    return HttpResponseRedirect(_opp_url(opportunity) + "#line-items")


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


def _board_cards(qs):
    """The first BOARD_CARD_LIMIT cards of every column in one query (a window function
    numbers the rows per stage): soonest close date first, then the largest."""
    return (
        qs.select_related("owner")
        .prefetch_related(None)
        .annotate(
            board_rank=Window(
                RowNumber(),
                partition_by=[F("stage_id")],
                order_by=[
                    F("expected_close_date").asc(nulls_last=True),
                    F("amount").desc(),
                    F("id").asc(),
                ],
            )
        )
        .filter(board_rank__lte=BOARD_CARD_LIMIT)
        .order_by("stage_id", "board_rank")
    )


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
    cards = list(_board_cards(qs))
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

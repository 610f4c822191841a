"""Opportunity pages: the list, the record page (stage stepper, products, stage history),
create/edit/delete and stage moves (with the lost-reason prompt). Line items live in
line_item_views.py, the pipeline board in board_views.py.

Thin: every change goes through the sales services (the API's), every read through the
visibility-applying selectors.
"""

from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rapport.leads.selectors import leads_visible_to
from rapport.records.exceptions import StaleVersion
from rapport.records.selectors import record_get_for_user
from rapport.records.services import require_editable
from rapport.records.visibility import shown, shown_name
from rapport.sales import selectors, services
from rapport.sales.forms import (
    LineItemForm,
    MoveStageForm,
    OpportunityFilterForm,
    OpportunityForm,
)
from rapport.sales.models import Opportunity, StageKind
from rapport.web.dates import format_day
from rapport.web.decorators import ui_view
from rapport.web.forms import DATE_INPUT, error_messages
from rapport.web.fragments import is_htmx
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
    DetailField,
    currency_detail,
    custom_detail_fields,
    owner_field,
    tags_field,
    text_field,
)
from rapport.web.record_views import (
    RecordConfig,
    record_views,
    save_form,
    trash_and_back,
    update_with_version,
)
from rapport.web.templatetags.rapport_ui import money

STAGE_STYLE = {StageKind.OPEN: "info", StageKind.WON: "success", StageKind.LOST: "danger"}
HISTORY_LIMIT = 10


def opportunity_url(opportunity) -> str:
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
        Column("name", "Name", lambda o: o.name, link=opportunity_url, sort="name"),
        Column(
            "account",
            "Account",
            lambda o: shown_name(o, "account"),
            link=lambda o: _account_url(shown(o, "account")),
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
        Column(
            "win_probability",
            "Win %",
            lambda o: getattr(o, "win_probability", o.probability),
            kind="number",
            sort="win_probability",
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
            display=lambda o: shown_name(o, "account"),
            link=lambda o: _account_url(shown(o, "account")),
            group=deal,
            editable=False,
        ),
        DetailField(
            name="primary_contact",
            label="Primary contact",
            form_field=lambda user: forms.CharField(required=False),
            initial=lambda o: o.primary_contact_id,
            display=lambda o: shown_name(o, "primary_contact"),
            link=lambda o: (
                reverse("accounts:contact_detail", args=[o.primary_contact_id])
                if shown(o, "primary_contact")
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
        currency_detail("currency", "Currency", group=deal),
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
            display=lambda o: format_day(o.expected_close_date),
            group=deal,
        ),
        text_field("lost_reason", "Lost reason", max_length=200, group=deal),
        text_field("source", "Source", max_length=60, group=about),
        text_field("description", "Description", max_length=10000, multiline=True, group=about),
        owner_field(),
        tags_field(),
        *custom_detail_fields("opportunity"),
    ]


def load_opportunity(*, pk: int, user) -> Opportunity:
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
    from rapport.sales.schemas import opportunity_score_row
    from rapport.scoring.selectors import score_card

    row = opportunity_score_row(opportunity) if opportunity.stage.kind == "open" else None
    return {**_opportunity_context(request, opportunity), "score_card": score_card(row)}


def _opportunity_context(request, opportunity) -> dict:
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
        "shown_account": shown(opportunity, "account"),
        "shown_primary_contact": shown(opportunity, "primary_contact"),
    }


OPPORTUNITY_PAGE = RecordConfig(
    object_type="opportunity",
    namespace="sales",
    get=load_opportunity,
    update=lambda record, **kw: services.opportunity_update(opportunity=record, **kw),
    fields=opportunity_fields,
    activity_link="opportunity_id",
    template="sales/opportunity_detail.html",
    extra_context=opportunity_context,
)

opportunity_page_views = record_views(OPPORTUNITY_PAGE)

# ----- create, edit, delete -----------------------------------------------------------


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
        create = partial(services.opportunity_create, actor=request.user)
        opportunity = save_form(form, lambda kw: create(**kw))
        if opportunity is not None:
            messages.success(request, f"Opportunity {opportunity.name} created.")
            return HttpResponseRedirect(opportunity_url(opportunity))
        return _form_page(request, form, status=422)
    return _form_page(request, form)


@ui_view
def opportunity_edit(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    require_editable(opportunity, request.user)
    form = OpportunityForm(request.POST or None, user=request.user, record=opportunity)
    if request.method == "POST":
        update = partial(services.opportunity_update, opportunity=opportunity, actor=request.user)
        if save_form(form, update_with_version(form, opportunity, update)) is not None:
            messages.success(request, "Opportunity saved.")
            return HttpResponseRedirect(opportunity_url(opportunity))
        return _form_page(request, form, record=opportunity, status=422)
    return _form_page(request, form, record=opportunity)


@ui_view
@require_POST
def opportunity_delete(request, pk: int):
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=request.user)
    services.opportunity_delete(opportunity=opportunity, actor=request.user)
    return trash_and_back(
        request,
        label=opportunity.name,
        restore_url=reverse("sales:opportunity_restore", args=[pk]),
        list_url=reverse("sales:opportunity_list"),
    )


# ----- stage moves --------------------------------------------------------------------


def _lost_prompt(request, opportunity, form, back, *, status=200):
    context = {"record": opportunity, "form": form, "next": back}
    return render(request, "sales/opportunity_lost_reason.html", context, status=status)


def _move_chooser(request, opportunity, back, version):
    """The "Move to…" form of a board card: fetched into the card by htmx (the board keeps
    its cards light), or a page of its own without JavaScript."""
    context = {
        "record": opportunity,
        "stages": list(opportunity.pipeline.stages.all()),
        "version": version if (version or "").isdigit() else "",
        "next": back,
        "in_board": is_htmx(request),
    }
    if is_htmx(request):
        return render(request, "sales/_board_move_form.html", context)
    return render(request, "sales/opportunity_move.html", context)


@ui_view
def opportunity_move(request, pk: int):
    """POST: move the opportunity to a stage with `opportunity_move_stage` (the API's
    service), checking the version the page showed; then back to `next` (the board or the
    record page) with a toast. GET without a stage: the form to choose one (a board card's
    "Move to…"); a lost stage without a reason, and GET with one, give the lost-reason
    prompt."""
    user = request.user
    opportunity = selectors.opportunity_get_for_user(pk=pk, user=user)
    require_editable(opportunity, user)
    data = request.POST if request.method == "POST" else request.GET
    back = safe_next(request, data.get("next"), opportunity_url(opportunity))
    if request.method != "POST" and not data.get("stage_id"):
        return _move_chooser(request, opportunity, back, data.get("version"))
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
            lost_note=form.cleaned_data["lost_note"],
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

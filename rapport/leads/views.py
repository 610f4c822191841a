"""Lead pages: the list, the record page, create/edit/delete and the conversion dialog.

Thin, like the account pages: the list and record page are described once (ListConfig,
RecordConfig) and go through the same selectors and services as the API.
"""

from functools import partial

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.duplicates.create_warning import unless_duplicate
from rapport.leads import selectors, services
from rapport.leads.forms import LeadConvertForm, LeadFilterForm, LeadForm
from rapport.leads.models import Lead, LeadStatus
from rapport.leads.schemas import lead_score_row
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.selectors import record_get_for_user
from rapport.records.services import require_editable
from rapport.records.visibility import can_edit as record_can_edit
from rapport.sales.selectors import opportunities_visible_to
from rapport.sequences.bulk import enrol_in_sequence_bulk
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors, error_messages
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.listing import (
    Column,
    ListConfig,
    created_column,
    list_views,
    owner_column,
    render_list,
    tags_column,
    team_column,
    updated_column,
)
from rapport.web.record_page import (
    STALE_MESSAGE,
    DetailField,
    country_detail,
    custom_detail_fields,
    detail_groups,
    display_datetime,
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

# Statuses from which a lead may still be converted (disqualified leads are reopened first).
CONVERTIBLE = {LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED}
STATUS_STYLE = {
    LeadStatus.NEW: "info",
    LeadStatus.WORKING: "warning",
    LeadStatus.QUALIFIED: "success",
    LeadStatus.DISQUALIFIED: "danger",
    LeadStatus.CONVERTED: "success",
}


def _lead_url(lead) -> str:
    return reverse("leads:lead_detail", args=[lead.pk])


def _full_name(lead) -> str:
    return f"{lead.first_name} {lead.last_name}".strip()


def _set_tags(record, actor, tags):
    # A converted lead is frozen (Conflict): the bulk action counts it as skipped.
    services.lead_update(lead=record, actor=actor, fields={}, tags=tags)


# ----- list ---------------------------------------------------------------------------

LEADS = ListConfig(
    object_type="lead",
    bulk_actions=("assign", "tag", "delete", "enrol_in_sequence"),
    custom_bulk={"enrol_in_sequence": enrol_in_sequence_bulk()},
    singular="Lead",
    plural="Leads",
    namespace="leads",
    selector=selectors.lead_list,
    sorts=selectors.LEAD_SORTS,
    default_sort="-created_at",
    filter_form=LeadFilterForm,
    columns=[
        Column("name", "Name", _full_name, link=_lead_url, sort="last_name"),
        Column("company", "Company", lambda lead: lead.company),
        Column("title", "Title", lambda lead: lead.title, default=False),
        Column("email", "Email", lambda lead: lead.email, kind="email"),
        Column("phone", "Phone", lambda lead: lead.phone, kind="phone"),
        Column(
            "status",
            "Status",
            lambda lead: lead.get_status_display(),
            csv=lambda lead: lead.status,
        ),
        Column(
            "score",
            "Score",
            lambda lead: lead_score_value(lead),
            kind="number",
            sort="score",
        ),
        Column("source", "Source", lambda lead: lead.source),
        Column("campaign", "Campaign", lambda lead: lead.campaign, default=False),
        Column("city", "City", lambda lead: lead.city, default=False),
        owner_column(),
        team_column(default=False),
        tags_column(),
        created_column(),
        updated_column(default=False),
    ],
    delete=lambda record, actor: services.lead_delete(lead=record, actor=actor),
    restore=lambda record, actor: services.lead_restore(lead=record, actor=actor),
    set_tags=_set_tags,
    empty_text="No leads match. Add a lead, or clear the filters.",
)


def _lead_list_views() -> dict:
    views = list_views(LEADS)

    @ui_view
    def list_view(request):
        # The shared list page with the status chips above the filter bar.
        return render_list(request, LEADS, "leads/lead_list.html")

    return {**views, "list": list_view}


lead_list_views = _lead_list_views()

# ----- record page --------------------------------------------------------------------


def lead_fields() -> list[DetailField]:
    person, qualification, address = "Person", "Qualification", "Address"
    return [
        text_field("first_name", "First name", max_length=100, group=person),
        text_field("last_name", "Last name", max_length=100, required=True, group=person),
        text_field("title", "Title", max_length=120, group=person),
        text_field("company", "Company", max_length=200, group=person),
        DetailField(
            name="email",
            label="Email",
            form_field=lambda user: forms.CharField(max_length=254, required=False),
            initial=lambda r: r.email,
            link=lambda r: f"mailto:{r.email}" if r.email else "",
            group=person,
        ),
        DetailField(
            name="phone",
            label="Phone",
            form_field=lambda user: forms.CharField(max_length=40, required=False),
            initial=lambda r: r.phone,
            link=lambda r: f"tel:{r.phone}" if r.phone else "",
            group=person,
        ),
        DetailField(
            name="website",
            label="Website",
            form_field=lambda user: forms.URLField(
                max_length=300, required=False, assume_scheme="https"
            ),
            initial=lambda r: r.website,
            link=lambda r: r.website if r.website.startswith(("http://", "https://")) else "",
            group=person,
        ),
        DetailField(
            name="status",
            label="Status",
            form_field=lambda user: forms.ChoiceField(
                choices=[(v, lbl) for v, lbl in LeadStatus.choices if v != LeadStatus.CONVERTED]
            ),
            initial=lambda r: r.status,
            display=lambda r: r.get_status_display(),
            group=qualification,
        ),
        DetailField(
            name="disqualified_reason",
            label="Disqualified because",
            form_field=lambda user: forms.CharField(max_length=200, required=False),
            initial=lambda r: r.disqualified_reason,
            group=qualification,
            editable=False,  # set with the status, on the edit form
        ),
        text_field("source", "Source", max_length=60, group=qualification),
        text_field("campaign", "Campaign", max_length=120, group=qualification),
        text_field("industry", "Industry", max_length=100, group=qualification),
        text_field("street", "Street", max_length=200, group=address),
        text_field("city", "City", max_length=100, group=address),
        text_field("region", "Region", max_length=100, group=address),
        text_field("postal_code", "Postal code", max_length=20, group=address),
        country_detail("country", "Country", group=address),
        text_field("description", "Description", max_length=10000, multiline=True, group="About"),
        owner_field(),
        tags_field(),
        *custom_detail_fields("lead"),
    ]


def _lead_page_update(record, **kwargs):
    """The update service for inline edits: a converted lead's refusal and a status that
    needs a reason come back as errors on the edited field."""
    try:
        return services.lead_update(lead=record, **kwargs)
    except ValidationError as exc:
        errors = error_messages(exc)
        if "status" in kwargs.get("fields", {}) and "disqualified_reason" in errors:
            raise ValidationError(
                {
                    "status": [
                        ValidationError(
                            "A disqualified lead needs a reason: use Edit to give one",
                            code="required",
                        )
                    ]
                }
            )
        raise


def _load_lead(*, pk: int, user) -> Lead:
    qs = selectors.lead_base("active").select_related("owner", "team", "converted_by")
    return record_get_for_user(model=Lead, pk=pk, user=user, qs=qs)


def conversion_links(lead: Lead, user) -> list[dict]:
    """The records a converted lead became, each linked when the user may see it."""
    if lead.status != LeadStatus.CONVERTED:
        return []
    links = []
    for label, pk, qs in (
        ("Account", lead.converted_account_id, accounts_visible_to(user)),
        ("Contact", lead.converted_contact_id, contacts_visible_to(user)),
        ("Opportunity", lead.converted_opportunity_id, opportunities_visible_to(user)),
    ):
        if pk is None:
            continue
        record = qs.select_related(None).prefetch_related(None).filter(pk=pk).first()
        url = ""
        if record is not None:
            url = {
                "Account": reverse("accounts:account_detail", args=[pk]),
                "Contact": reverse("accounts:contact_detail", args=[pk]),
                "Opportunity": reverse("sales:opportunity_detail", args=[pk]),
            }[label]
        links.append(
            {"label": label, "name": str(record) if record else "(not visible to you)", "url": url}
        )
    return links


def lead_score_value(lead) -> int | None:
    row = lead_score_row(lead)
    return row.score if row is not None else None


def lead_context(request, lead: Lead) -> dict:
    from rapport.scoring.selectors import score_card
    from rapport.territories.placement import territory_name

    context = {
        "score_card": score_card(lead_score_row(lead)),
        "territory_name": territory_name("lead", lead.pk),
        "status_style": STATUS_STYLE.get(lead.status, "info"),
        "conversion": conversion_links(lead, request.user),
        "converted_at": display_datetime(lead.converted_at),
        "convert_url": reverse("leads:lead_convert", args=[lead.pk]),
    }
    if lead.status == LeadStatus.CONVERTED:
        # Frozen: shown without edit controls (the service would refuse the change), but
        # it may still go to the trash.
        context["can_delete"] = record_can_edit(lead, request.user)
        context["can_edit"] = False
        context["detail_groups"] = detail_groups(
            lead, lead_fields(), base_url=_lead_url(lead), can_edit=False
        )
    return context


LEAD_PAGE = RecordConfig(
    object_type="lead",
    namespace="leads",
    get=_load_lead,
    update=_lead_page_update,
    fields=lead_fields,
    activity_link="lead_id",
    template="leads/lead_detail.html",
    extra_context=lead_context,
)

lead_page_views = record_views(LEAD_PAGE)

# ----- create, edit, delete -----------------------------------------------------------


def _form_page(request, form, *, record=None, status=200):
    return render(request, "leads/lead_form.html", {"form": form, "record": record}, status=status)


@ui_view
def lead_create(request):
    form = LeadForm(request.POST or None, user=request.user)
    if request.method == "POST":
        lead = save_form(form, unless_duplicate(request, form, "lead", services.lead_create))
        if lead is not None:
            messages.success(request, f"Lead {lead} created.")
            return HttpResponseRedirect(_lead_url(lead))
        return _form_page(request, form, status=422)
    return _form_page(request, form)


@ui_view
def lead_edit(request, pk: int):
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    require_editable(lead, request.user)
    if lead.status == LeadStatus.CONVERTED:
        messages.error(request, "This lead is converted and can no longer change.")
        return HttpResponseRedirect(_lead_url(lead))
    form = LeadForm(request.POST or None, user=request.user, record=lead)
    if request.method == "POST":
        update = partial(services.lead_update, lead=lead, actor=request.user)
        if save_form(form, update_with_version(form, lead, update)) is not None:
            messages.success(request, "Lead saved.")
            return HttpResponseRedirect(_lead_url(lead))
        return _form_page(request, form, record=lead, status=422)
    return _form_page(request, form, record=lead)


@ui_view
@require_POST
def lead_delete(request, pk: int):
    lead = selectors.lead_get_for_user(pk=pk, user=request.user)
    services.lead_delete(lead=lead, actor=request.user)
    return trash_and_back(
        request,
        label=str(lead),
        restore_url=reverse("leads:lead_restore", args=[pk]),
        list_url=reverse("leads:lead_list"),
    )


# ----- conversion ---------------------------------------------------------------------


def _convert_errors(form: LeadConvertForm, exc: ValidationError) -> None:
    field_map = {name: form.service_field(name) for name in error_messages(exc)}
    add_service_errors(form, exc, field_map)


def _convert_response(request, lead, form, *, status=200, modal=False):
    context = {
        "record": lead,
        "form": form,
        "convert_url": reverse("leads:lead_convert", args=[lead.pk]),
        "lead_url": _lead_url(lead),
        "conversion": conversion_links(lead, request.user),
        "converted": lead.status == LeadStatus.CONVERTED,
    }
    if is_htmx(request):
        template = "leads/_convert_dialog.html" if modal else "leads/_convert_form.html"
        return render_fragment(request, template, context, status=status)
    return render(request, "leads/lead_convert.html", context, status=status)


@ui_view
def lead_convert(request, pk: int):
    """GET: the conversion dialog (a page without JavaScript); POST: convert the lead with
    `lead_convert`, then go to the lead's page, which links to the new records."""
    user = request.user
    lead = _load_lead(pk=pk, user=user)
    require_editable(lead, user)
    if request.method != "POST":
        form = LeadConvertForm(lead=lead, user=user)
        return _convert_response(request, lead, form, modal=True)
    form = LeadConvertForm(request.POST, lead=lead, user=user)
    if not form.is_valid():
        return _convert_response(request, lead, form, status=422)
    status = 422
    try:
        result = services.lead_convert(lead=lead, actor=user, **form.service_kwargs())
    except StaleVersion:
        form.add_error(None, STALE_MESSAGE)
        status = 409
    except Conflict as exc:
        form.add_error(None, str(exc))
        status = 409
        lead = _load_lead(pk=pk, user=user)
    except ValidationError as exc:
        _convert_errors(form, exc)
    else:
        made = [
            f"{label} {result[key]}"
            for key, label in (
                ("account", "account"),
                ("contact", "contact"),
                ("opportunity", "opportunity"),
            )
            if result[key] is not None
        ]
        text = f"Lead {lead} converted" + (f" into {', '.join(made)}." if made else ".")
        messages.success(request, text)
        url = _lead_url(lead)
        if is_htmx(request):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)
    return _convert_response(request, lead, form, status=status)

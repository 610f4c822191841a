"""Account and contact pages: lists, record pages, forms, delete and restore.

Thin: each page is described once (a ListConfig, a RecordConfig, a form) and the shared
machinery in rapport.web does the rest through the same selectors and services as the
API.
"""

from functools import partial

from django import forms
from django.contrib import messages
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts import selectors, services
from rapport.accounts.forms import AccountFilterForm, AccountForm, ContactFilterForm, ContactForm
from rapport.accounts.models import Account, CompanySize, Contact
from rapport.analytics.columns import score_columns
from rapport.api.pagination import capped_count
from rapport.duplicates.create_warning import unless_duplicate
from rapport.orders.models import OrderStatus
from rapport.orders.selectors import orders_of_visible_parent
from rapport.records.iso_codes import country_name
from rapport.records.selectors import record_get_for_user
from rapport.records.services import require_editable
from rapport.records.visibility import shown, shown_name
from rapport.sales.models import StageKind
from rapport.sales.selectors import opportunity_list
from rapport.segments.columns import add_to_segment_bulk, lifecycle_column
from rapport.sequences.bulk import enrol_in_sequence_bulk
from rapport.surveys.bulk import send_nps_bulk
from rapport.web.decorators import ui_view
from rapport.web.links import record_url
from rapport.web.listing import (
    Column,
    ListConfig,
    created_column,
    list_views,
    owner_column,
    tags_column,
    team_column,
    updated_column,
)
from rapport.web.pickers import record_picker
from rapport.web.record_page import (
    DetailField,
    choice_field,
    country_detail,
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

RELATED_LIMIT = 10

# ----- lists --------------------------------------------------------------------------


def _account_url(account) -> str:
    return reverse("accounts:account_detail", args=[account.pk])


def _contact_url(contact) -> str:
    return reverse("accounts:contact_detail", args=[contact.pk])


ACCOUNTS = ListConfig(
    object_type="account",
    singular="Account",
    plural="Accounts",
    namespace="accounts",
    selector=selectors.account_list,
    sorts=selectors.ACCOUNT_SORTS,
    default_sort="-created_at",
    filter_form=AccountFilterForm,
    columns=[
        Column("name", "Name", lambda a: a.name, link=_account_url, sort="name"),
        Column("industry", "Industry", lambda a: a.industry),
        Column("city", "City", lambda a: a.city),
        Column("country", "Country", lambda a: country_name(a.country)),
        Column(
            "website",
            "Website",
            lambda a: a.domain or a.website,
            kind="url",
            link=lambda a: a.website if a.website.startswith(("http://", "https://")) else "",
            csv=lambda a: a.website,
        ),
        Column("size", "Size", lambda a: a.get_size_display(), default=False),
        Column(
            "revenue",
            "Annual revenue",
            lambda a: a.annual_revenue,
            kind="money",
            currency=lambda a: a.currency,
            default=False,
        ),
        owner_column(),
        team_column(default=False),
        tags_column(),
        created_column(),
        updated_column(default=False),
        *score_columns(),
    ],
    delete=lambda record, actor: services.account_delete(account=record, actor=actor),
    restore=lambda record, actor: services.account_restore(account=record, actor=actor),
    set_tags=lambda record, actor, tags: services.account_update(
        account=record, actor=actor, fields={}, tags=tags
    ),
    empty_text="No accounts match. Add an account, or clear the filters.",
)

CONTACTS = ListConfig(
    object_type="contact",
    singular="Contact",
    plural="Contacts",
    namespace="accounts",
    selector=selectors.contact_list,
    sorts=selectors.CONTACT_SORTS,
    default_sort="-created_at",
    filter_form=ContactFilterForm,
    columns=[
        Column("name", "Name", lambda c: c.full_name, link=_contact_url, sort="last_name"),
        Column("title", "Title", lambda c: c.title),
        Column(
            "account",
            "Account",
            lambda c: shown_name(c, "account"),
            link=lambda c: _account_url(shown(c, "account")) if shown(c, "account") else "",
        ),
        Column("email", "Email", lambda c: c.email, kind="email"),
        Column("phone", "Phone", lambda c: c.phone, kind="phone"),
        Column("city", "City", lambda c: c.city, default=False),
        lifecycle_column(),
        owner_column(),
        team_column(default=False),
        tags_column(),
        created_column(),
        updated_column(default=False),
        *score_columns(),
    ],
    delete=lambda record, actor: services.contact_delete(contact=record, actor=actor),
    restore=lambda record, actor: services.contact_restore(contact=record, actor=actor),
    set_tags=lambda record, actor, tags: services.contact_update(
        contact=record, actor=actor, fields={}, tags=tags
    ),
    empty_text="No contacts match. Add a contact, or clear the filters.",
    bulk_actions=(
        "assign",
        "tag",
        "delete",
        "add_to_segment",
        "send_nps",
        "enrol_in_sequence",
    ),
    custom_bulk={
        "add_to_segment": add_to_segment_bulk(),
        "send_nps": send_nps_bulk(),
        "enrol_in_sequence": enrol_in_sequence_bulk(),
    },
)

account_list_views = list_views(ACCOUNTS)
contact_list_views = list_views(CONTACTS)

# ----- record pages -------------------------------------------------------------------


def _money_field(name: str, label: str, group: str) -> DetailField:
    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: forms.DecimalField(
            max_digits=16, decimal_places=2, min_value=0, required=False
        ),
        initial=lambda r: getattr(r, name),
        display=lambda r: money(getattr(r, name), r.currency),
        group=group,
    )


def _linked(record, name: str):
    """The linked account the page loader found visible (None when it is not)."""
    return getattr(record, f"linked_{name}", None)


def _account_link_field(name: str, label: str, *, group: str) -> DetailField:
    """A link to another account (a contact's account, an account's parent), edited in place
    with the account picker."""

    def changes(pk, record) -> dict:
        # The picker has already checked that the user sees this account.
        return {"fields": {name: Account.objects.filter(pk=pk).first() if pk else None}}

    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: record_picker("account", user, required=False),
        initial=lambda r: getattr(r, f"{name}_id"),
        display=lambda r: _linked(r, name).name if _linked(r, name) else "",
        link=lambda r: _account_url(_linked(r, name)) if _linked(r, name) else "",
        changes=changes,
        group=group,
    )


def account_fields() -> list[DetailField]:
    company, address, shipping = "Company", "Billing address", "Shipping address"
    return [
        text_field("name", "Name", max_length=200, required=True, group=company),
        DetailField(
            name="website",
            label="Website",
            form_field=lambda user: forms.URLField(
                max_length=300, required=False, assume_scheme="https"
            ),
            initial=lambda r: r.website,
            link=lambda r: r.website if r.website.startswith(("http://", "https://")) else "",
            group=company,
        ),
        text_field("industry", "Industry", max_length=100, group=company),
        choice_field("size", "Employees", CompanySize.choices, group=company),
        _money_field("annual_revenue", "Annual revenue", company),
        currency_detail("currency", "Currency", group=company),
        _account_link_field("parent", "Parent account", group=company),
        text_field("street", "Street", max_length=200, group=address),
        text_field("city", "City", max_length=100, group=address),
        text_field("region", "Region", max_length=100, group=address),
        text_field("postal_code", "Postal code", max_length=20, group=address),
        country_detail("country", "Country", group=address),
        text_field("shipping_street", "Street", max_length=200, group=shipping),
        text_field("shipping_city", "City", max_length=100, group=shipping),
        text_field("shipping_postal_code", "Postal code", max_length=20, group=shipping),
        country_detail("shipping_country", "Country", group=shipping),
        text_field("description", "Description", max_length=10000, multiline=True, group="About"),
        owner_field(),
        tags_field(),
        *custom_detail_fields("account"),
    ]


def _primary_email(value, contact) -> dict:
    others = [
        {"email": e.email, "kind": e.kind, "is_primary": False}
        for e in contact.emails.all()
        if not e.is_primary
    ]
    primary = [{"email": value, "is_primary": True}] if value else []
    return {"fields": {}, "emails": primary + others}


def _primary_phone(value, contact) -> dict:
    others = [
        {"number": p.number, "kind": p.kind, "is_primary": False}
        for p in contact.phones.all()
        if not p.is_primary
    ]
    primary = [{"number": value, "is_primary": True}] if value else []
    return {"fields": {}, "phones": primary + others}


def _others(methods, attr: str) -> str:
    return ", ".join(
        f"{getattr(m, attr)} ({m.get_kind_display().lower()})" for m in methods if not m.is_primary
    )


def contact_fields() -> list[DetailField]:
    person, reach, address = "Person", "Email and phone", "Address"
    return [
        text_field("first_name", "First name", max_length=100, group=person),
        text_field("last_name", "Last name", max_length=100, required=True, group=person),
        text_field("title", "Title", max_length=120, group=person),
        _account_link_field("account", "Account", group=person),
        DetailField(
            name="email",
            label="Email",
            form_field=lambda user: forms.CharField(max_length=254, required=False),
            initial=lambda c: c.email,
            link=lambda c: f"mailto:{c.email}" if c.email else "",
            changes=_primary_email,
            group=reach,
        ),
        DetailField(
            name="other_emails",
            label="Other emails",
            form_field=lambda user: forms.CharField(required=False),
            initial=lambda c: "",
            display=lambda c: _others(c.emails.all(), "email"),
            group=reach,
            editable=False,
        ),
        DetailField(
            name="phone",
            label="Phone",
            form_field=lambda user: forms.CharField(max_length=40, required=False),
            initial=lambda c: c.phone,
            link=lambda c: f"tel:{c.phone}" if c.phone else "",
            changes=_primary_phone,
            group=reach,
        ),
        DetailField(
            name="other_phones",
            label="Other phones",
            form_field=lambda user: forms.CharField(required=False),
            initial=lambda c: "",
            display=lambda c: _others(c.phones.all(), "number"),
            group=reach,
            editable=False,
        ),
        text_field("street", "Street", max_length=200, group=address),
        text_field("city", "City", max_length=100, group=address),
        text_field("region", "Region", max_length=100, group=address),
        text_field("postal_code", "Postal code", max_length=20, group=address),
        country_detail("country", "Country", group=address),
        text_field("description", "Description", max_length=10000, multiline=True, group="About"),
        owner_field(),
        tags_field(),
        *custom_detail_fields("contact"),
    ]


def _order_totals(orders_qs) -> list[dict]:
    """Lifetime order value per currency (cancelled and refunded orders left out)."""
    return list(
        orders_qs.exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.REFUNDED])
        .order_by()
        .values("currency")
        .annotate(total=Sum("total"), n=Count("id"))
        .order_by("currency")
    )


def _related_orders(orders_qs) -> dict:
    return {
        "orders": [
            (o, record_url(o)) for o in orders_qs.order_by("-ordered_at", "-id")[:RELATED_LIMIT]
        ],
        "orders_count": capped_count(orders_qs),
        "order_totals": _order_totals(orders_qs),
    }


def _related_opportunities(opps_qs) -> dict:
    return {
        "opportunities": [
            (o, record_url(o)) for o in opps_qs.order_by("-created_at", "-id")[:RELATED_LIMIT]
        ],
        "opportunities_count": capped_count(opps_qs),
        "open_opportunities_count": capped_count(opps_qs.filter(stage__kind=StageKind.OPEN)),
    }


def account_related(request, account) -> dict:
    """Contacts, opportunities and orders of the account (each capped, with counts)."""
    user = request.user
    contacts_qs = selectors.contact_list(user=user, account_id=account.pk)
    return {
        "contacts": [
            (c, _contact_url(c))
            for c in contacts_qs.order_by("last_name", "first_name", "id")[:RELATED_LIMIT]
        ],
        "contacts_count": capped_count(contacts_qs),
        "contacts_url": reverse("accounts:contact_list") + f"?account_id={account.pk}",
        "new_contact_url": reverse("accounts:contact_create") + f"?account={account.pk}",
        **_related_opportunities(opportunity_list(user=user, account_id=account.pk)),
        # The page has checked the account is visible: its orders all are (see the selector).
        **_related_orders(orders_of_visible_parent(account=account)),
    }


def contact_related(request, contact) -> dict:
    """The contact's opportunities (as primary contact) and orders."""
    user = request.user
    opps = opportunity_list(user=user).filter(primary_contact_id=contact.pk)
    return {
        **_related_opportunities(opps),
        **_related_orders(orders_of_visible_parent(contact=contact)),
    }


def _page_loader(model, base, link: str):
    """The visible-record selector with the page header's joins (owner, team), and the
    linked account (`link`: a contact's account, an account's parent) as `linked_<link>`
    only when the user may see it: a private account's name is not shown through a link."""

    def load(*, pk: int, user):
        qs = base("active").select_related("owner", "team")
        record = record_get_for_user(model=model, pk=pk, user=user, qs=qs)
        linked_id = getattr(record, f"{link}_id")
        linked = None
        if linked_id:
            linked = selectors.accounts_visible_to(user).filter(pk=linked_id).first()
        setattr(record, f"linked_{link}", linked)
        return record

    return load


ACCOUNT_PAGE = RecordConfig(
    object_type="account",
    namespace="accounts",
    get=_page_loader(Account, selectors.account_base, "parent"),
    update=lambda record, **kw: services.account_update(account=record, **kw),
    fields=account_fields,
    activity_link="account_id",
    template="accounts/account_detail.html",
    extra_context=account_related,
)

CONTACT_PAGE = RecordConfig(
    object_type="contact",
    namespace="accounts",
    get=_page_loader(Contact, selectors.contact_base, "account"),
    update=lambda record, **kw: services.contact_update(contact=record, **kw),
    fields=contact_fields,
    activity_link="contact_id",
    template="accounts/contact_detail.html",
    extra_context=contact_related,
)

account_page_views = record_views(ACCOUNT_PAGE)
contact_page_views = record_views(CONTACT_PAGE)

# ----- create, edit, delete -----------------------------------------------------------


def _form_page(request, template, form, *, record=None, status=200):
    return render(request, template, {"form": form, "record": record}, status=status)


@ui_view
def account_create(request):
    form = AccountForm(request.POST or None, user=request.user)
    if request.method == "POST":
        account = save_form(
            form, unless_duplicate(request, form, "account", services.account_create)
        )
        if account is not None:
            messages.success(request, f"Account {account.name} created.")
            return HttpResponseRedirect(_account_url(account))
        return _form_page(request, "accounts/account_form.html", form, status=422)
    return _form_page(request, "accounts/account_form.html", form)


@ui_view
def account_edit(request, pk: int):
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    require_editable(account, request.user)
    form = AccountForm(request.POST or None, user=request.user, record=account)
    if request.method == "POST":
        update = partial(services.account_update, account=account, actor=request.user)
        if save_form(form, update_with_version(form, account, update)) is not None:
            messages.success(request, "Account saved.")
            return HttpResponseRedirect(_account_url(account))
        return _form_page(request, "accounts/account_form.html", form, record=account, status=422)
    return _form_page(request, "accounts/account_form.html", form, record=account)


@ui_view
@require_POST
def account_delete(request, pk: int):
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    services.account_delete(account=account, actor=request.user)
    return trash_and_back(
        request,
        label=account.name,
        restore_url=reverse("accounts:account_restore", args=[pk]),
        list_url=reverse("accounts:account_list"),
    )


@ui_view
def contact_create(request):
    account_id = request.GET.get("account", "")
    form = ContactForm(
        request.POST or None,
        user=request.user,
        account_id=int(account_id) if account_id.isdigit() else None,
    )
    if request.method == "POST":
        contact = save_form(
            form, unless_duplicate(request, form, "contact", services.contact_create)
        )
        if contact is not None:
            messages.success(request, f"Contact {contact.full_name} created.")
            return HttpResponseRedirect(_contact_url(contact))
        return _form_page(request, "accounts/contact_form.html", form, status=422)
    return _form_page(request, "accounts/contact_form.html", form)


@ui_view
def contact_edit(request, pk: int):
    contact = selectors.contact_get_for_user(pk=pk, user=request.user)
    require_editable(contact, request.user)
    form = ContactForm(request.POST or None, user=request.user, record=contact)
    if request.method == "POST":
        update = partial(services.contact_update, contact=contact, actor=request.user)
        if save_form(form, update_with_version(form, contact, update)) is not None:
            messages.success(request, "Contact saved.")
            return HttpResponseRedirect(_contact_url(contact))
        return _form_page(request, "accounts/contact_form.html", form, record=contact, status=422)
    return _form_page(request, "accounts/contact_form.html", form, record=contact)


@ui_view
@require_POST
def contact_delete(request, pk: int):
    contact = selectors.contact_get_for_user(pk=pk, user=request.user)
    services.contact_delete(contact=contact, actor=request.user)
    return trash_and_back(
        request,
        label=contact.full_name,
        restore_url=reverse("accounts:contact_restore", args=[pk]),
        list_url=reverse("accounts:contact_list"),
    )

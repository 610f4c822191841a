"""Record pages (the single customer view): the pieces every record page shares.

- `DetailField`: one field of the left column, shown and edited in place with htmx
  (click → small form → save → the field's fragment swapped back). Saving calls the
  object's update service with `expected_version`, so a change made meanwhile by someone
  else is reported instead of overwritten (the API's If-Match rule).
- `timeline_context`: a page of the record's timeline, newest first, with "load more".
- `shares_context`: who the record is shared with.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from rapport.api.pagination import keyset_page
from rapport.identity.selectors import users_for
from rapport.records.custom_fields import definitions_for
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.iso_codes import country_name, currency_name
from rapport.records.models import FieldType
from rapport.records.selectors import shares_of
from rapport.timeline.selectors import timeline_candidates
from rapport.web.dates import format_day, format_moment
from rapport.web.forms import (
    DATE_INPUT,
    UserChoiceField,
    add_service_errors,
    country_field,
    currency_field,
    split_tags,
)
from rapport.web.fragments import is_htmx, render_fragment

STALE_MESSAGE = (
    "Someone else changed this record after you opened it. Your change was not saved: "
    "reload the page to see the current values, then edit again."
)
TIMELINE_PAGE = 20


@dataclass(frozen=True)
class DetailField:
    """A field of a record page's details column.

    `form_field(user)` builds the input; `initial(record)` is its value in the form;
    `display(record)` the text shown; `changes(value, record)` the keyword arguments of
    the object's update service (default: `fields={name: value}`); `editable=False` shows
    the field without the inline editor (edited on the full form).
    """

    name: str
    label: str
    form_field: Callable[[Any], forms.Field]
    initial: Callable[[Any], Any]
    display: Callable[[Any], str] | None = None
    link: Callable[[Any], str] | None = None
    changes: Callable[[Any, Any], dict] | None = None
    group: str = "Details"
    multiline: bool = False
    editable: bool = True
    # Changing it hands the record on: only its owner, their managers and admins may.
    ownership: bool = False

    def shown(self, record) -> str:
        if self.display is not None:
            return self.display(record)
        value = self.initial(record)
        return "" if value is None else str(value)

    def service_kwargs(self, value, record) -> dict:
        if self.changes is not None:
            return self.changes(value, record)
        return {"fields": {self.name: value}}


def text_field(name: str, label: str, *, max_length: int, group: str = "Details", **kw):
    widget = forms.Textarea(attrs={"rows": 4}) if kw.get("multiline") else None
    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: forms.CharField(
            max_length=max_length, required=kw.get("required", False), widget=widget
        ),
        initial=lambda r: getattr(r, name),
        group=group,
        multiline=kw.get("multiline", False),
        link=kw.get("link"),
    )


def choice_field(name: str, label: str, choices, *, group: str = "Details"):
    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: forms.ChoiceField(choices=[("", "—"), *choices], required=False),
        initial=lambda r: getattr(r, name),
        display=lambda r: getattr(r, f"get_{name}_display")(),
        group=group,
    )


def country_detail(name: str, label: str, *, group: str = "Details") -> DetailField:
    """A country shown by its name and edited with the ISO 3166 picker."""
    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: country_field(),
        initial=lambda r: getattr(r, name),
        display=lambda r: country_name(getattr(r, name)),
        group=group,
    )


def _currency_display(code: str) -> str:
    name = currency_name(code)
    return f"{code} — {name}" if code and name != code else code or ""


def currency_detail(name: str, label: str, *, group: str = "Details") -> DetailField:
    """A currency shown as "EUR — Euro" and edited with the ISO 4217 picker."""
    return DetailField(
        name=name,
        label=label,
        form_field=lambda user: currency_field(),
        initial=lambda r: getattr(r, name),
        display=lambda r: _currency_display(getattr(r, name)),
        group=group,
    )


def owner_field(group: str = "Ownership") -> DetailField:
    return DetailField(
        name="owner",
        label="Owner",
        form_field=lambda user: UserChoiceField(
            queryset=users_for(user).filter(is_active=True), empty_label=None
        ),
        initial=lambda r: r.owner_id,
        display=lambda r: r.owner.get_full_name() or r.owner.username,
        changes=lambda value, record: {"fields": {}, "owner": value},
        group=group,
        ownership=True,
    )


def tags_field(group: str = "Ownership") -> DetailField:
    return DetailField(
        name="tags",
        label="Tags",
        form_field=lambda user: forms.CharField(
            max_length=600, required=False, help_text="Separate tags with commas"
        ),
        initial=lambda r: ", ".join(sorted(t.name for t in r.tags.all())),
        changes=lambda value, record: {"fields": {}, "tags": split_tags(value)},
        group=group,
    )


def custom_form_field(definition) -> forms.Field:
    kind = definition.field_type
    required = False  # a required custom field is enforced by the service, with its message
    if kind in (FieldType.NUMBER, FieldType.MONEY):
        return forms.DecimalField(required=required, max_digits=20, decimal_places=6)
    if kind == FieldType.DATE:
        return forms.DateField(required=required, widget=DATE_INPUT)
    if kind == FieldType.BOOLEAN:
        return forms.NullBooleanField(required=required)
    if kind == FieldType.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—")] + [(c, c) for c in definition.choices], required=required
        )
    if kind == FieldType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in definition.choices],
            required=required,
            widget=forms.CheckboxSelectMultiple,
        )
    return forms.CharField(required=required, max_length=2000)


def _custom_display(value) -> str:
    if value is None or value == "":
        return ""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def custom_value(value):
    # Form values → JSON-able values the custom-field validator accepts.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value == "" or value == []:
        return None
    return value


def custom_detail_fields(object_type: str, group: str = "Custom fields") -> list[DetailField]:
    """One DetailField per custom field defined for the object (`cf_<key>`)."""
    fields = []
    for key, definition in definitions_for(object_type).items():
        fields.append(
            DetailField(
                name=f"cf_{key}",
                label=definition.label,
                form_field=lambda user, d=definition: custom_form_field(d),
                initial=lambda r, k=key: r.custom.get(k),
                display=lambda r, k=key, d=definition: (
                    format_day(r.custom.get(k))
                    if d.field_type == FieldType.DATE
                    else _custom_display(r.custom.get(k))
                ),
                changes=lambda value, record, k=key: {
                    "fields": {},
                    "custom": {k: custom_value(value)},
                },
                group=group,
            )
        )
    return fields


def detail_groups(
    record, fields: list[DetailField], *, base_url: str, can_edit: bool, can_manage: bool = False
):
    """The details column: [(group, [field context, …]), …] in the fields' order."""
    groups: dict[str, list[dict]] = {}
    for spec in fields:
        groups.setdefault(spec.group, []).append(
            field_context(record, spec, base_url=base_url, can_edit=can_edit, can_manage=can_manage)
        )
    return list(groups.items())


def field_context(
    record, spec: DetailField, *, base_url: str, can_edit: bool, can_manage: bool = False
) -> dict:
    return {
        "name": spec.name,
        "label": spec.label,
        "text": spec.shown(record),
        "href": spec.link(record) if spec.link else "",
        "multiline": spec.multiline,
        "url": f"{base_url}fields/{spec.name}/",
        "edit_page": f"{base_url}edit",
        "can_edit": can_edit and spec.editable and (can_manage or not spec.ownership),
        "version": record.version,
    }


class _InlineForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def _inline_form(spec: DetailField, user, data=None, record=None) -> forms.Form:
    form = _InlineForm(
        data,
        initial={"value": spec.initial(record), "version": record.version} if record else None,
        auto_id=f"inline-{spec.name}-%s",
    )
    form.fields["value"] = spec.form_field(user)
    form.fields["value"].label = spec.label
    form.fields["value"].widget.attrs["autofocus"] = True
    return form


def inline_field(
    request,
    *,
    record,
    spec: DetailField,
    update: Callable[..., Any],
    reload: Callable[[], Any],
    base_url: str,
    can_edit: bool,
    timeline_url: str,
    gone_url: str = "/",
    can_manage: bool = False,
):
    """GET → the field shown (`?edit=1`: its small form); POST → save it with the version
    the page showed, then the field shown again with a toast, or the form with the error."""
    template = "web/record/_field.html"
    can_edit = can_edit and spec.editable and (can_manage or not spec.ownership)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied()
    if request.method == "GET" and not (request.GET.get("edit") and can_edit):
        context = {
            "field": field_context(
                record, spec, base_url=base_url, can_edit=can_edit, can_manage=can_manage
            )
        }
        return render_fragment(request, template, context)
    version = request.GET.get("version") if request.method == "GET" else None
    if request.method == "GET":
        form = _inline_form(spec, request.user, record=record)
        if version and version.isdigit():
            form.initial["version"] = int(version)
        return _edit_fragment(request, spec, form, base_url, stale=False)
    form = _inline_form(spec, request.user, data=request.POST)
    if not form.is_valid():
        return _edit_fragment(request, spec, form, base_url, status=422)
    try:
        update(
            record=record,
            actor=request.user,
            expected_version=form.cleaned_data["version"],
            **spec.service_kwargs(form.cleaned_data["value"], record),
        )
    except StaleVersion:
        return _edit_fragment(request, spec, form, base_url, stale=True, status=409)
    except (ValidationError, Conflict) as exc:
        mapping = {spec.name: "value", "owner_id": "value", "owner": "value", "tags": "value"}
        if spec.name.startswith("cf_"):
            mapping["custom." + spec.name.removeprefix("cf_")] = "value"
        # One input: whatever the service refused is about it (a contact's email comes back
        # as "emails[0].email"), so every error goes next to it, in words.
        add_service_errors(form, exc, mapping, fallback="value")
        return _edit_fragment(request, spec, form, base_url, status=422)
    try:
        record = reload()
    except RecordNotFound:
        # The user gave the record away (owner changed) and may no longer see it.
        messages.success(request, f"{spec.label} saved. The record is no longer visible to you.")
        if is_htmx(request):
            return HttpResponseClientRedirect(gone_url)
        return HttpResponseRedirect(gone_url)
    messages.success(request, f"{spec.label} saved.")
    context = {
        "field": field_context(
            record, spec, base_url=base_url, can_edit=can_edit, can_manage=can_manage
        ),
        "new_version": record.version,
    }
    # The timeline's first page comes along out of band (the change is on it): no second
    # request that a busy page could miss.
    context.update(
        timeline_context(
            record, user=request.user, cursor=None, url=timeline_url, page_url=base_url
        )
    )
    context["timeline_oob"] = True
    response = render_fragment(request, template, context)
    # The header's name, facts and tags reload themselves.
    response["HX-Trigger"] = "record-changed"
    return response


def _edit_fragment(request, spec, form, base_url, *, stale=False, status=200):
    context = {
        "field": {"name": spec.name, "label": spec.label, "url": f"{base_url}fields/{spec.name}/"},
        "form": form,
        "stale_message": STALE_MESSAGE if stale else "",
        "multiline": spec.multiline,
    }
    return render_fragment(request, "web/record/_field_edit.html", context, status=status)


def timeline_context(record, *, user, cursor: str | None, url: str, page_url: str = "") -> dict:
    """A page of the record's timeline, newest first, and the "load more" links (`url` for
    htmx, `page_url` — the record page — for a plain link without JavaScript)."""
    events, keep = timeline_candidates(record, user=user)
    page = keyset_page(
        events,
        sort="-occurred_at",
        allowed={"occurred_at"},
        cursor=cursor,
        limit=TIMELINE_PAGE,
        with_count=False,
        keep=keep,
    )
    more = f"{url}?cursor={page.next_cursor}" if page.next_cursor else ""
    more_page = f"{page_url}?tl={page.next_cursor}#timeline" if more and page_url else more
    from rapport.mail.selectors import pending_deliveries_of_record

    return {
        # Outgoing mail not sent yet heads the first page (once sent or failed, its
        # email_sent event takes over, with the state).
        "pending_emails": pending_deliveries_of_record(record) if cursor is None else [],
        "events": page.items,
        "timeline_more": more,
        "timeline_more_page": more_page,
        "timeline_url": url,
        "now": timezone.now(),
    }


def shares_context(record) -> list[dict]:
    out = []
    for share in shares_of(record):
        who = (
            (share.user.get_full_name() or share.user.username)
            if share.user_id
            else f"Team {share.team.name}"
        )
        out.append({"id": share.pk, "who": who, "access": share.get_access_display()})
    return out


def display_datetime(value) -> str:
    return format_moment(value) if value else ""

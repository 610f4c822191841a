"""Record pages (the single customer view) as views: an object describes its page once
(`RecordConfig`) and gets the detail page, inline field edits, the timeline's "load more"
and the composer — the same for accounts, contacts, leads and opportunities."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from rapport.files.views import files_context
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.visibility import can_edit as record_can_edit
from rapport.records.visibility import can_manage_access
from rapport.web.composer import composer_context, composer_form, composer_view, email_initial
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import render_fragment
from rapport.web.record_page import (
    STALE_MESSAGE,
    DetailField,
    detail_groups,
    inline_field,
    shares_context,
    timeline_context,
)


@dataclass
class RecordConfig:
    """What the shared record-page views need to know about one object.

    URL names follow `<namespace>:<object_type>_<action>` with actions detail, field,
    timeline and composer. `get(pk=, user=)` is the object's visible-record selector;
    `update(record=, actor=, expected_version=, fields=, tags=, custom=, owner=)` wraps
    its update service; `activity_link` is the activity FK the composer fills in.
    """

    object_type: str
    namespace: str
    get: Callable[..., Any]
    update: Callable[..., Any]
    fields: Callable[[], list[DetailField]]
    activity_link: str
    template: str
    extra_context: Callable[[Any, Any], dict] | None = None

    def url(self, action: str, pk: int | None = None) -> str:
        args = [pk] if pk is not None else []
        return reverse(f"{self.namespace}:{self.object_type}_{action}", args=args)

    def field_spec(self, name: str) -> DetailField:
        for spec in self.fields():
            if spec.name == name:
                return spec
        raise Http404("no such field")


def record_page_context(request, config: RecordConfig, record, **extra) -> dict:
    """Header, details, shares, composer and the first timeline page of a record."""
    pk = record.pk
    editable_now = record_can_edit(record, request.user)
    manager = editable_now and can_manage_access(record, request.user)
    detail_url = config.url("detail", pk)
    context = {
        "record": record,
        "can_edit": editable_now,
        "can_manage": manager,
        "detail_url": detail_url,
        "detail_groups": detail_groups(
            record,
            config.fields(),
            base_url=detail_url,
            can_edit=editable_now,
            can_manage=manager,
        ),
        "shares": shares_context(record),
        **timeline_context(
            record,
            user=request.user,
            cursor=request.GET.get("tl") or None,
            url=config.url("timeline", pk),
            page_url=detail_url,
        ),
        **composer_context(
            composer_form(
                request.GET.get("compose"),
                user=request.user,
                record=record,
                initial=email_initial(request) if request.GET.get("compose") == "email" else None,
            ),
            url=config.url("composer", pk),
            record=record,
        ),
    }
    context.update(files_context(request, record))
    if config.extra_context is not None:
        context.update(config.extra_context(request, record))
    context.update(extra)
    return context


def record_views(config: RecordConfig) -> dict[str, Callable]:
    """The detail page, inline field, timeline ("load more") and composer views."""

    def load(request, pk):
        return config.get(pk=pk, user=request.user)

    @ui_view
    def detail(request, pk: int):
        record = load(request, pk)
        return render(request, config.template, record_page_context(request, config, record))

    @ui_view
    def field(request, pk: int, name: str):
        record = load(request, pk)
        spec = config.field_spec(name)
        editable_now = record_can_edit(record, request.user)
        return inline_field(
            request,
            record=record,
            spec=spec,
            update=config.update,
            reload=lambda: load(request, pk),
            base_url=config.url("detail", pk),
            can_edit=editable_now,
            gone_url=config.url("list"),
            timeline_url=config.url("timeline", pk),
            can_manage=editable_now and can_manage_access(record, request.user),
        )

    @ui_view
    def timeline(request, pk: int):
        record = load(request, pk)
        context = timeline_context(
            record,
            user=request.user,
            cursor=request.GET.get("cursor") or None,
            url=config.url("timeline", pk),
        )
        return render_fragment(request, "web/record/_timeline_page.html", context)

    @ui_view
    def composer(request, pk: int):
        record = load(request, pk)

        def full_page(extra: dict):
            context = record_page_context(request, config, record, **extra)
            return render(request, config.template, context, status=422)

        return composer_view(
            request,
            record=record,
            links={config.activity_link: record.pk},
            url=config.url("composer", pk),
            timeline_url=config.url("timeline", pk),
            record_page_url=config.url("detail", pk),
            full_page=full_page,
        )

    return {"detail": detail, "field": field, "timeline": timeline, "composer": composer}


# ----- the full create and edit forms, and delete ------------------------------------------


def save_form(form, save: Callable[[dict], Any]):
    """Run `save(form.service_kwargs())` when the form is valid; the service's errors go next
    to the fields (`form.service_error_map()` names where), a stale version or a conflict on
    top. Returns the saved record, or None to show the form again."""
    if not form.is_valid():
        return None
    try:
        return save(form.service_kwargs())
    except StaleVersion:
        form.add_error(None, STALE_MESSAGE)
    except Conflict as exc:
        form.add_error(None, str(exc))
    except ValidationError as exc:
        # Read after the call: the contact form learns which input each email came from.
        field_map = form.service_error_map() if hasattr(form, "service_error_map") else {}
        add_service_errors(form, exc, {"owner_id": "owner", **field_map})
    return None


def update_with_version(form, record, update: Callable[..., Any]) -> Callable[[dict], Any]:
    """The `save` of an edit form: `update(expected_version=, **service_kwargs)` with the
    version the form was opened at; returns the record."""

    def save(kwargs: dict):
        update(expected_version=form.cleaned_data.get("version"), **kwargs)
        return record

    return save


def trash_and_back(request, *, label: str, restore_url: str, list_url: str):
    """After a soft delete: a toast offering undo, then the list."""
    messages.success(request, f"{label} moved to the trash.", extra_tags=f"undo:{restore_url}")
    return HttpResponseRedirect(list_url)

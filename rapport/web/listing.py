"""List pages: the machinery every object's list shares.

An object describes its list once (`ListConfig`: selector, sorts, columns, services for
bulk actions) and gets the list page, the CSV export, bulk actions, the trash and
restore. Reads go through the object's list selector, the same one as the API, so the
UI, the API and exports cannot disagree about who sees what.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import formats
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from ninja.errors import HttpError

from rapport.api.pagination import keyset_page
from rapport.notifications.services import bulk_assignment_notify
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.export import export_sorted
from rapport.records.services import record_transfer_owner, require_writer
from rapport.records.visibility import editable
from rapport.web.abilities import passes
from rapport.web.csv_export import list_export_response
from rapport.web.dates import format_day
from rapport.web.decorators import ui_view
from rapport.web.forms import BulkActionForm, RecordFilterForm, error_messages
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.links import record_url
from rapport.web.selectors import saved_views_of
from rapport.web.services import TRANSIENT_PARAMS


@dataclass(frozen=True)
class Cell:
    kind: str
    text: str
    href: str = ""
    items: tuple = ()


def _display_date(value) -> str:
    return format_day(value)


@dataclass(frozen=True)
class Column:
    """One column of a list: how to read it from a row, show it, link it and sort by it.

    kind: text | number | money | date | tags | email | phone | url | user.
    """

    key: str
    label: str
    value: Callable[[Any], Any]
    kind: str = "text"
    link: Callable[[Any], str] | None = None
    sort: str | None = None
    default: bool = True
    currency: Callable[[Any], str] | None = None
    csv: Callable[[Any], Any] | None = None  # what exports write, when not `value`

    @property
    def numeric(self) -> bool:
        return self.kind in {"number", "money"}

    def raw(self, row) -> Any:
        value = self.value(row)
        if self.kind == "user" and value is not None:
            return value.get_full_name() or value.username
        return value

    def cell(self, row) -> Cell:
        value = self.raw(row)
        href = self.link(row) if self.link else ""
        if value is None or value == "":
            return Cell(self.kind, "", "")
        if self.kind == "tags":
            return Cell(self.kind, "", "", tuple(value))
        if self.kind == "money":
            text = formats.number_format(Decimal(value), decimal_pos=2, force_grouping=True)
            currency = self.currency(row) if self.currency else ""
            return Cell(self.kind, f"{text} {currency}".strip(), href)
        if self.kind == "number":
            return Cell(self.kind, formats.number_format(value, force_grouping=True), href)
        if self.kind == "date":
            return Cell(self.kind, _display_date(value), href)
        if self.kind == "email":
            href = href or f"mailto:{value}"
        elif self.kind == "phone":
            href = href or f"tel:{value}"
        elif self.kind == "url" and str(value).startswith(("http://", "https://")):
            href = href or str(value)
        return Cell(self.kind, str(value), href)


def tags_of(row) -> list[str]:
    # Reads the prefetch cache the selectors fill: no query per row.
    return sorted(t.name for t in row.tags.all())


def owner_column(**kwargs) -> Column:
    return Column("owner", "Owner", lambda r: r.owner, kind="user", **kwargs)


def team_column(**kwargs) -> Column:
    return Column("team", "Team", lambda r: r.team.name if r.team_id else "", **kwargs)


def tags_column(**kwargs) -> Column:
    return Column("tags", "Tags", tags_of, kind="tags", **kwargs)


def created_column(**kwargs) -> Column:
    return Column(
        "created", "Created", lambda r: r.created_at, kind="date", sort="created_at", **kwargs
    )


def updated_column(**kwargs) -> Column:
    return Column(
        "updated", "Updated", lambda r: r.updated_at, kind="date", sort="updated_at", **kwargs
    )


@dataclass(frozen=True)
class BulkAction:
    """One bulk action of a list: its label in the bulk bar, the past tense for the
    message ("completed"), `run(record=, actor=, data=)` calling the object's service, and
    the input it needs besides the rows ("owner_id" shows the owner select)."""

    label: str
    verb: str
    run: Callable[..., Any]
    needs: str = ""
    # For needs="segment_id" or "survey_id": `choices(user)` → [(id, name)] of the select in
    # the bulk bar.
    choices: Callable[..., Any] | None = None
    # `allowed(user)` → False hides the action from that user (and refuses it if posted).
    allowed: Callable[..., bool] | None = None


BUILTIN_BULK = {
    "assign": ("Assign owner", "reassigned", "owner_id"),
    "tag": ("Add tag", "tagged", "tag"),
    "delete": ("Delete", "moved to the trash", ""),
}


@dataclass
class ListConfig:
    """Everything the shared list machinery needs to know about one object's list.

    URL names follow `<namespace>:<object_type>_<action>` with actions list, create,
    detail, export, bulk, trash and restore.
    """

    object_type: str
    singular: str
    plural: str
    namespace: str
    selector: Callable[..., Any]
    sorts: set[str]
    default_sort: str
    columns: list[Column]
    filter_form: type[RecordFilterForm] = RecordFilterForm
    related: tuple[str, ...] = ("owner", "team")
    delete: Callable[..., Any] | None = None
    restore: Callable[..., Any] | None = None
    set_tags: Callable[..., Any] | None = None
    empty_text: str = "Nothing here yet."
    page_size: int = 50
    bulk_actions: tuple[str, ...] = ("assign", "tag", "delete")
    # Bulk actions of objects that are not owned records (or extra ones): name → BulkAction.
    # Their rows are those `bulk_targets(queryset, user)` lets the user change (default:
    # records.visibility.editable).
    custom_bulk: dict[str, "BulkAction"] = field(default_factory=dict)
    bulk_targets: Callable[..., Any] | None = None
    # Who may create and use bulk actions: the service's own check (raises PermissionDenied);
    # the page hides "New …", Import and the bulk bar from anyone it refuses.
    writer_check: Callable[..., None] = require_writer
    extra: dict = field(default_factory=dict)
    # A template extending web/list/page.html (its blocks: list_actions, list_nav,
    # filter_bar, empty_actions) for a list whose filters or actions differ.
    template: str = "web/list/page.html"
    # Same arguments as `selector`: a part of its rows that an index counts cheaply (the
    # user's own), which may answer the capped count alone (api.pagination.capped_count).
    count_within: Callable[..., Any] | None = None
    # Same arguments as `selector`: None, or its rows with visibility probed per row and the
    # same filters without visibility, for a prefix-first page (api.pagination.keyset_page).
    page_sources: Callable[..., Any] | None = None

    def url(self, action: str, *args) -> str:
        return reverse(f"{self.namespace}:{self.object_type}_{action}", args=args)

    def urls(self) -> dict[str, str]:
        """The list's URLs by action; '' for an action the object does not have (a list
        without trash or bulk actions names no such URL)."""
        urls = {}
        for action in ("list", "create", "export", "bulk", "trash"):
            try:
                urls[action] = self.url(action)
            except NoReverseMatch:
                urls[action] = ""
        return urls

    def column_map(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns}

    def chosen_columns(self, request) -> list[Column]:
        """Columns from `?cols=a,b` (unknown keys ignored), else the default ones; the
        first column (the record's name) is always shown."""
        by_key = self.column_map()
        raw = ",".join(request.GET.getlist("cols"))
        keys = [k for k in raw.split(",") if k in by_key]
        if not keys:
            return [c for c in self.columns if c.default]
        first = self.columns[0].key
        return [by_key[first]] + [by_key[k] for k in dict.fromkeys(keys) if k != first]


def _filters(request, config: ListConfig) -> RecordFilterForm:
    data = request.GET if any(k for k in request.GET if k not in TRANSIENT_PARAMS) else None
    form = config.filter_form(data, user=request.user)
    if data is not None:
        form.is_valid()
    return form


def _sort(request, config: ListConfig) -> str:
    sort = request.GET.get("sort", "")
    return sort if sort.lstrip("-") in config.sorts else config.default_sort


def _without(request, param: str, raw: str | None = None) -> str:
    """The current query string less one parameter value (and the cursor)."""
    params = request.GET.copy()
    params.pop("cursor", None)
    params.pop("fragment", None)
    if raw is None:
        params.pop(param, None)
    else:
        params.setlist(param, [v for v in params.getlist(param) if v != raw])
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


def _headers(request, columns: list[Column], sort: str) -> list[dict]:
    headers = []
    current = sort.lstrip("-")
    descending = sort.startswith("-")
    for column in columns:
        header = {"label": column.label, "numeric": column.numeric, "sort_url": "", "aria": ""}
        if column.sort:
            params = request.GET.copy()
            params.pop("cursor", None)
            params.pop("fragment", None)
            next_desc = not descending if column.sort == current else column.kind == "date"
            params["sort"] = f"-{column.sort}" if next_desc else column.sort
            header["sort_url"] = "?" + params.urlencode()
            if column.sort == current:
                header["aria"] = "descending" if descending else "ascending"
        headers.append(header)
    return headers


def _rows(records, columns: list[Column]) -> list[dict]:
    return [
        {"id": r.pk, "record": r, "cells": [c.cell(r) for c in columns], "url": record_url(r)}
        for r in records
    ]


def filtered_queryset(request, config: ListConfig, form: RecordFilterForm, *, deleted=False):
    """The visible rows matching the filter bar (ValidationError for a bad custom filter)."""
    qs = config.selector(user=request.user, deleted=deleted, **form.selector_kwargs())
    return qs.select_related(*config.related) if config.related else qs


def _page(request, config: ListConfig, form: RecordFilterForm, *, deleted=False):
    sort = _sort(request, config)
    error = ""
    page = None
    if form.is_bound and not form.is_valid():
        return None, sort, "Some filters are not valid: fix them above."
    try:
        qs = filtered_queryset(request, config, form, deleted=deleted)
        within = sources = None
        kwargs = form.selector_kwargs()
        if config.count_within is not None:
            within = config.count_within(user=request.user, deleted=deleted, **kwargs)
        if config.page_sources is not None:
            sources = config.page_sources(user=request.user, deleted=deleted, **kwargs)
            if sources is not None and config.related:
                sources = (sources[0].select_related(*config.related), sources[1])
        page = keyset_page(
            qs,
            sort=sort,
            allowed=config.sorts,
            cursor=request.GET.get("cursor") or None,
            limit=config.page_size,
            count_within=within,
            prefix_first=sources,
        )
    except ValidationError as exc:
        error = " ".join(m for ms in error_messages(exc).values() for m in ms)
    except HttpError as exc:
        error = str(exc)
    return page, sort, error


def _column_choices(request, config: ListConfig, chosen: list[Column]) -> list[dict]:
    keys = {c.key for c in chosen}
    return [
        {"key": c.key, "label": c.label, "checked": c.key in keys, "locked": i == 0}
        for i, c in enumerate(config.columns)
    ]


def render_list(request, config: ListConfig, template: str | None = None):
    """The list page (or, for htmx "load more", just the next rows and pager)."""
    template = template or config.template
    form = _filters(request, config)
    columns = config.chosen_columns(request)
    page, sort, error = _page(request, config, form)
    rows = _rows(page.items, columns) if page else []
    query = request.GET.copy()
    for key in ("cursor", "fragment"):
        query.pop(key, None)
    next_params = query.copy()
    if page and page.next_cursor:
        next_params["cursor"] = page.next_cursor
    can_write = passes(config.writer_check, request.user)
    context = {
        "config": config,
        "form": form,
        "columns": columns,
        "headers": _headers(request, columns, sort),
        "rows": rows,
        "page": page,
        "error": error,
        "next_query": "?" + next_params.urlencode() if page and page.next_cursor else "",
        "query_string": query.urlencode(),
        "cols_value": ",".join(c.key for c in columns),
        "sort": sort,
        "urls": config.urls(),
        "first_url": "?" + query.urlencode(),
        "can_write": can_write,
        "bulk_form": _bulk_form(config, request.user)
        if config.bulk_actions and can_write
        else None,
    }
    if is_htmx(request) and request.GET.get("fragment") == "rows":
        return render_fragment(request, "web/list/_rows_more.html", context)
    chips = form.chips()
    for chip in chips:
        chip["remove_url"] = _without(request, chip["param"], chip["raw"])
    context.update(
        {
            "chips": chips,
            "clear_url": "?" + (f"cols={context['cols_value']}" if request.GET.get("cols") else ""),
            "keep_params": [
                (k, v) for k, vs in query.lists() if k not in ("cols", "view") for v in vs
            ],
            "column_choices": _column_choices(request, config, columns),
            "saved_views": list(saved_views_of(user=request.user, object_type=config.object_type)),
            "active_view": request.GET.get("view", ""),
            "is_first_page": not request.GET.get("cursor"),
        }
    )
    return render(request, template, context)


def export_csv(request, config: ListConfig):
    """The current filter as CSV (or XLSX with `format=xlsx`): only rows the user may see,
    every column, in list order; written by rapport.records.export like /api/exports."""
    request.GET = request.GET.copy()
    file_format = request.GET.pop("format", ["csv"])[-1]
    form = _filters(request, config)
    if form.is_bound and not form.is_valid():
        messages.error(request, "Fix the filters before exporting.")
        return HttpResponseRedirect(config.url("list") + "?" + request.GET.urlencode())
    try:
        qs = filtered_queryset(request, config, form)
        records = export_sorted(qs, _sort(request, config), config.sorts)
        return list_export_response(
            config=config,
            records=records.iterator(chunk_size=2000),
            file_format="xlsx" if file_format == "xlsx" else "csv",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in error_messages(exc).values() for m in ms))
        return HttpResponseRedirect(config.url("list") + "?" + request.GET.urlencode())


def safe_next(request, url: str | None, default: str) -> str:
    """A same-site path to go back to (never an outside URL)."""
    if url and url.startswith("/") and url_has_allowed_host_and_scheme(url, {request.get_host()}):
        return url
    return default


def _plural(config: ListConfig, n: int) -> str:
    return f"{n:,} {config.singular.lower() if n == 1 else config.plural.lower()}"


def _bulk_choices(config: ListConfig, user) -> list[tuple[str, str, str]]:
    """(action, label, needed input) of the list's bulk actions the user may use, in the
    config's order."""
    out = []
    for name in config.bulk_actions:
        if name in config.custom_bulk:
            spec = config.custom_bulk[name]
            if spec.allowed is not None and not spec.allowed(user):
                continue
            out.append((name, spec.label, spec.needs))
        else:
            label, _verb, needs = BUILTIN_BULK[name]
            out.append((name, label, needs))
    return out


def _manual_rule_choices(config: ListConfig, user) -> list[tuple[str, str, str]]:
    """Active automation rules with the "manual run" trigger for this object."""
    from rapport.automation.selectors import manual_rules_for

    return [
        (f"rule:{rule.pk}", f"Run rule: {rule.name}", "")
        for rule in manual_rules_for(user, config.object_type)
    ]


def _bulk_form(config: ListConfig, user, data=None) -> BulkActionForm:
    choices = _bulk_choices(config, user) + _manual_rule_choices(config, user)
    form = BulkActionForm(data, user=user, actions=[(n, label) for n, label, _ in choices])
    form.needs = {needs for _, _, needs in choices if needs}
    for name in config.bulk_actions:
        spec = config.custom_bulk.get(name)
        if spec is not None and spec.choices is not None and spec.needs in form.fields:
            form.fields[spec.needs].choices = [("", "Choose…")] + [
                (str(k), v) for k, v in spec.choices(user)
            ]
    return form


def bulk_action(request, config: ListConfig):
    """Apply one action to the checked rows; only rows the user may change are touched."""
    form = _bulk_form(config, request.user, request.POST)
    back = safe_next(request, request.POST.get("next"), config.url("list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(back)
    action = form.cleaned_data["action"]
    ids = form.cleaned_data["ids"]
    if action.startswith("rule:"):
        return _bulk_run_rule(request, config, int(action.removeprefix("rule:")), ids, back)
    if action not in config.bulk_actions:
        raise Http404("unknown action")
    visible = config.selector(user=request.user).filter(pk__in=ids)
    targets = list((config.bulk_targets or editable)(visible, request.user))
    done = 0
    assigned: list = []
    for record in targets:
        try:
            if action in config.custom_bulk:
                config.custom_bulk[action].run(
                    record=record, actor=request.user, data=form.cleaned_data
                )
            elif action == "assign":
                record_transfer_owner(
                    record=record,
                    new_owner=form.cleaned_data["owner_id"],
                    actor=request.user,
                    notify_new_owner=False,
                )
                assigned.append(record)
            elif action == "tag":
                names = [t.name for t in record.tags.all()] + [form.cleaned_data["tag"].strip()]
                config.set_tags(record=record, actor=request.user, tags=names)
            elif action == "delete":
                config.delete(record=record, actor=request.user)
        except (Conflict, PermissionDenied, RecordNotFound, StaleVersion, ValidationError):
            continue
        done += 1
    if assigned:
        # One notification for the lot, not one per row.
        bulk_assignment_notify(
            records=assigned,
            new_owner=form.cleaned_data["owner_id"],
            actor=request.user,
            link=f"{config.url('list')}?owner_id={form.cleaned_data['owner_id'].pk}",
        )
    verb = (
        config.custom_bulk[action].verb if action in config.custom_bulk else BUILTIN_BULK[action][1]
    )
    text = f"{_plural(config, done)} {verb}."
    skipped = len(ids) - done
    if skipped:
        text += f" {skipped:,} skipped: you may not change them."
    (messages.success if done else messages.warning)(request, text)
    return HttpResponseRedirect(back)


def _bulk_run_rule(request, config: ListConfig, rule_id: int, ids, back: str):
    """Start a manual automation rule on the checked rows the user may change."""
    from rapport.automation.selectors import rule_get_for_runner
    from rapport.automation.services import rule_run_manual

    rule = rule_get_for_runner(request.user, rule_id)
    visible_ids = list(
        config.selector(user=request.user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    try:
        result = rule_run_manual(rule=rule, actor=request.user, object_ids=visible_ids)
    except (Conflict, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return HttpResponseRedirect(back)
    started = len(result["started"])
    text = f"“{rule.name}” started on {_plural(config, started)}."
    skipped = len(ids) - started
    if skipped:
        text += f" {skipped:,} skipped: you may not change them or they do not meet its conditions."
    (messages.success if started else messages.warning)(request, text)
    return HttpResponseRedirect(back)


def render_trash(request, config: ListConfig):
    """Soft-deleted rows the user may see, newest first, each with a restore button."""
    form = _filters(request, config)
    columns = config.chosen_columns(request)
    page, _, error = _page(request, config, form, deleted=True)
    next_query = ""
    if page and page.next_cursor:
        params = request.GET.copy()
        params["cursor"] = page.next_cursor
        next_query = "?" + params.urlencode()
    context = {
        "config": config,
        "urls": config.urls(),
        "columns": columns,
        "headers": [{"label": c.label, "numeric": c.numeric} for c in columns],
        "rows": [
            {"id": r.pk, "cells": [c.cell(r) for c in columns], "deleted_at": r.deleted_at}
            for r in (page.items if page else [])
        ],
        "page": page,
        "error": error,
        "next_query": next_query,
    }
    return render(request, "web/list/trash.html", context)


def restore(request, config: ListConfig, pk: int):
    record = config.selector(user=request.user, deleted=True).filter(pk=pk).first()
    if record is None:
        raise RecordNotFound(config.singular.lower())
    config.restore(record=record, actor=request.user)
    messages.success(request, f"Restored {record}.")
    return HttpResponseRedirect(record_url(record))


def list_views(config: ListConfig) -> dict[str, Callable]:
    """The list, export, bulk, trash and restore views of one object, ready for urls.py."""

    @ui_view
    def list_view(request):
        return render_list(request, config)

    @ui_view
    def export_view(request):
        return export_csv(request, config)

    @ui_view
    @require_POST
    def bulk_view(request):
        return bulk_action(request, config)

    @ui_view
    def trash_view(request):
        return render_trash(request, config)

    @ui_view
    @require_POST
    def restore_view(request, pk: int):
        return restore(request, config, pk)

    return {
        "list": list_view,
        "export": export_view,
        "bulk": bulk_view,
        "trash": trash_view,
        "restore": restore_view,
    }

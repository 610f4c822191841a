"""Segment pages (htmx): list, builder with nested groups and a live count, members,
static-list management, direct-mail export, lifecycle rules. Thin over services/selectors."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts.selectors import contacts_visible_to
from rapport.api.pagination import capped_count
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import PermissionDenied, StaleVersion
from rapport.segments import builder, export, filters, lifecycle, selectors, services
from rapport.segments.forms import (
    LifecycleRulesForm,
    MembersAddForm,
    MembersImportForm,
    SegmentForm,
)
from rapport.segments.membership import segment_refresh
from rapport.segments.models import LifecycleStage, SegmentKind
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors

MEMBERS_SHOWN = 50


def _can_edit(segment, user) -> bool:
    try:
        services.require_segment_editable(segment, user)
    except PermissionDenied:
        return False
    return True


@ui_view
def segment_list(request):
    rows = selectors.segments_for(request.user)
    return render(
        request,
        "segments/list.html",
        {"segments": rows, "can_create": not request.user.is_read_only},
    )


def _builder_context(request, tree: dict, errors: dict | None = None) -> dict:
    return {
        "root": builder.rows_for(tree, errors),
        "field_groups": builder.field_groups(),
        "count_url": reverse("segments:segment_count"),
        "builder_url": reverse("segments:segment_builder"),
    }


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"filter": exc.messages}


def _edit(request, segment=None):
    if segment is not None and not _can_edit(segment, request.user):
        raise PermissionDenied("Only its creator or an administrator may change this segment")
    if segment is None and request.user.is_read_only:
        raise PermissionDenied("Read-only users cannot create segments")
    tree = segment.filter if segment else {"op": "and", "items": []}
    if segment is None and request.method == "GET":
        tree = builder.apply_action(tree, "add_cond:0")
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = SegmentForm(request.POST)
        tree = builder.tree_from_post(request.POST)
        action = request.POST.get("builder_action", "")
        if action:  # a structural button without JavaScript: the same page, changed
            tree = builder.apply_action(tree, action)
        elif form.is_valid():
            data = form.cleaned_data
            kind = segment.kind if segment else data["kind"]
            try:
                if segment is None:
                    saved = services.segment_create(
                        name=data["name"],
                        kind=kind,
                        filter=tree,
                        description=data["description"],
                        actor=request.user,
                    )
                else:
                    saved = services.segment_update(
                        segment=segment,
                        name=data["name"],
                        description=data["description"],
                        filter=tree if kind == SegmentKind.DYNAMIC else None,
                        actor=request.user,
                        expected_version=data.get("version") or None,
                    )
            except StaleVersion:
                form.add_error(None, "Someone changed this segment meanwhile: reload it first.")
            except ValidationError as exc:
                errors = _errors(exc)
                add_service_errors(
                    form, ValidationError({k: v for k, v in errors.items() if k in form.fields})
                )
            else:
                messages.success(request, f"Saved “{saved.name}” ({saved.member_count:,} members)")
                return HttpResponseRedirect(reverse("segments:segment_detail", args=[saved.pk]))
            status = 422
        else:
            status = 422
    else:
        initial = {"kind": SegmentKind.DYNAMIC}
        if segment:
            initial = {
                "name": segment.name,
                "description": segment.description,
                "kind": segment.kind,
                "version": segment.version,
            }
        form = SegmentForm(initial=initial)
    if segment is not None:
        form.fields["kind"].disabled = True
    context = {"segment": segment, "form": form, **_builder_context(request, tree, errors)}
    return render(request, "segments/edit.html", context, status=status)


@ui_view
def segment_new(request):
    return _edit(request)


@ui_view
def segment_edit(request, pk: int):
    return _edit(request, selectors.segment_get_for_user(pk=pk, user=request.user))


@ui_view
@require_POST
def segment_builder(request):
    """htmx: the builder re-rendered after an add / remove button or a field change."""
    tree = builder.tree_from_post(request.POST)
    action = request.POST.get("builder_action", "")
    if action:
        tree = builder.apply_action(tree, action)
    return render(request, "segments/_builder.html", _builder_context(request, tree))


@ui_view
@require_POST
def segment_count(request):
    """htmx: the live count of the filter being edited (contacts the user may see)."""
    tree = builder.tree_from_post(request.POST)
    try:
        tree = filters.validate(tree)
    except ValidationError as exc:
        errors = _errors(exc)
        return render(
            request,
            "segments/_count.html",
            {"error": "; ".join(m for ms in errors.values() for m in ms)},
        )
    count = capped_count(contacts_visible_to(request.user).filter(filters.compile_filter(tree)))
    return render(request, "segments/_count.html", {"count": count})


@ui_view
def segment_detail(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    members = selectors.segment_members_visible(segment=segment, user=request.user)
    shown = list(members.order_by("last_name", "first_name", "id")[:MEMBERS_SHOWN])
    can_edit = _can_edit(segment, request.user)
    context = {
        "segment": segment,
        "members": shown,
        "visible_count": capped_count(members),
        "can_edit": can_edit,
        "add_form": MembersAddForm(user=request.user) if can_edit and segment.is_static else None,
        "import_form": MembersImportForm() if can_edit and segment.is_static else None,
        "conditions": _describe(segment.filter),
        "contacts_url": reverse("accounts:contact_list") + f"?segment_id={segment.pk}",
    }
    return render(request, "segments/detail.html", context)


def _describe(tree: dict, depth: int = 0) -> list[tuple[int, str]]:
    """The filter as indented lines of words."""
    catalogue = filters.field_catalogue()
    lines: list[tuple[int, str]] = []
    joiner = "all of" if tree.get("op", "and") == "and" else "any of"
    if tree.get("items"):
        lines.append((depth, f"Match {joiner}:"))
    for item in tree.get("items", []):
        if "items" in item:
            lines.extend(_describe(item, depth + 1))
            continue
        spec = catalogue.get(item["field"])
        label = spec.label if spec else item["field"]
        value = "" if item["operator"] in filters.NO_VALUE else f" {item.get('value')}"
        if item["operator"] in ("within_days", "not_within_days"):
            value = f" {item.get('value')} days"
            words = "in the last" if item["operator"] == "within_days" else "not in the last"
        else:
            words = filters.OPERATORS[item["operator"]]
        lines.append((depth + 1, f"{label} {words}{value}"))
    return lines


@ui_view
@require_POST
def segment_delete(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    services.segment_delete(segment=segment, actor=request.user)
    messages.success(request, f"Deleted “{segment.name}”")
    return HttpResponseRedirect(reverse("segments:segment_list"))


@ui_view
@require_POST
def segment_refresh_now(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    if not _can_edit(segment, request.user):
        raise PermissionDenied("Only its creator or an administrator may refresh this segment")
    added, removed = segment_refresh(segment)
    messages.success(request, f"Refreshed: {added:,} added, {removed:,} removed")
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[segment.pk]))


@ui_view
@require_POST
def segment_members_add(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    form = MembersAddForm(request.POST, user=request.user)
    if form.is_valid():
        added = services.segment_members_add(
            segment=segment, contact_ids=form.cleaned_data["contacts"], actor=request.user
        )
        messages.success(request, f"{added:,} added to “{segment.name}”")
    else:
        messages.error(request, "Choose the contacts to add")
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[segment.pk]))


@ui_view
@require_POST
def segment_members_import(request, pk: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    form = MembersImportForm(request.POST, request.FILES)
    if not form.is_valid() or form.cleaned_data["file"].size > 5 * 1024 * 1024:
        messages.error(request, "Choose a text or CSV file of at most 5 MB")
    else:
        try:
            report = services.segment_members_import(
                segment=segment, content=form.cleaned_data["file"].read(), actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{report['added']:,} added from {report['lines']:,} lines "
                f"({report['unknown']:,} not found among the contacts you can see)",
            )
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[segment.pk]))


@ui_view
@require_POST
def segment_member_remove(request, pk: int, contact_id: int):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    services.segment_members_remove(segment=segment, contact_ids=[contact_id], actor=request.user)
    messages.success(request, "Removed from the list")
    return HttpResponseRedirect(reverse("segments:segment_detail", args=[segment.pk]))


@ui_view
def segment_export(request, pk: int, fmt: str):
    segment = selectors.segment_get_for_user(pk=pk, user=request.user)
    members = selectors.segment_members_visible(segment=segment, user=request.user)
    if fmt == "labels":
        response = HttpResponse(export.labels_pdf(members), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-labels.pdf"'
        return response
    return export.addresses_csv_response(members, f"segment-{segment.pk}-addresses.csv")


@ui_view
def lifecycle_rules(request):
    rules = lifecycle.rules_get()
    form = LifecycleRulesForm(request.POST or None, instance=rules)
    status = 200
    if request.method == "POST":
        require_settings_admin(request.user)
        status = 422
        if form.is_valid():
            try:
                lifecycle.lifecycle_rules_update(
                    actor=request.user,
                    fields={k: form.cleaned_data[k] for k in form.Meta.fields},
                    expected_version=int(request.POST.get("version") or rules.version),
                )
            except StaleVersion:
                form.add_error(None, "Someone changed the rules meanwhile: reload first.")
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, "Saved. Stages follow at the next order or the nightly pass."
                )
                return HttpResponseRedirect(reverse("segments:lifecycle_rules"))
        rules.refresh_from_db()
    return render(
        request,
        "segments/lifecycle.html",
        {
            "form": form,
            "rules": rules,
            "can_change": request.user.is_admin,
            "stages": LifecycleStage.choices,
        },
        status=status,
    )

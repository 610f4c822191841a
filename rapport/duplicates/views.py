"""Duplicates pages: the review queue, the side-by-side comparison with merge and dismiss,
and the merge history with undo. Thin, like the API (rapport/duplicates/api.py): the same
selectors decide what a user sees and the same services merge, dismiss and undo."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.api.pagination import keyset_page
from rapport.duplicates import selectors, services
from rapport.duplicates.comparison import default_survivor, field_rows, related_rows
from rapport.duplicates.create_warning import DETAIL_URLS
from rapport.duplicates.forms import (
    A,
    B,
    MergeForm,
    MergeHistoryFilterForm,
    QueueFilterForm,
    ScanForm,
    pick_name,
)
from rapport.duplicates.models import CandidateStatus, DuplicateObjectType, DuplicateRun
from rapport.duplicates.record_types import differing_fields
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.visibility import can_edit
from rapport.web.decorators import ui_view
from rapport.web.forms import error_messages
from rapport.web.fragments import is_htmx, render_fragment

PAGE_SIZE = 50
RECENT_RUNS = 5
TYPE_LABELS = dict(DuplicateObjectType.choices)
STALE_PAIR = (
    "One of the records changed since you opened this page. Review the values again, then merge."
)


def _record_url(object_type: str, pk: int) -> str:
    return reverse(DETAIL_URLS[object_type], args=[pk])


def _queue_url(object_type: str | None = None) -> str:
    url = reverse("duplicates:queue")
    return f"{url}?type={object_type}" if object_type else url


# ----- the queue ------------------------------------------------------------------------


@ui_view
def queue(request):
    """Pairs whose two records the user may see, most alike first."""
    form = QueueFilterForm(request.GET)
    filters = form.filters()
    qs = selectors.candidate_list(user=request.user, **filters)
    page = keyset_page(
        qs,
        sort="-score",
        allowed=selectors.CANDIDATE_SORTS,
        cursor=request.GET.get("cursor") or None,
        limit=PAGE_SIZE,
    )
    pairs = selectors.attach_records(page.items)
    rows = [
        {
            "pair": pair,
            "type_label": TYPE_LABELS.get(pair.object_type, pair.object_type),
            "a_url": _record_url(pair.object_type, pair.record_a_id),
            "b_url": _record_url(pair.object_type, pair.record_b_id),
        }
        for pair in pairs
    ]
    user = request.user
    context = {
        "form": form,
        "filters": filters,
        "rows": rows,
        "page": page,
        "statuses": [
            (CandidateStatus.OPEN, "To review"),
            (CandidateStatus.DISMISSED, "Not duplicates"),
        ],
        "can_scan": user.is_admin,
        "scan_form": ScanForm(initial={"type": filters["object_type"] or "all"}),
        "runs": list(DuplicateRun.objects.all()[:RECENT_RUNS]) if user.is_admin else [],
    }
    return render(request, "duplicates/queue.html", context)


@ui_view
@require_POST
def scan(request):
    """Start detection runs in the background (administrators), as POST /api/duplicates/scan."""
    from rapport.duplicates.tasks import find_duplicates_task

    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may start duplicate detection", "admin_only")
    form = ScanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose what to scan: all types, accounts, contacts or leads.")
        return HttpResponseRedirect(_queue_url())
    types = form.object_types()
    for object_type in types:
        transaction.on_commit(
            lambda t=object_type: find_duplicates_task.enqueue(object_type=t, full=None)
        )
    names = ", ".join(f"{TYPE_LABELS[t].lower()}s" for t in types)
    messages.success(
        request, f"Scan started for {names}. New pairs appear here when it has finished."
    )
    return HttpResponseRedirect(_queue_url())


# ----- one pair -------------------------------------------------------------------------


def _pair_context(request, candidate, form=None) -> dict:
    selectors.attach_records([candidate])
    a, b = candidate.record_a, candidate.record_b
    comparison = selectors.pair_compare(candidate.object_type, a, b)
    rows = field_rows(comparison, a, b, request.user)
    differing = [row for row in rows if row.differs]
    survivor = default_survivor(candidate.object_type, a, b)
    if form is None:
        form = MergeForm(
            initial={
                "survivor": survivor,
                "version_a": a.version,
                "version_b": b.version,
                **{pick_name(row.name): row.default for row in differing},
            },
            fields=[row.name for row in differing],
        )
    picks = {row.name: form[pick_name(row.name)].value() for row in differing}
    is_open = candidate.status == CandidateStatus.OPEN
    editable = is_open and can_edit(a, request.user) and can_edit(b, request.user)
    return {
        "pair": candidate,
        "type_label": TYPE_LABELS.get(candidate.object_type, candidate.object_type),
        "a": a,
        "b": b,
        "a_url": _record_url(candidate.object_type, a.pk),
        "b_url": _record_url(candidate.object_type, b.pk),
        "comparison": comparison,
        "differing": [(row, picks[row.name]) for row in differing],
        "same": [row for row in rows if not row.differs and (row.a or row.b)],
        "related": related_rows(comparison),
        "form": form,
        "survivor_value": form["survivor"].value(),
        "editable": editable,
        "can_reopen": candidate.status == CandidateStatus.DISMISSED
        and can_edit(a, request.user)
        and can_edit(b, request.user),
        "merge_log": selectors.merge_log_list(user=request.user)
        .filter(candidate_id=candidate.pk)
        .first()
        if candidate.status == CandidateStatus.MERGED
        else None,
    }


@ui_view
def pair_detail(request, pk: int):
    """The two records side by side, with the merge form."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    return render(request, "duplicates/compare.html", _pair_context(request, candidate))


def _merge_error(request, candidate, form, message: str, status: int):
    form.add_error(None, message)
    return render(
        request, "duplicates/compare.html", _pair_context(request, candidate, form), status=status
    )


@ui_view
@require_POST
def pair_merge(request, pk: int):
    """Merge the pair with the chosen values; back to the queue with an Undo."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    selectors.attach_records([candidate])
    a, b = candidate.record_a, candidate.record_b
    form = MergeForm(request.POST, fields=differing_fields(candidate.object_type, a, b))
    if not form.is_valid():
        return render(
            request,
            "duplicates/compare.html",
            _pair_context(request, candidate, form),
            status=422,
        )
    kwargs = form.merge_kwargs({A: candidate.record_a_id, B: candidate.record_b_id})
    object_type = candidate.object_type
    survivor = selectors.record_get_for_merge(
        object_type=object_type, pk=kwargs["survivor_id"], user=request.user
    )
    merged = selectors.record_get_for_merge(
        object_type=object_type, pk=kwargs["merged_id"], user=request.user
    )
    try:
        log = services.record_merge(
            object_type=object_type,
            survivor=survivor,
            merged=merged,
            field_choices=kwargs["field_choices"],
            actor=request.user,
            expected_version=kwargs["expected_version"],
            merged_version=kwargs["merged_version"],
            candidate=candidate,
        )
    except StaleVersion:
        return _merge_error(request, candidate, form, STALE_PAIR, 409)
    except Conflict as exc:
        return _merge_error(request, candidate, form, str(exc), 409)
    except ValidationError as exc:
        problems = [m for ms in error_messages(exc).values() for m in ms]
        return _merge_error(request, candidate, form, " ".join(problems), 422)
    undo = reverse("duplicates:merge_undo", args=[log.pk])
    messages.success(
        request,
        f"Merged {merged} into {survivor}.",
        extra_tags=f"undo:{undo}",
    )
    return HttpResponseRedirect(_queue_url(object_type))


@ui_view
@require_POST
def pair_dismiss(request, pk: int):
    """Not a duplicate: the pair leaves the queue (in place with htmx)."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    try:
        services.candidate_dismiss(candidate=candidate, actor=request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        reopen = reverse("duplicates:pair_reopen", args=[pk])
        messages.success(request, "Marked as not duplicates.", extra_tags=f"undo:{reopen}")
    if is_htmx(request):
        return render_fragment(request, "duplicates/_row_removed.html")
    return HttpResponseRedirect(_queue_url(candidate.object_type))


@ui_view
@require_POST
def pair_reopen(request, pk: int):
    """Put a dismissed pair back in the queue."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    try:
        services.candidate_reopen(candidate=candidate, actor=request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Back in the queue.")
    return HttpResponseRedirect(reverse("duplicates:pair_detail", args=[pk]))


# ----- merge history --------------------------------------------------------------------


@ui_view
def merge_history(request):
    """Merges whose survivor the user may see, newest first, with Undo."""
    form = MergeHistoryFilterForm(request.GET)
    qs = selectors.merge_log_list(user=request.user, object_type=form.object_type())
    page = keyset_page(
        qs.select_related("actor", "undone_by"),
        sort="-at",
        allowed=selectors.MERGE_SORTS,
        cursor=request.GET.get("cursor") or None,
        limit=PAGE_SIZE,
    )
    records = selectors.records_of(
        [(log.object_type, pk) for log in page.items for pk in (log.survivor_id, log.merged_id)]
    )
    rows = []
    for log in page.items:
        survivor = records.get((log.object_type, log.survivor_id))
        merged = records.get((log.object_type, log.merged_id))
        rows.append(
            {
                "log": log,
                "type_label": TYPE_LABELS.get(log.object_type, log.object_type),
                "survivor": survivor,
                "survivor_url": _record_url(log.object_type, log.survivor_id),
                "merged_label": str(merged) if merged else f"#{log.merged_id}",
                "merged_url": _record_url(log.object_type, log.merged_id)
                if merged is not None and merged.deleted_at is None
                else "",
                "moved": sum(len(ids) for ids in log.moved.values()),
                "kept_fields": (log.undo_report or {}).get("kept_fields", []),
            }
        )
    return render(request, "duplicates/merges.html", {"form": form, "rows": rows, "page": page})


@ui_view
@require_POST
def merge_undo(request, pk: int):
    """Undo a merge: the merged record comes back with every row the merge moved."""
    log = selectors.merge_log_get_for_user(pk=pk, user=request.user)
    try:
        log = services.merge_undo(log=log, actor=request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("duplicates:merge_history"))
    kept = log.undo_report.get("kept_fields") or []
    note = f" Kept the newer value of {', '.join(kept)}." if kept else ""
    messages.success(request, f"Merge undone: both records are back.{note}")
    if log.candidate_id:
        return HttpResponseRedirect(reverse("duplicates:pair_detail", args=[log.candidate_id]))
    return HttpResponseRedirect(reverse("duplicates:merge_history"))

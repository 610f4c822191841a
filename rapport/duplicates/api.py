"""REST endpoints of duplicates: the review queue, side-by-side comparison, merge and undo,
the create-time check and detection runs. Thin wrappers over selectors and services."""

from django.db import transaction
from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.api.pagination import keyset_page
from rapport.api.versioning import expected_version, set_etag
from rapport.duplicates import selectors, services
from rapport.duplicates.models import DuplicateRun
from rapport.duplicates.record_types import model_for
from rapport.duplicates.schemas import (
    CandidateDetailOut,
    CandidateListParams,
    CandidateMergeIn,
    CandidateOut,
    CandidatePage,
    CheckIn,
    CheckOut,
    CompareOut,
    CompareParams,
    MergeIn,
    MergeListParams,
    MergeLogOut,
    MergeLogPage,
    RunOut,
    ScanIn,
    ScanOut,
)
from rapport.records.api import ERRORS, page_response
from rapport.records.exceptions import PermissionDenied

router = Router(tags=["duplicates"])


@router.get("", response={200: CandidatePage, **ERRORS}, operation_id="duplicates_list")
def duplicates_list(request, params: Query[CandidateListParams]):
    """The review queue: pairs whose two records you may see, most alike first."""
    qs = selectors.candidate_list(
        user=request.user,
        object_type=params.object_type,
        status=params.status,
        min_score=params.min_score,
        record_id=params.record_id,
    )
    page = keyset_page(
        qs,
        sort=params.sort,
        allowed=selectors.CANDIDATE_SORTS,
        cursor=params.cursor,
        limit=params.limit,
    )
    selectors.attach_records(page.items)
    return page_response(page)


@router.get("/{int:pk}", response={200: CandidateDetailOut, **ERRORS}, operation_id="duplicate_get")
def duplicate_get(request, pk: int):
    """One pair side by side: both records' fields, which differ, and what points at each."""
    candidate = selectors.attach_records(
        [selectors.candidate_get_for_user(pk=pk, user=request.user)]
    )[0]
    candidate.comparison = selectors.pair_compare(
        candidate.object_type, candidate.record_a, candidate.record_b
    )
    return candidate


@router.post(
    "/{int:pk}/dismiss", response={200: CandidateOut, **ERRORS}, operation_id="duplicate_dismiss"
)
def duplicate_dismiss(request, pk: int):
    """Not duplicates: the pair leaves the queue and later runs leave it dismissed."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    services.candidate_dismiss(candidate=candidate, actor=request.user)
    return selectors.attach_records([candidate])[0]


@router.post(
    "/{int:pk}/reopen", response={200: CandidateOut, **ERRORS}, operation_id="duplicate_reopen"
)
def duplicate_reopen(request, pk: int):
    """Put a dismissed pair back in the queue."""
    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    services.candidate_reopen(candidate=candidate, actor=request.user)
    return selectors.attach_records([candidate])[0]


def _merge(request, response, *, object_type, survivor_id, merged_id, payload, candidate=None):
    survivor = selectors.record_get_for_merge(
        object_type=object_type, pk=survivor_id, user=request.user
    )
    merged = selectors.record_get_for_merge(
        object_type=object_type, pk=merged_id, user=request.user
    )
    log = services.record_merge(
        object_type=object_type,
        survivor=survivor,
        merged=merged,
        field_choices=dict(payload.fields),
        actor=request.user,
        expected_version=expected_version(request),
        merged_version=payload.merged_version,
        candidate=candidate,
    )
    version = (
        model_for(object_type).all_objects.filter(pk=survivor_id).values_list("version", flat=True)
    )
    set_etag(response, next(iter(version)))
    return Status(201, log)


@router.post(
    "/{int:pk}/merge",
    response={201: MergeLogOut, **ERRORS},
    operation_id="duplicate_merge",
    summary="Merge a pair: the other record merges into survivor_id",
)
def duplicate_merge(request, pk: int, payload: CandidateMergeIn, response: HttpResponse):
    """`If-Match` carries the survivor's version (412 when stale)."""
    from django.core.exceptions import ValidationError

    candidate = selectors.candidate_get_for_user(pk=pk, user=request.user)
    pair = (candidate.record_a_id, candidate.record_b_id)
    if payload.survivor_id not in pair:
        raise ValidationError(
            {"survivor_id": [ValidationError("Not a record of this pair", code="not_in_pair")]}
        )
    merged_id = pair[1] if payload.survivor_id == pair[0] else pair[0]
    return _merge(
        request,
        response,
        object_type=candidate.object_type,
        survivor_id=payload.survivor_id,
        merged_id=merged_id,
        payload=payload,
        candidate=candidate,
    )


@router.post(
    "/merge",
    response={201: MergeLogOut, **ERRORS},
    operation_id="duplicates_merge",
    summary="Merge any two records of a type",
)
def duplicates_merge(request, payload: MergeIn, response: HttpResponse):
    """`If-Match` carries the survivor's version (412 when stale)."""
    return _merge(
        request,
        response,
        object_type=payload.object_type,
        survivor_id=payload.survivor_id,
        merged_id=payload.merged_id,
        payload=payload,
    )


@router.get("/compare", response={200: CompareOut, **ERRORS}, operation_id="duplicates_compare")
def duplicates_compare(request, params: Query[CompareParams]):
    """Any two visible records of a type side by side (before a merge without a pair)."""
    a = selectors.record_get_for_merge(
        object_type=params.object_type, pk=params.a, user=request.user
    )
    b = selectors.record_get_for_merge(
        object_type=params.object_type, pk=params.b, user=request.user
    )
    return selectors.pair_compare(params.object_type, a, b)


@router.post("/check", response={200: CheckOut, **ERRORS}, operation_id="duplicates_check")
def duplicates_check(request, payload: CheckIn):
    """Visible records that look like the one about to be saved: call before creating."""
    data = payload.dict()
    object_type = data.pop("object_type")
    options = {k: data.pop(k) for k in ("exclude_id", "min_score", "limit")}
    matches = selectors.duplicates_check(
        user=request.user, object_type=object_type, fields=data, **options
    )
    return {"matches": matches}


@router.get("/merges", response={200: MergeLogPage, **ERRORS}, operation_id="merges_list")
def merges_list(request, params: Query[MergeListParams]):
    """Merges whose survivor you may see, newest first."""
    qs = selectors.merge_log_list(
        user=request.user, object_type=params.object_type, record_id=params.record_id
    )
    page = keyset_page(
        qs,
        sort=params.sort,
        allowed=selectors.MERGE_SORTS,
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


@router.get("/merges/{int:pk}", response={200: MergeLogOut, **ERRORS}, operation_id="merge_get")
def merge_get(request, pk: int):
    return selectors.merge_log_get_for_user(pk=pk, user=request.user)


@router.post(
    "/merges/{int:pk}/undo", response={200: MergeLogOut, **ERRORS}, operation_id="merge_undo"
)
def merge_undo(request, pk: int, response: HttpResponse):
    """Undo a merge; `If-Match` may carry the survivor's version. Fields changed on the
    survivor since the merge keep their newer value (undo_report.kept_fields)."""
    log = selectors.merge_log_get_for_user(pk=pk, user=request.user)
    log = services.merge_undo(
        log=log, actor=request.user, expected_version=expected_version(request)
    )
    version = (
        model_for(log.object_type)
        .all_objects.filter(pk=log.survivor_id)
        .values_list("version", flat=True)
    )
    set_etag(response, next(iter(version)))
    return log


@router.post("/scan", response={202: ScanOut, **ERRORS}, operation_id="duplicates_scan")
def duplicates_scan(request, payload: ScanIn):
    """Start detection runs in the background (administrators)."""
    from rapport.duplicates.tasks import find_duplicates_task

    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may start duplicate detection", "admin_only")
    types = (
        ["account", "contact", "lead"] if payload.object_type == "all" else [payload.object_type]
    )
    for object_type in types:
        transaction.on_commit(
            lambda t=object_type: find_duplicates_task.enqueue(object_type=t, full=payload.full)
        )
    return Status(202, {"enqueued": types})


@router.get("/runs", response={200: list[RunOut], **ERRORS}, operation_id="duplicate_runs_list")
def duplicate_runs_list(request, object_type: str | None = Query(None, max_length=20)):
    """The last 50 detection runs (administrators)."""
    if not request.user.is_admin:
        raise PermissionDenied("Only administrators may see detection runs", "admin_only")
    qs = DuplicateRun.objects.all()
    if object_type:
        qs = qs.filter(object_type=object_type)
    return list(qs[:50])

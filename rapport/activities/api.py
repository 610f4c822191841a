"""REST endpoints for activities and interactions: thin wrappers over selectors and services.

An activity is visible with any record it links and to its owner; changing it needs owning
it or being allowed to change a linked record. DELETE is a hard delete.
"""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.activities import selectors, services
from rapport.activities.schemas import (
    ActivityIn,
    ActivityListParams,
    ActivityOut,
    ActivityPage,
    ActivityPatchIn,
)
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.records.api import ERRORS, active_user, page_response
from rapport.records.exceptions import RecordNotFound

router = Router(tags=["activities"])

LINK_FIELDS = ("account_id", "contact_id", "lead_id", "opportunity_id")
ATTENDEE_FIELDS = ("attendee_contact_ids", "attendee_user_ids")


def _read(request, pk: int, response: HttpResponse):
    activity = selectors.activity_get_for_user(pk=pk, user=request.user)
    set_etag(response, activity.version)
    return activity


@router.get("", response={200: ActivityPage, **ERRORS}, operation_id="activities_list")
def activities_list(request, filters: Query[ActivityListParams]):
    # Named `filters` (not `params`): errors.py strips that holder name from 422 fields.
    data = filters.dict()
    cursor, limit, sort = data.pop("cursor"), data.pop("limit"), data.pop("sort")
    qs = selectors.activity_list(user=request.user, **data)
    own = selectors.activity_list(user=request.user, **{**data, "mine": True})
    page = keyset_page(
        qs,
        sort=sort,
        allowed=selectors.ACTIVITY_SORTS,
        cursor=cursor,
        limit=limit,
        count_within=own,
        prefix_first=selectors.activity_page_sources(user=request.user, **data),
    )
    return page_response(page)


@router.post(
    "",
    response={200: ActivityOut, 201: ActivityOut, **ERRORS},
    operation_id="activity_log",
    summary="Log an activity or an interaction (200 with the stored one for a known external_id)",
)
def activity_log(request, payload: ActivityIn, response: HttpResponse):
    data = payload.dict()
    kind, external_id = data.pop("kind"), data.pop("external_id")
    source = data.pop("source")
    links = {field: data.pop(field) for field in LINK_FIELDS}
    owner = active_user(data.pop("owner_id"))
    attendees = {field: data.pop(field) for field in ATTENDEE_FIELDS}
    # Only what the client sent: unsent fields take the kind's defaults.
    fields = {k: v for k, v in data.items() if k in payload.model_fields_set}
    activity, created = services.activity_log(
        actor=request.user,
        kind=kind,
        fields=fields,
        links=links,
        owner=owner,
        external_id=external_id,
        source=source,
        **attendees,
    )
    activity = _read(request, activity.pk, response)
    return Status(201 if created else 200, activity)


@router.get("/{int:pk}", response={200: ActivityOut, **ERRORS}, operation_id="activity_get")
def activity_get(request, pk: int, response: HttpResponse):
    return _read(request, pk, response)


@router.patch(
    "/{int:pk}",
    response={200: ActivityOut, **ERRORS},
    operation_id="activity_update",
    summary="Change an activity (If-Match honoured)",
)
def activity_update(request, pk: int, payload: PatchDict[ActivityPatchIn], response: HttpResponse):
    activity = selectors.activity_get_for_user(pk=pk, user=request.user)
    data = dict(payload)
    owner = None
    if "owner_id" in data:
        owner_id = data.pop("owner_id")
        if owner_id is None:
            raise ValidationError(
                {"owner_id": [ValidationError("An activity needs an owner", code="null")]}
            )
        owner = active_user(owner_id)
    attendees = {field: data.pop(field) or [] for field in ATTENDEE_FIELDS if field in data}
    services.activity_update(
        activity=activity,
        actor=request.user,
        links={field: data.pop(field) for field in LINK_FIELDS if field in data},
        owner=owner,
        expected_version=expected_version(request),
        fields=data,
        **attendees,
    )
    try:
        return _read(request, pk, response)
    except RecordNotFound:
        # The actor gave their own activity away and no longer sees it: answer with the
        # written state rather than a 404 for a change that happened.
        set_etag(response, activity.version)
        return activity


@router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="activity_delete")
def activity_delete(request, pk: int):
    activity = selectors.activity_get_for_user(pk=pk, user=request.user)
    services.activity_delete(
        activity=activity, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)


@router.post(
    "/{int:pk}/complete",
    response={200: ActivityOut, **ERRORS},
    operation_id="activity_complete",
    summary="Mark a task done",
)
def activity_complete(request, pk: int, response: HttpResponse):
    activity = selectors.activity_get_for_user(pk=pk, user=request.user)
    services.activity_complete(
        activity=activity, actor=request.user, expected_version=expected_version(request)
    )
    return _read(request, pk, response)


@router.post(
    "/{int:pk}/reopen",
    response={200: ActivityOut, **ERRORS},
    operation_id="activity_reopen",
    summary="Mark a done task open again",
)
def activity_reopen(request, pk: int, response: HttpResponse):
    activity = selectors.activity_get_for_user(pk=pk, user=request.user)
    services.activity_reopen(
        activity=activity, actor=request.user, expected_version=expected_version(request)
    )
    return _read(request, pk, response)

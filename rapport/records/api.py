"""API pieces shared by every owned record: list parameters, the record actions
(restore, transfer, shares, timeline) and the admin endpoints for custom fields,
organisation-wide defaults and tags."""

import datetime
import hashlib
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import orjson
from django.core.exceptions import EmptyResultSet
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator, BeforeValidator

from rapport.api.pagination import keyset_page
from rapport.api.versioning import expected_version, set_etag
from rapport.identity.models import Team, User
from rapport.identity.services import require_settings_admin
from rapport.records.exceptions import RecordNotFound
from rapport.records.models import (
    Access,
    CustomFieldDefinition,
    FieldType,
    ObjectType,
    OrgDefault,
)
from rapport.records.selectors import record_get_for_user, shares_of, tags_visible_to
from rapport.records.services import (
    MAX_TAGS_PER_RECORD,
    record_restore,
    record_share,
    record_transfer_owner,
    record_unshare,
)
from rapport.records.services import custom_field_delete as custom_field_delete_service
from rapport.records.services import org_default_set as org_default_set_service
from rapport.timeline.selectors import timeline_of

# Ids beyond SQLite's / PostgreSQL's bigint are refused by the schema, not the driver.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _web_address(value: str) -> str:
    # What the services derive a domain from must parse ("http://[x" is no address).
    if value:
        try:
            parts = urlsplit(value if "//" in value else f"//{value}")
            parts.hostname, parts.port  # noqa: B018 - both raise ValueError when malformed
        except ValueError:
            raise ValueError("not a valid web address") from None
    return value


Website = Annotated[str, Field("", max_length=300), AfterValidator(_web_address)]


def _date_first(value: Any) -> Any:
    # "2025-03-01" is a day (a bound that includes it whole), not midnight.
    if isinstance(value, str) and DATE_ONLY.match(value):
        return datetime.date.fromisoformat(value)
    return value


DayOrTime = Annotated[
    datetime.datetime | datetime.date,
    BeforeValidator(_date_first),
    Field(description="a date (YYYY-MM-DD, the whole day) or a date-time"),
]


class ErrorOut(Schema):
    detail: str
    code: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 412: ErrorOut, 422: ErrorOut}


class ListParams(Schema):
    """Filters every owned-record list accepts."""

    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)
    sort: str = Field("-created_at", description="a sortable field, prefix - to reverse")
    q: str | None = Field(None, max_length=200, description="free text")
    owner_id: int | None = None
    team_id: int | None = None
    tag: list[str] = Field(default_factory=list, description="records having every given tag")
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None
    updated_from: datetime.date | None = None
    updated_to: datetime.date | None = None
    cf: list[str] = Field(
        default_factory=list,
        description="custom field filters: key=value, key__gte=10, key__contains=text",
    )
    deleted: bool = Field(False, description="list the trash (soft-deleted records) instead")

    def record_filters(self) -> dict[str, Any]:
        return {
            "owner_id": self.owner_id,
            "team_id": self.team_id,
            "tags": self.tag,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "updated_from": self.updated_from,
            "updated_to": self.updated_to,
            "custom": self.cf,
        }


class OwnedOut(Schema):
    """Fields every owned record returns."""

    id: int
    owner_id: int
    team_id: int | None
    tags: list[str]
    custom: dict[str, Any]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    deleted_at: datetime.datetime | None

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        # Uses the prefetch cache when the selector prefetched tags (no N+1).
        return sorted(t.name for t in prefetched(obj, "tags"))


def prefetched(obj, name: str):
    """The rows of the relation `name` of `obj`: the prefetch cache read directly when the
    selector prefetched it (building a related manager per row and per relation cost more
    than serialising the row), else a query."""
    cache = getattr(obj, "_prefetched_objects_cache", None)
    if cache is not None and name in cache:
        return cache[name]
    return getattr(obj, name).all()


class OwnedIn(Schema):
    owner_id: int | None = None
    tags: list[str] | None = Field(None, max_length=MAX_TAGS_PER_RECORD)
    custom: dict[str, Any] | None = None


def created_answer(get, record, user):
    """A created record as its endpoint reads it back; when the creator handed it to a
    teammate whose records they cannot see, the state they just wrote (201, not a 404)."""
    try:
        return get(pk=record.pk, user=user, scope="all")
    except RecordNotFound:
        return record


def page_response(page) -> dict:
    return {"items": page.items, "next_cursor": page.next_cursor, "count": page.count}


def list_page(qs, params: ListParams, sortable: set[str], reader: User | None = None):
    return keyset_page(
        qs,
        sort=params.sort,
        allowed=sortable,
        cursor=params.cursor,
        limit=params.limit,
        count_key=count_key(params, qs, reader=reader),
    )


def list_response(
    request, qs, params: ListParams, sortable: set[str], schema, related: dict | None = None
):
    """A list endpoint's page rendered straight to JSON (`rapport.api.fast`): the same
    bytes ninja renders for `{"items": [schema…], "next_cursor", "count"}`, without its
    per-field getters. `related`: the keyword arguments of `fast.related_rows` (tags,
    emails, phones read for the page in one statement of tuples, instead of the
    queryset's prefetches)."""
    from rapport.api import fast

    if related is not None:
        qs = qs.prefetch_related(None)
    page = list_page(qs, params, sortable, reader=request.user)
    rows = None
    if related is not None:
        rows = fast.related_rows(qs.model, [r.pk for r in page.items], **related)
    items = fast.dump_many(schema, page.items, request=request, related=rows)
    return fast.json_response(
        request, {"items": items, "next_cursor": page.next_cursor, "count": page.count}
    )


def record_response(request, record, schema, response: HttpResponse, related: dict | None = None):
    """One record rendered straight to JSON (`rapport.api.fast`), with its version as the
    ETag: the bytes ninja renders for `schema`. `related` as for `list_response` (the
    record read without its prefetches: `without_prefetches`)."""
    from rapport.api import fast

    overrides = None
    if related is not None:
        rows = fast.related_rows(type(record), [record.pk], **related)
        overrides = {name: by_pk.get(record.pk, []) for name, by_pk in rows.items()}
    set_etag(response, record.version)
    data = fast.dump(schema, record, request=request, overrides=overrides)
    return fast.json_response(request, data, response)


def without_prefetches(base_qs):
    """`base_qs(scope)` without its prefetches (what `related_rows` reads instead)."""

    def base(scope: str = "active"):
        return base_qs(scope).prefetch_related(None)

    return base


def count_key(params: Schema, qs=None, *, reader: User | None = None) -> str:
    """A short digest of a list's filters (every parameter but the cursor and the limit)
    and of its reader: the count carried in a cursor is reused only by pages of the same
    filters for the same reader, so a cursor handed to another user never shows them the
    first user's count. Without a reader, the query's SQL (which carries the reader's
    visibility terms) stands for them — compiling it costs a statement's compile on every
    page, which the reader's id does not."""
    values = params.model_dump(mode="json", exclude={"cursor", "limit"})
    raw = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    if reader is not None:
        model = qs.model._meta.label if qs is not None else ""
        raw += f"|{model}|{reader.pk}".encode()
    elif qs is not None:
        try:
            sql, sql_params = qs.query.sql_with_params()
        except EmptyResultSet:  # e.g. `pk__in=[]`: nothing to count, nothing to leak
            sql, sql_params = "empty", ()
        raw += sql.encode() + repr(sql_params).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def split_owned(data: dict) -> tuple[dict, dict]:
    """Split an owned-record payload into model fields and the service's extras
    (tags, custom values, owner as an active user)."""
    extras = {k: data.pop(k) for k in ("tags", "custom") if k in data}
    if "owner_id" in data:
        extras["owner"] = active_user(data.pop("owner_id"))
    return data, extras


def linked_record(getter, user, pk: int | None, field: str, what: str):
    """The record a payload links to by id: it must be visible to the user, and an invisible
    one is reported as missing on that field (422), never as a 404 of the whole request."""
    from django.core.exceptions import ValidationError

    if pk is None:
        return None
    try:
        return getter(pk=pk, user=user)
    except RecordNotFound:
        raise ValidationError({field: [ValidationError(f"No such {what}", code=f"invalid_{what}")]})


def active_user(user_id: int | None, field: str = "owner_id") -> User | None:
    from django.core.exceptions import ValidationError

    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).select_related("team").first()
    if user is None:
        raise ValidationError(
            {field: [ValidationError("No active user with this id", code="invalid_user")]}
        )
    return user


class ShareIn(Schema):
    user_id: int | None = None
    team_id: int | None = None
    access: Literal["read", "edit"] = "read"


class ShareOut(Schema):
    id: int
    user_id: int | None
    team_id: int | None
    access: str
    created_at: datetime.datetime


class TransferIn(Schema):
    owner_id: int


class TimelineEventOut(Schema):
    id: int
    kind: str
    summary: str
    actor_id: int | None
    actor_name: str | None
    occurred_at: datetime.datetime
    payload: dict[str, Any]
    account_id: int | None
    contact_id: int | None
    lead_id: int | None
    opportunity_id: int | None
    activity_id: int | None
    order_id: int | None

    @staticmethod
    def resolve_actor_name(obj) -> str | None:
        return (obj.actor.get_full_name() or obj.actor.username) if obj.actor else None


class TimelinePage(Schema):
    items: list[TimelineEventOut]
    next_cursor: str | None
    count: int | str


def add_record_actions(router: Router, *, model, out_schema, base_qs) -> None:
    """Register restore, transfer, shares and timeline on a record's router.

    `base_qs(scope)` is the model's queryset with the joins its output needs (scope
    "active" or "all"); visibility is applied by `record_get_for_user`.
    """
    name = model.OBJECT_TYPE

    def get(request, pk: int, include_deleted: bool = False):
        return record_get_for_user(
            model=model,
            pk=pk,
            user=request.user,
            qs=base_qs("all" if include_deleted else "active"),
        )

    @router.post(
        "/{int:pk}/restore",
        response={200: out_schema, **ERRORS},
        operation_id=f"{name}_restore",
        summary=f"Restore a deleted {name}",
    )
    def restore(request, pk: int, response: HttpResponse):
        record = get(request, pk, include_deleted=True)
        record_restore(record=record, actor=request.user)
        record = get(request, pk)
        set_etag(response, record.version)
        return record

    @router.post(
        "/{int:pk}/transfer",
        response={200: out_schema, **ERRORS},
        operation_id=f"{name}_transfer",
        summary=f"Transfer a {name} to another owner",
    )
    def transfer(request, pk: int, payload: TransferIn, response: HttpResponse):
        record = get(request, pk)
        new_owner = active_user(payload.owner_id)
        record_transfer_owner(
            record=record,
            new_owner=new_owner,
            actor=request.user,
            expected_version=expected_version(request),
        )
        # Not re-read through visibility: the actor may just have given the record away.
        set_etag(response, record.version)
        return record

    @router.get(
        "/{int:pk}/shares", response={200: list[ShareOut], **ERRORS}, operation_id=f"{name}_shares"
    )
    def shares(request, pk: int):
        return list(shares_of(get(request, pk)))

    @router.post(
        "/{int:pk}/shares",
        response={201: ShareOut, **ERRORS},
        operation_id=f"{name}_share",
        summary=f"Share a {name} with a user or a team",
    )
    def share(request, pk: int, payload: ShareIn):
        from django.core.exceptions import ValidationError

        record = get(request, pk)
        user = active_user(payload.user_id, "user_id") if payload.user_id is not None else None
        team = None
        if payload.team_id is not None:
            team = Team.objects.filter(pk=payload.team_id).first()
            if team is None:
                raise ValidationError(
                    {"team_id": [ValidationError("No team with this id", code="invalid_team")]}
                )
        return Status(
            201,
            record_share(
                record=record, actor=request.user, user=user, team=team, access=payload.access
            ),
        )

    @router.delete(
        "/{int:pk}/shares/{int:share_id}",
        response={204: None, **ERRORS},
        operation_id=f"{name}_unshare",
    )
    def unshare(request, pk: int, share_id: int):
        record_unshare(record=get(request, pk), share_id=share_id, actor=request.user)
        return Status(204, None)

    @router.get(
        "/{int:pk}/timeline",
        response={200: TimelinePage, **ERRORS},
        operation_id=f"{name}_timeline",
        summary=f"The {name}'s timeline, newest first",
    )
    def timeline(request, pk: int, cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
        record = get(request, pk)
        page = keyset_page(
            timeline_of(record, user=request.user),
            sort="-occurred_at",
            allowed={"occurred_at"},
            cursor=cursor,
            limit=limit,
        )
        return page_response(page)


# ----- admin: custom fields, organisation-wide defaults, tags -------------------------

router = Router(tags=["settings"])


class CustomFieldIn(Schema):
    object_type: ObjectType
    key: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,59}$")
    label: str = Field(..., min_length=1, max_length=120)
    field_type: FieldType
    choices: list[str] = Field(default_factory=list)
    required: bool = False
    position: int = Field(0, ge=0, le=10000)


class CustomFieldOut(Schema):
    id: int
    object_type: str
    key: str
    label: str
    field_type: str
    choices: list[str]
    required: bool
    position: int


class OrgDefaultIn(Schema):
    access: Access


class OrgDefaultOut(Schema):
    object_type: str
    access: str


@router.get("/custom-fields", response=list[CustomFieldOut], operation_id="custom_fields_list")
def custom_fields_list(request, object_type: ObjectType | None = None):
    qs = CustomFieldDefinition.objects.all()
    return list(qs.filter(object_type=object_type) if object_type else qs)


@router.post(
    "/custom-fields", response={201: CustomFieldOut, **ERRORS}, operation_id="custom_field_create"
)
def custom_field_create(request, payload: CustomFieldIn):
    from rapport.records.custom_fields import custom_field_define

    require_settings_admin(request.user)
    return Status(201, custom_field_define(**payload.dict()))


@router.delete(
    "/custom-fields/{int:pk}", response={204: None, **ERRORS}, operation_id="custom_field_delete"
)
def custom_field_delete(request, pk: int):
    require_settings_admin(request.user)
    definition = CustomFieldDefinition.objects.filter(pk=pk).first()
    if definition is None:
        raise RecordNotFound("custom field")
    custom_field_delete_service(definition=definition, actor=request.user)
    return Status(204, None)


@router.get("/org-defaults", response=list[OrgDefaultOut], operation_id="org_defaults_list")
def org_defaults_list(request):
    stored = dict(OrgDefault.objects.values_list("object_type", "access"))
    return [{"object_type": t, "access": stored.get(t, Access.PRIVATE)} for t in ObjectType.values]


@router.put(
    "/org-defaults/{object_type}",
    response={200: OrgDefaultOut, **ERRORS},
    operation_id="org_default_set",
)
def org_default_set(request, object_type: ObjectType, payload: OrgDefaultIn):
    row = org_default_set_service(
        object_type=object_type, access=payload.access, actor=request.user
    )
    return {"object_type": row.object_type, "access": row.access}


class TagOut(Schema):
    id: int
    name: str


@router.get("/tags", response=list[TagOut], operation_id="tags_list")
def tags_list(request, q: str | None = Query(None, max_length=60)):
    qs = tags_visible_to(request.user)
    if q:
        qs = qs.filter(name__icontains=q)
    return list(qs[:200])

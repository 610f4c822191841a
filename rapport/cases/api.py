"""REST endpoints of the service desk: thin wrappers over selectors and services."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import File, Form, Query, Router, Status, UploadedFile

from rapport.accounts.selectors import account_get_for_user, contact_get_for_user
from rapport.api import fast
from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.cases import selectors, services
from rapport.cases.models import (
    AgentStatus,
    CaseCategory,
    CaseEntry,
    Macro,
    Queue,
    due_sort,
)
from rapport.cases.schemas import (
    CaseAgentStatusIn,
    CaseAgentStatusOut,
    CaseCategoryIn,
    CaseCategoryOut,
    CaseEntryIn,
    CaseEntryOut,
    CaseEntryPage,
    CaseEntryParams,
    CaseIn,
    CaseListParams,
    CaseMacroApplyIn,
    CaseMacroIn,
    CaseMacroOut,
    CaseMergeIn,
    CaseOut,
    CasePage,
    CasePatchIn,
    CaseQueueIn,
    CaseQueueOut,
    CaseSplitIn,
    CaseTierIn,
    CaseTierOut,
)
from rapport.records.api import ERRORS, active_user, linked_record, page_response
from rapport.records.exceptions import RecordNotFound

router = Router(tags=["cases"])

# A case without an SLA target sorts after every one that has one.


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code="invalid")]})


def _row(model, pk, field: str, **filters):
    if pk is None:
        return None
    row = model.objects.filter(pk=pk, **filters).first()
    if row is None:
        raise _invalid(field, f"No such {model._meta.verbose_name}")
    return row


def _fields(request, data: dict) -> dict:
    """Payload ids → the rows the services take, each checked (visible customer records)."""
    user = request.user
    out = {}
    for key, value in data.items():
        if key == "account_id":
            out["account"] = linked_record(account_get_for_user, user, value, key, "account")
        elif key == "contact_id":
            out["contact"] = linked_record(contact_get_for_user, user, value, key, "contact")
        elif key in ("category_id", "subcategory_id"):
            out[key.removesuffix("_id")] = _row(CaseCategory, value, key)
        elif key == "asset_id":
            from rapport.assets.models import Asset

            out["asset"] = _row(Asset, value, key)
        elif key == "queue_id":
            out["queue"] = _row(Queue, value, key, is_active=True)
        elif key == "owner_id":
            out["owner"] = active_user(value)
        else:
            out[key] = value
    return out


def _get(request, pk: int):
    return selectors.case_get_for_user(pk=pk, user=request.user)


@router.get("", response={200: CasePage, **ERRORS}, operation_id="cases_list")
def cases_list(request, filters: Query[CaseListParams]):
    """Visible cases; `view` is a workspace tab (mine, unassigned in my queues, breaching,
    open); sort by `due_at` (the SLA's next target; none last) by default."""
    qs = selectors.case_list(
        user=request.user,
        view=filters.view,
        q=filters.q,
        status=filters.status,
        priority=filters.priority,
        queue_id=filters.queue_id,
        owner_id=filters.owner_id,
        category_id=filters.category_id,
        account_id=filters.account_id,
        contact_id=filters.contact_id,
        mine=filters.mine,
        unassigned=filters.unassigned,
        breaching_soon=filters.breaching_soon,
    )
    # CaseOut reads only the queue's and the owner's names of the joined rows.
    qs = qs.select_related(None).select_related("queue", "owner").annotate(due_sort=due_sort())
    sort = filters.sort
    key = sort.replace("due_at", "due_sort")
    allowed = {"due_sort", "created_at", "updated_at", "number"}
    page = keyset_page(qs, sort=key, allowed=allowed, cursor=filters.cursor, limit=filters.limit)
    # Rendered straight to JSON (rapport.api.fast): the bytes ninja renders for CasePage,
    # without its per-field getters (~40% of the endpoint's CPU for 50 cases;
    # test_cases_api_output.py compares them).
    items = fast.dump_many(CaseOut, page.items, request=request)
    return fast.json_response(
        request, {"items": items, "next_cursor": page.next_cursor, "count": page.count}
    )


@router.post("", response={200: CaseOut, 201: CaseOut, **ERRORS}, operation_id="case_create")
def case_create(request, payload: CaseIn, response: HttpResponse):
    """Create a case (agents, web forms). With `external_id` (and `source`) it is
    idempotent for phone/IVR/chat systems: the first call creates (201), a later call with
    the same key updates the same case (200) and adds `body` as a customer message."""
    data = payload.dict(exclude_unset=True)  # an update by external id changes only these
    data.setdefault("channel", payload.channel)
    tags, body = data.pop("tags", []), data.pop("body", "")
    external_id, source = data.pop("external_id", None), data.pop("source", "")
    fields = _fields(request, data)
    owner = fields.pop("owner", None)
    if external_id:
        case, created = services.case_intake(
            actor=request.user, source=source, external_id=external_id, fields=fields, body=body
        )
    else:
        case = services.case_create(actor=request.user, fields=fields, tags=tags, body=body or None)
        created = True
    if owner is not None and created:
        services.case_assign(case=case, actor=request.user, owner=owner)
    case = selectors.case_base().get(pk=case.pk)
    set_etag(response, case.version)
    return Status(201 if created else 200, case)


@router.get("/{int:pk}", response={200: CaseOut, **ERRORS}, operation_id="case_get")
def case_get(request, pk: int, response: HttpResponse):
    case = _get(request, pk)
    set_etag(response, case.version)
    return case


@router.patch("/{int:pk}", response={200: CaseOut, **ERRORS}, operation_id="case_update")
def case_update(request, pk: int, payload: PatchDict[CasePatchIn], response: HttpResponse):
    """Partial update with `If-Match`; status moves follow the workflow (422 names
    `status`), owner and queue reassign."""
    case = _get(request, pk)
    services.case_update(
        case=case,
        actor=request.user,
        fields=_fields(request, dict(payload)),
        expected_version=expected_version(request),
    )
    case = _get(request, pk)
    set_etag(response, case.version)
    return case


@router.get(
    "/{int:pk}/entries", response={200: CaseEntryPage, **ERRORS}, operation_id="case_entries"
)
def case_entries(request, pk: int, params: Query[CaseEntryParams]):
    """The conversation, newest first, one page at a time (`next_cursor` gives the older
    ones): like the case page, a long conversation costs one page, not its length."""
    page = keyset_page(
        selectors.case_entries(case=_get(request, pk)),
        sort="-created_at",
        allowed={"created_at"},
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


@router.post(
    "/{int:pk}/entries", response={201: CaseEntryOut, **ERRORS}, operation_id="case_entry_add"
)
def case_entry_add(request, pk: int, payload: CaseEntryIn):
    """A public reply (sent by email through the outbox) or an internal note."""
    case = _get(request, pk)
    if payload.kind == "reply":
        entry = services.case_reply(
            case=case, actor=request.user, body=payload.body, status=payload.status
        )
    else:
        entry = services.case_note(case=case, actor=request.user, body=payload.body)
        if payload.status:
            services.case_set_status(case=case, status=payload.status, actor=request.user)
    return Status(201, _entry(entry))


def _entry(entry: CaseEntry) -> CaseEntry:
    return selectors.case_entries(case=entry.case).get(pk=entry.pk)


@router.post(
    "/{int:pk}/entries/with-files",
    response={201: CaseEntryOut, **ERRORS},
    operation_id="case_entry_add_with_files",
    summary="A reply or note with attachments (multipart: kind, body, status, file repeatable)",
)
def case_entry_add_with_files(
    request,
    pk: int,
    kind: str = Form(...),  # noqa: B008
    body: str = Form(...),  # noqa: B008
    status: str = Form(""),  # noqa: B008
    file: list[UploadedFile] = File(...),  # noqa: B008
):
    """The reply's files are sent as mail attachments through the outbox; a note's stay
    on the case. Downloads: GET /api/cases/{id}/attachments/{file_id}."""
    case = _get(request, pk)
    if kind not in ("reply", "note"):
        raise _invalid("kind", "must be reply or note")
    if kind == "reply":
        entry = services.case_reply(
            case=case, actor=request.user, body=body, status=status or None, uploads=file
        )
    else:
        entry = services.case_note(case=case, actor=request.user, body=body, uploads=file)
        if status:
            services.case_set_status(case=case, status=status, actor=request.user)
    return Status(201, _entry(entry))


@router.get(
    "/{int:pk}/attachments/{int:file_id}",
    response={200: None, 302: None, **ERRORS},
    operation_id="case_attachment_download",
    summary="Download a file of the case's conversation (who can see the case)",
)
def case_attachment_download(request, pk: int, file_id: int):
    from rapport.files.downloads import file_download_response

    case = _get(request, pk)
    return file_download_response(selectors.case_attachment_get(case=case, file_id=file_id))


@router.post("/{int:pk}/merge", response={200: CaseOut, **ERRORS}, operation_id="case_merge")
def case_merge(request, pk: int, payload: CaseMergeIn):
    """Merge this case into `target_id` (both must be visible to you)."""
    source = _get(request, pk)
    try:
        target = selectors.case_get_for_user(pk=payload.target_id, user=request.user)
    except RecordNotFound:
        raise _invalid("target_id", "No such case") from None
    services.case_merge(source=source, target=target, actor=request.user)
    return _get(request, target.pk)


@router.post("/{int:pk}/split", response={201: CaseOut, **ERRORS}, operation_id="case_split")
def case_split(request, pk: int, payload: CaseSplitIn):
    """Split one customer message of this case off into a new case."""
    case = _get(request, pk)
    entry = CaseEntry.objects.filter(pk=payload.entry_id, case=case).select_related(
        "case", "message"
    )
    entry = entry.first()
    if entry is None:
        raise _invalid("entry_id", "No such message on this case")
    new = services.case_split(entry=entry, actor=request.user, subject=payload.subject)
    return Status(201, selectors.case_base().get(pk=new.pk))


@router.post(
    "/{int:pk}/macros/{int:macro_id}/apply",
    response={200: CaseOut, **ERRORS},
    operation_id="case_macro_apply",
)
def case_macro_apply(request, pk: int, macro_id: int, payload: CaseMacroApplyIn):
    case = _get(request, pk)
    macro = Macro.objects.filter(pk=macro_id, is_active=True).first()
    if macro is None:
        raise RecordNotFound("macro")
    services.macro_apply(
        case=case, macro=macro, actor=request.user, send=payload.send, body=payload.body
    )
    return _get(request, pk)


# ----- configuration and agents ---------------------------------------------------------------


@router.get("/macros", response={200: list[CaseMacroOut], **ERRORS}, operation_id="case_macros")
def case_macros(request):
    return list(Macro.objects.all())


@router.post("/macros", response={201: CaseMacroOut, **ERRORS}, operation_id="case_macro_create")
def case_macro_create(request, payload: CaseMacroIn):
    if Macro.objects.filter(name=payload.name).exists():
        raise _invalid("name", "Another macro has this name")
    return Status(201, services.macro_save(actor=request.user, fields=payload.dict()))


@router.get("/queues", response={200: list[CaseQueueOut], **ERRORS}, operation_id="case_queues")
def case_queues(request):
    return list(Queue.objects.prefetch_related("memberships"))


@router.post("/queues", response={201: CaseQueueOut, **ERRORS}, operation_id="case_queue_create")
def case_queue_create(request, payload: CaseQueueIn):
    data = payload.dict()
    member_ids = data.pop("member_ids")
    from rapport.mail.models import Mailbox

    data["mailbox"] = _row(Mailbox, data.pop("mailbox_id"), "mailbox_id")
    queue = services.queue_save(actor=request.user, fields=data, member_ids=member_ids)
    return Status(201, Queue.objects.prefetch_related("memberships").get(pk=queue.pk))


@router.get(
    "/categories", response={200: list[CaseCategoryOut], **ERRORS}, operation_id="case_categories"
)
def case_categories(request):
    return list(CaseCategory.objects.all())


@router.post(
    "/categories",
    response={201: CaseCategoryOut, **ERRORS},
    operation_id="case_category_create",
)
def case_category_create(request, payload: CaseCategoryIn):
    data = payload.dict()
    data["parent"] = _row(CaseCategory, data.pop("parent_id"), "parent_id")
    return Status(201, services.category_save(actor=request.user, fields=data))


@router.get(
    "/agent-status", response={200: CaseAgentStatusOut, **ERRORS}, operation_id="case_agent_status"
)
def case_agent_status(request):
    status = AgentStatus.objects.filter(user=request.user).first()
    if status is None:
        return {"user_id": request.user.pk, "availability": "offline", "updated_at": None}
    return status


@router.put(
    "/agent-status",
    response={200: CaseAgentStatusOut, **ERRORS},
    operation_id="case_agent_status_set",
)
def case_agent_status_set(request, payload: CaseAgentStatusIn):
    return services.agent_status_set(user=request.user, availability=payload.availability)


@router.get(
    "/tiers/{int:account_id}", response={200: CaseTierOut, **ERRORS}, operation_id="case_tier_get"
)
def case_tier_get(request, account_id: int):
    """The account's service tier: the manual override, else the one analytics gives."""
    from rapport.cases.models import AccountServiceTier
    from rapport.cases.routing import tier_of_account

    account = account_get_for_user(pk=account_id, user=request.user)
    manual = AccountServiceTier.objects.filter(account=account).exists()
    return {
        "account_id": account.pk,
        "tier": tier_of_account(account),
        "source": "manual" if manual else "analytics",
    }


@router.put(
    "/tiers/{int:account_id}", response={200: CaseTierOut, **ERRORS}, operation_id="case_tier_set"
)
def case_tier_set(request, account_id: int, payload: CaseTierIn):
    account = account_get_for_user(pk=account_id, user=request.user)
    services.account_tier_set(
        account=account, tier=payload.tier, actor=request.user, note=payload.note
    )
    return case_tier_get(request, account_id)

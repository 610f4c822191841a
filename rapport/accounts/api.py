"""REST endpoints for accounts and contacts: thin wrappers over selectors and services."""

from django.http import HttpResponse
from ninja import Query, Router, Status

from rapport.accounts import selectors, services
from rapport.accounts.models import ContactEmail, ContactPhone
from rapport.accounts.schemas import (
    AccountCloseIn,
    AccountIn,
    AccountListParams,
    AccountOut,
    AccountPage,
    ContactIn,
    ContactListParams,
    ContactOut,
    ContactPage,
    EmailOut,
    PhoneOut,
)
from rapport.api.patch import PatchDict
from rapport.api.versioning import expected_version, set_etag
from rapport.duplicates.selectors import duplicate_warning
from rapport.records.api import (
    ERRORS,
    add_record_actions,
    created_answer,
    linked_record,
    list_response,
    record_response,
    split_owned,
    without_prefetches,
)
from rapport.records.selectors import record_get_for_user

accounts_router = Router(tags=["accounts"])
contacts_router = Router(tags=["contacts"])

# What the read endpoints fetch beside a page's rows, in one statement (`fast.related_rows`).
ACCOUNT_RELATED = {"tags": True}
CONTACT_RELATED = {
    "tags": True,
    "children": {
        # The prefetch orderings of `selectors.contact_base`: primary first, then id.
        "emails": (ContactEmail, "contact_id", tuple(EmailOut.model_fields), ("-is_primary",)),
        "phones": (ContactPhone, "contact_id", tuple(PhoneOut.model_fields), ("-is_primary",)),
    },
}
_account_read = without_prefetches(selectors.account_base)
_contact_read = without_prefetches(selectors.contact_base)


def _account_for_output(request, pk: int):
    return record_get_for_user(
        model=selectors.Account, pk=pk, user=request.user, qs=_account_read()
    )


def _contact_for_output(request, pk: int):
    return record_get_for_user(
        model=selectors.Contact, pk=pk, user=request.user, qs=_contact_read()
    )


# ----- accounts ----------------------------------------------------------------------


@accounts_router.get("", response={200: AccountPage, **ERRORS}, operation_id="accounts_list")
def accounts_list(request, params: Query[AccountListParams]):
    qs = selectors.account_list(
        user=request.user,
        q=params.q,
        deleted=params.deleted,
        industry=params.industry,
        parent_id=params.parent_id,
        segment=params.segment,
        closed=params.closed,
        **params.record_filters(),
    )
    return list_response(
        request, qs, params, selectors.ACCOUNT_SORTS, AccountOut, related=ACCOUNT_RELATED
    )


@accounts_router.post("", response={201: AccountOut, **ERRORS}, operation_id="account_create")
def account_create(
    request, payload: AccountIn, response: HttpResponse, check_duplicates: bool = False
):
    """`?check_duplicates=true`: 409 `possible_duplicate` (nothing saved) when the account
    looks like one you can see; POST /api/duplicates/check lists the matches."""
    data, extras = split_owned(payload.dict())
    if check_duplicates:
        duplicate_warning(user=request.user, object_type="account", fields=data)
    data["parent"] = linked_record(
        selectors.account_get_for_user, request.user, data.pop("parent_id"), "parent_id", "account"
    )
    account = services.account_create(actor=request.user, fields=data, **extras)
    account = created_answer(selectors.account_get_for_user, account, request.user)
    set_etag(response, account.version)
    return Status(201, account)


@accounts_router.get("/{int:pk}", response={200: AccountOut, **ERRORS}, operation_id="account_get")
def account_get(request, pk: int, response: HttpResponse):
    account = _account_for_output(request, pk)
    return record_response(request, account, AccountOut, response, related=ACCOUNT_RELATED)


@accounts_router.patch(
    "/{int:pk}", response={200: AccountOut, **ERRORS}, operation_id="account_update"
)
def account_update(request, pk: int, payload: PatchDict[AccountIn], response: HttpResponse):
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    data, extras = split_owned(dict(payload))
    if "parent_id" in data:
        data["parent"] = linked_record(
            selectors.account_get_for_user,
            request.user,
            data.pop("parent_id"),
            "parent_id",
            "account",
        )
    version = expected_version(request)
    services.account_update(
        account=account, actor=request.user, fields=data, expected_version=version, **extras
    )
    account = _account_for_output(request, pk)
    return record_response(request, account, AccountOut, response, related=ACCOUNT_RELATED)


@accounts_router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="account_delete")
def account_delete(request, pk: int):
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    services.account_delete(
        account=account, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)


@accounts_router.post(
    "/{int:pk}/close", response={200: AccountOut, **ERRORS}, operation_id="account_close"
)
def account_close(request, pk: int, payload: AccountCloseIn, response: HttpResponse):
    """Record that the relationship ended on `closed_at` (409 `account_closed` if it is
    closed already). Closed accounts train the supervised churn model of analytics."""
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    services.account_close(
        account=account,
        actor=request.user,
        closed_at=payload.closed_at,
        reason=payload.reason,
        expected_version=expected_version(request),
    )
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    set_etag(response, account.version)
    return account


@accounts_router.post(
    "/{int:pk}/reopen", response={200: AccountOut, **ERRORS}, operation_id="account_reopen"
)
def account_reopen(request, pk: int, response: HttpResponse):
    """Clear the closing day and reason (409 `account_not_closed` if it is open)."""
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    services.account_reopen(
        account=account, actor=request.user, expected_version=expected_version(request)
    )
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    set_etag(response, account.version)
    return account


add_record_actions(
    accounts_router, model=selectors.Account, out_schema=AccountOut, base_qs=selectors.account_base
)


# ----- contacts ----------------------------------------------------------------------


@contacts_router.get("", response={200: ContactPage, **ERRORS}, operation_id="contacts_list")
def contacts_list(request, params: Query[ContactListParams]):
    qs = selectors.contact_list(
        user=request.user,
        q=params.q,
        deleted=params.deleted,
        account_id=params.account_id,
        segment=params.segment,
        segment_id=params.segment_id,
        **params.record_filters(),
    )
    return list_response(
        request, qs, params, selectors.CONTACT_SORTS, ContactOut, related=CONTACT_RELATED
    )


def _contact_methods(data: dict) -> dict:
    methods = {}
    for key in ("emails", "phones"):
        if key in data:
            value = data.pop(key)
            methods[key] = [dict(v) for v in value] if value is not None else None
    return methods


@contacts_router.post("", response={201: ContactOut, **ERRORS}, operation_id="contact_create")
def contact_create(
    request, payload: ContactIn, response: HttpResponse, check_duplicates: bool = False
):
    """`?check_duplicates=true`: 409 `possible_duplicate` (nothing saved) when the contact
    looks like one you can see; POST /api/duplicates/check lists the matches."""
    data, extras = split_owned(payload.dict())
    if check_duplicates:
        duplicate_warning(user=request.user, object_type="contact", fields=data)
    data["account"] = linked_record(
        selectors.account_get_for_user,
        request.user,
        data.pop("account_id"),
        "account_id",
        "account",
    )
    contact = services.contact_create(
        actor=request.user, fields=data, **_contact_methods(data), **extras
    )
    contact = created_answer(selectors.contact_get_for_user, contact, request.user)
    set_etag(response, contact.version)
    return Status(201, contact)


@contacts_router.get("/{int:pk}", response={200: ContactOut, **ERRORS}, operation_id="contact_get")
def contact_get(request, pk: int, response: HttpResponse):
    contact = _contact_for_output(request, pk)
    return record_response(request, contact, ContactOut, response, related=CONTACT_RELATED)


@contacts_router.patch(
    "/{int:pk}", response={200: ContactOut, **ERRORS}, operation_id="contact_update"
)
def contact_update(request, pk: int, payload: PatchDict[ContactIn], response: HttpResponse):
    contact = selectors.contact_get_for_user(pk=pk, user=request.user)
    data, extras = split_owned(dict(payload))
    if "account_id" in data:
        data["account"] = linked_record(
            selectors.account_get_for_user,
            request.user,
            data.pop("account_id"),
            "account_id",
            "account",
        )
    methods = _contact_methods(data)
    services.contact_update(
        contact=contact,
        actor=request.user,
        fields=data,
        expected_version=expected_version(request),
        **methods,
        **extras,
    )
    contact = _contact_for_output(request, pk)
    return record_response(request, contact, ContactOut, response, related=CONTACT_RELATED)


@contacts_router.delete("/{int:pk}", response={204: None, **ERRORS}, operation_id="contact_delete")
def contact_delete(request, pk: int):
    contact = selectors.contact_get_for_user(pk=pk, user=request.user)
    services.contact_delete(
        contact=contact, actor=request.user, expected_version=expected_version(request)
    )
    return Status(204, None)


add_record_actions(
    contacts_router, model=selectors.Contact, out_schema=ContactOut, base_qs=selectors.contact_base
)

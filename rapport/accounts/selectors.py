"""Reads for accounts and contacts, always through the visibility layer."""

from django.db.models import Prefetch, QuerySet

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.identity.models import User
from rapport.records.selectors import owned_records_filter, record_get_for_user, scoped, text_filter
from rapport.records.visibility import visible

ACCOUNT_SORTS = {"created_at", "updated_at", "name"}
CONTACT_SORTS = {"created_at", "updated_at", "last_name"}


def account_base(scope: str = "active") -> QuerySet[Account]:
    """Accounts with what their API/UI output needs; scope: active, deleted or all."""
    return scoped(Account, scope).prefetch_related("tags")


def contact_base(scope: str = "active") -> QuerySet[Contact]:
    return (
        scoped(Contact, scope)
        .select_related("account")
        .prefetch_related(
            "tags",
            Prefetch("emails", queryset=ContactEmail.objects.order_by("-is_primary", "id")),
            Prefetch("phones", queryset=ContactPhone.objects.order_by("-is_primary", "id")),
        )
    )


def accounts_visible_to(user: User, *, scope: str = "active") -> QuerySet[Account]:
    return visible(account_base(scope), user)


def account_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    industry: str | None = None,
    parent_id: int | None = None,
    **filters,
) -> QuerySet[Account]:
    qs = accounts_visible_to(user, scope="deleted" if deleted else "active")
    qs = owned_records_filter(qs, object_type="account", **filters)
    if industry:
        qs = qs.filter(industry__iexact=industry)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    return text_filter(qs, q, ["name", "domain", "city"])


def account_get_for_user(*, pk: int, user: User, scope: str = "active") -> Account:
    return record_get_for_user(model=Account, pk=pk, user=user, qs=account_base(scope))


def contacts_visible_to(user: User, *, scope: str = "active") -> QuerySet[Contact]:
    return visible(contact_base(scope), user)


def contact_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    account_id: int | None = None,
    **filters,
) -> QuerySet[Contact]:
    qs = contacts_visible_to(user, scope="deleted" if deleted else "active")
    qs = owned_records_filter(qs, object_type="contact", **filters)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    return text_filter(qs, q, ["first_name", "last_name", "email", "phone"])


def contact_get_for_user(*, pk: int, user: User, scope: str = "active") -> Contact:
    return record_get_for_user(model=Contact, pk=pk, user=user, qs=contact_base(scope))

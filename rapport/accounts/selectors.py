"""Reads for accounts and contacts, always through the visibility layer."""

from decimal import Decimal

from django.db.models import DecimalField, FloatField, Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.records.selectors import owned_records_filter, record_get_for_user, scoped, text_filter
from rapport.records.visibility import visible_with_links

ACCOUNT_SORTS = {"created_at", "updated_at", "name", "clv", "churn_risk"}
CONTACT_SORTS = {"created_at", "updated_at", "last_name", "clv", "churn_risk"}


def account_base(scope: str = "active") -> QuerySet[Account]:
    """Accounts with what their API/UI output needs; scope: active, deleted or all."""
    return scoped(Account, scope).select_related("customer_score").prefetch_related("tags")


def contact_base(scope: str = "active") -> QuerySet[Contact]:
    return (
        scoped(Contact, scope)
        .select_related("account", "customer_score", "lifecycle")
        .prefetch_related(
            "tags",
            Prefetch("emails", queryset=ContactEmail.objects.order_by("-is_primary", "id")),
            Prefetch("phones", queryset=ContactPhone.objects.order_by("-is_primary", "id")),
        )
    )


def _with_scores(qs: QuerySet, segment: str | None) -> QuerySet:
    """Analytics scores as sort keys (0 for customers without scores: keyset pagination
    needs non-null keys) and the RFM segment filter."""
    qs = qs.annotate(
        clv=Coalesce(
            "customer_score__clv",
            Value(Decimal("0")),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        ),
        churn_risk=Coalesce("customer_score__churn_risk", Value(0.0), output_field=FloatField()),
    )
    return qs.filter(customer_score__segment=segment) if segment else qs


def accounts_visible_to(user: User, *, scope: str = "active") -> QuerySet[Account]:
    return visible_with_links(account_base(scope), user)


def account_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    industry: str | None = None,
    parent_id: int | None = None,
    segment: str | None = None,
    closed: bool | None = None,
    **filters,
) -> QuerySet[Account]:
    qs = _with_scores(accounts_visible_to(user, scope="deleted" if deleted else "active"), segment)
    qs = owned_records_filter(qs, object_type="account", **filters)
    if industry:
        qs = qs.filter(industry__iexact=industry)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    if closed is not None:
        qs = qs.filter(closed_at__isnull=not closed)
    return text_filter(qs, q, ["name", "domain", "city"])


def account_get_for_user(*, pk: int, user: User, scope: str = "active") -> Account:
    return record_get_for_user(model=Account, pk=pk, user=user, qs=account_base(scope))


def contacts_visible_to(user: User, *, scope: str = "active") -> QuerySet[Contact]:
    return visible_with_links(contact_base(scope), user)


def contact_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    account_id: int | None = None,
    segment: str | None = None,
    segment_id: int | None = None,
    **filters,
) -> QuerySet[Contact]:
    """`segment`: an RFM segment name, or (digits) a saved segment's id like `segment_id`:
    its members among the contacts the user may see (the segments app keeps them)."""
    if segment and segment.isdigit():
        segment, segment_id = None, int(segment)
    qs = _with_scores(contacts_visible_to(user, scope="deleted" if deleted else "active"), segment)
    qs = owned_records_filter(qs, object_type="contact", **filters)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if segment_id is not None:
        qs = qs.filter(segment_memberships__segment_id=segment_id)
    return text_filter(qs, q, ["first_name", "last_name", "email", "phone"])


def contact_get_for_user(*, pk: int, user: User, scope: str = "active") -> Contact:
    return record_get_for_user(model=Contact, pk=pk, user=user, qs=contact_base(scope))


def customer_get_for_user(*, object_type: str, pk: int, user: User) -> Account | Contact:
    """The account or contact a customer card on a record page is for (RecordNotFound for
    another object type or a record the user may not see)."""
    if object_type == "account":
        return account_get_for_user(pk=pk, user=user)
    if object_type == "contact":
        return contact_get_for_user(pk=pk, user=user)
    raise RecordNotFound(object_type)

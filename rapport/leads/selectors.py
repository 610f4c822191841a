"""Reads for leads, always through the visibility layer."""

from django.db.models import QuerySet

from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.records.selectors import owned_records_filter, record_get_for_user, scoped, text_filter
from rapport.records.visibility import visible

LEAD_SORTS = {"created_at", "updated_at", "last_name"}


def lead_base(scope: str = "active") -> QuerySet[Lead]:
    """Leads with what their API/UI output needs; scope: active, deleted or all."""
    return scoped(Lead, scope).prefetch_related("tags")


def leads_visible_to(user: User, *, scope: str = "active") -> QuerySet[Lead]:
    return visible(lead_base(scope), user)


def lead_list(
    *,
    user: User,
    q: str | None = None,
    deleted: bool = False,
    status: list[str] | None = None,
    source: str | None = None,
    campaign: str | None = None,
    **filters,
) -> QuerySet[Lead]:
    """Visible leads narrowed by the owned-record filters, status (any of), source and
    campaign (case-insensitive) and free text over names, email and company."""
    qs = leads_visible_to(user, scope="deleted" if deleted else "active")
    qs = owned_records_filter(qs, object_type=Lead.OBJECT_TYPE, **filters)
    if status:
        qs = qs.filter(status__in=status)
    if source:
        qs = qs.filter(source__iexact=source)
    if campaign:
        qs = qs.filter(campaign__iexact=campaign)
    return text_filter(qs, q, ["first_name", "last_name", "email", "company"])


def lead_get_for_user(*, pk: int, user: User, scope: str = "active") -> Lead:
    """The lead if `user` may see it, else RecordNotFound (404)."""
    return record_get_for_user(model=Lead, pk=pk, user=user, qs=lead_base(scope))

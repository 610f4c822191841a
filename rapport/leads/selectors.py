"""Reads for leads, always through the visibility layer."""

from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce

from rapport.identity.models import User
from rapport.leads.models import Lead
from rapport.records.selectors import owned_records_filter, record_get_for_user, scoped, text_filter
from rapport.records.visibility import visible
from rapport.territories.placement import placed_territory_expr

LEAD_SORTS = {"created_at", "updated_at", "last_name", "score"}


def lead_base(scope: str = "active") -> QuerySet[Lead]:
    """Leads with what their API/UI output needs; scope: active, deleted or all."""
    # The score (rapport/scoring) rides along: a one-to-one row, joined, for lists and pages.
    # and the territory (rapport/territories), a primary-key probe per row read.
    return (
        scoped(Lead, scope)
        .select_related("score_row")
        .annotate(placed_territory=placed_territory_expr("lead"))
        .prefetch_related("tags")
    )


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
    qs = qs.annotate(score=Coalesce(F("score_row__score"), Value(-1)))  # sortable; -1 unscored
    return text_filter(qs, q, ["first_name", "last_name", "email", "company"])


def lead_get_for_user(*, pk: int, user: User, scope: str = "active") -> Lead:
    """The lead if `user` may see it, else RecordNotFound (404)."""
    return record_get_for_user(model=Lead, pk=pk, user=user, qs=lead_base(scope))

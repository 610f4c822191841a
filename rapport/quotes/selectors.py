"""Quote reads: a quote is visible to whoever can see its opportunity."""

from django.db.models import QuerySet

from rapport.quotes.models import Quote, TaxRate
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import visible
from rapport.sales.models import Opportunity


def quotes_visible(user) -> QuerySet[Quote]:
    return Quote.objects.filter(opportunity__in=visible(Opportunity.objects.all(), user))


def quote_list(*, user, opportunity_id: int | None = None, status: str | None = None):
    qs = quotes_visible(user).select_related("opportunity")
    if opportunity_id is not None:
        qs = qs.filter(opportunity_id=opportunity_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def quote_get(*, user, pk: int) -> Quote:
    quote = (
        quotes_visible(user)
        .select_related("opportunity", "opportunity__account", "approved_by")
        .prefetch_related("lines__product")
        .filter(pk=pk)
        .first()
    )
    if quote is None:
        raise RecordNotFound("quote")
    return quote


def opportunity_for_quote(*, user, opportunity_id: int) -> Opportunity:
    opportunity = visible(Opportunity.objects.all(), user).filter(pk=opportunity_id).first()
    if opportunity is None:
        raise RecordNotFound("opportunity")
    return opportunity


def tax_rates() -> QuerySet[TaxRate]:
    return TaxRate.objects.select_related("product")

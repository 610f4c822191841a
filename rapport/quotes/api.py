"""REST endpoints of quotes (/api/quotes): create from an opportunity, read, revise,
approve, send, the PDF, and tax rates (admins). Thin: selectors decide what the caller sees,
services what they may change."""

import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from rapport.api.pagination import keyset_page
from rapport.api.versioning import expected_version, set_etag
from rapport.quotes import selectors, services
from rapport.quotes.models import TaxRate
from rapport.quotes.pdf import render_pdf
from rapport.records.api import ERRORS, Id
from rapport.records.exceptions import RecordNotFound

router = Router(tags=["quotes"])

QuoteStatusName = Literal[
    "draft", "pending_approval", "approved", "sent", "accepted", "declined", "superseded"
]


class QuoteLineOut(Schema):
    position: int
    product_id: int | None
    description: str
    quantity: Decimal
    list_price: Decimal
    discount_percent: Decimal
    unit_price: Decimal
    net: Decimal
    tax_rate: Decimal
    tax_name: str
    tax: Decimal
    total: Decimal


class QuoteSummaryOut(Schema):
    id: int
    number: str
    revision: int
    status: QuoteStatusName
    opportunity_id: int
    currency: str
    total: Decimal
    valid_until: datetime.date
    needs_approval: bool
    version: int
    created_at: datetime.datetime


class QuoteOut(QuoteSummaryOut):
    country: str
    terms: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    max_discount_percent: Decimal
    approved_by_id: int | None
    approved_at: datetime.datetime | None
    sent_at: datetime.datetime | None
    sent_to: str
    decided_at: datetime.datetime | None
    order_id: int | None
    pdf_file_id: int | None = Field(None, description="the PDF as sent (files API)")
    lines: list[QuoteLineOut]

    @staticmethod
    def resolve_pdf_file_id(obj) -> int | None:
        return obj.pdf_id

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())


class QuotePage(Schema):
    items: list[QuoteSummaryOut]
    next_cursor: str | None
    count: int | str


class QuoteListParams(Schema):
    opportunity_id: Id | None = None
    status: QuoteStatusName | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class QuoteCreateIn(Schema):
    opportunity_id: Id
    valid_until: datetime.date | None = Field(None, description="default: today + 30 days")
    terms: str = Field("", max_length=5000)


class QuoteSendIn(Schema):
    to: str = Field(..., max_length=254, description="the customer's email address")
    message: str = Field("", max_length=5000)


class TaxRateOut(Schema):
    id: int
    name: str
    rate: Decimal
    country: str
    product_id: int | None
    product_category: str


class TaxRateIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    rate: Decimal = Field(..., ge=0, le=100, max_digits=6, decimal_places=3)
    country: str = Field("", max_length=2)
    product_id: Id | None = None
    product_category: str = Field("", max_length=100)


def _answer(request, response, pk: int):
    quote = selectors.quote_get(user=request.user, pk=pk)
    set_etag(response, quote.version)
    return quote


@router.get("", response={200: QuotePage, **ERRORS}, operation_id="quotes_list")
def quotes_list(request, params: Query[QuoteListParams]):
    qs = selectors.quote_list(
        user=request.user, opportunity_id=params.opportunity_id, status=params.status
    )
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=params.cursor, limit=params.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor, "count": page.count}


@router.post("", response={201: QuoteOut, **ERRORS}, operation_id="quote_create")
def quote_create(request, payload: QuoteCreateIn, response: HttpResponse):
    opportunity = selectors.opportunity_for_quote(
        user=request.user, opportunity_id=payload.opportunity_id
    )
    quote = services.quote_create(
        opportunity=opportunity,
        actor=request.user,
        valid_until=payload.valid_until,
        terms=payload.terms,
    )
    return Status(201, _answer(request, response, quote.pk))


@router.get("/{int:pk}", response={200: QuoteOut, **ERRORS}, operation_id="quote_get")
def quote_get(request, pk: int, response: HttpResponse):
    return _answer(request, response, pk)


@router.get("/{int:pk}/pdf", response={200: None, **ERRORS}, operation_id="quote_pdf")
def quote_pdf(request, pk: int):
    """The quote as a PDF (rendered now; the copy that was sent is `pdf_file_id`)."""
    quote = selectors.quote_get(user=request.user, pk=pk)
    answer = HttpResponse(render_pdf(quote), content_type="application/pdf")
    answer["Content-Disposition"] = f'inline; filename="{quote.number}-v{quote.revision}.pdf"'
    return answer


@router.post("/{int:pk}/revise", response={201: QuoteOut, **ERRORS}, operation_id="quote_revise")
def quote_revise(request, pk: int, response: HttpResponse):
    """A new version from the opportunity's current line items; the open one is superseded."""
    quote = selectors.quote_get(user=request.user, pk=pk)
    new = services.quote_revise(quote=quote, actor=request.user)
    return Status(201, _answer(request, response, new.pk))


@router.post("/{int:pk}/approve", response={200: QuoteOut, **ERRORS}, operation_id="quote_approve")
def quote_approve(request, pk: int, response: HttpResponse):
    quote = selectors.quote_get(user=request.user, pk=pk)
    services.quote_approve(
        quote=quote, actor=request.user, expected_version=expected_version(request)
    )
    return _answer(request, response, pk)


@router.post("/{int:pk}/send", response={200: QuoteOut, **ERRORS}, operation_id="quote_send")
def quote_send(request, pk: int, payload: QuoteSendIn, response: HttpResponse):
    """Email the PDF with the accept/decline link (through the mail outbox)."""
    quote = selectors.quote_get(user=request.user, pk=pk)
    services.quote_send(
        quote=quote,
        actor=request.user,
        to=payload.to,
        message=payload.message,
        expected_version=expected_version(request),
    )
    return _answer(request, response, pk)


@router.get("/tax-rates", response={200: list[TaxRateOut], **ERRORS}, operation_id="tax_rates_list")
def tax_rates_list(request):
    return list(selectors.tax_rates())


@router.post("/tax-rates", response={201: TaxRateOut, **ERRORS}, operation_id="tax_rate_create")
def tax_rate_create(request, payload: TaxRateIn):
    rate = services.tax_rate_create(actor=request.user, fields=payload.dict())
    return Status(201, rate)


@router.delete(
    "/tax-rates/{int:pk}", response={204: None, **ERRORS}, operation_id="tax_rate_delete"
)
def tax_rate_delete(request, pk: int):
    rate = TaxRate.objects.filter(pk=pk).first()
    if rate is None:
        raise RecordNotFound("tax rate")
    services.tax_rate_delete(actor=request.user, rate=rate)
    return Status(204, None)

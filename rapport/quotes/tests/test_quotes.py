"""Quotes: totals against hand-computed examples, tax rate choice, discount approval, the PDF's
text (pdftotext), sending through the outbox, and the customer's signed decision."""

import subprocess
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.mail.sender import send_due
from rapport.orders.models import Order
from rapport.quotes import services
from rapport.quotes.models import Quote, QuoteStatus, TaxRate
from rapport.quotes.pdf import render_pdf
from rapport.quotes.totals import line_amounts
from rapport.sales.services import line_item_add

pytestmark = pytest.mark.django_db

D = Decimal


def test_line_rounding_is_half_up_per_line():
    a = line_amounts(
        quantity=D("3"), list_price=D("19.99"), discount_percent=D("10"), tax_rate=D("19")
    )
    # 19.99 × 0.9 = 17.991 → 17.99; × 3 = 53.97; tax 10.2543 → 10.25
    assert (a.unit_price, a.net, a.discount, a.tax, a.total) == (
        D("17.99"),
        D("53.97"),
        D("6.00"),
        D("10.25"),
        D("64.22"),
    )
    b = line_amounts(
        quantity=D("1"), list_price=D("0.05"), discount_percent=D("50"), tax_rate=D("19")
    )
    # 0.025 → 0.03 (half up), tax 0.0057 → 0.01
    assert (b.unit_price, b.net, b.discount, b.tax) == (D("0.03"), D("0.03"), D("0.02"), D("0.01"))


@pytest.fixture
def quoted(personas, account, contact, make_opportunity, make_product):
    """An opportunity for a German account with three lines (hand-computed below)."""
    account.country = "DE"
    account.save(update_fields=["country"])
    widget = make_product(name="Widget", unit_price=D("19.99"), category="hardware")
    service = make_product(name="Setup service", unit_price=D("100.00"), category="services")
    sticker = make_product(name="Sticker", unit_price=D("0.05"), category="hardware")
    TaxRate.objects.create(name="Standard", rate=D("19"), country="DE")
    TaxRate.objects.create(name="Reduced", rate=D("7"), country="DE", product=service)
    TaxRate.objects.create(name="Default", rate=D("20"))
    opportunity = make_opportunity(account=account, primary_contact=contact)
    line_item_add(
        opportunity=opportunity,
        actor=personas.owner,
        product=widget,
        quantity=D("3"),
        discount_percent=D("10"),
    )
    line_item_add(opportunity=opportunity, actor=personas.owner, product=service, quantity=D("2.5"))
    line_item_add(
        opportunity=opportunity,
        actor=personas.owner,
        product=sticker,
        quantity=D("1"),
        discount_percent=D("50"),
    )
    return opportunity


def test_quote_totals_match_the_hand_computed_example(personas, quoted):
    quote = services.quote_create(opportunity=quoted, actor=personas.owner)
    lines = list(quote.lines.all())
    assert [(line.net, line.tax_rate, line.tax) for line in lines] == [
        (D("53.97"), D("19"), D("10.25")),
        (D("250.00"), D("7"), D("17.50")),  # the product's own rate beats the country's
        (D("0.03"), D("19"), D("0.01")),
    ]
    assert quote.subtotal == D("310.02")
    assert quote.discount_total == D("6.02")
    assert quote.tax_total == D("27.76")
    assert quote.total == D("331.76")
    assert quote.number.startswith("Q-") and quote.revision == 1
    assert quote.status == QuoteStatus.PENDING_APPROVAL  # 50 % is over the 15 % threshold


def test_tax_rate_specificity(make_product):
    p = make_product(category="hardware")
    rates = [
        TaxRate(pk=1, name="default", rate=D("20")),
        TaxRate(pk=2, name="country", rate=D("19"), country="DE"),
        TaxRate(pk=3, name="category", rate=D("10"), product_category="hardware"),
        TaxRate(pk=4, name="category here", rate=D("9"), product_category="hardware", country="DE"),
        TaxRate(pk=5, name="product", rate=D("5"), product=p),
        TaxRate(pk=6, name="product here", rate=D("4"), product=p, country="DE"),
    ]
    pick = lambda country, rs: services.tax_rate_for(p, country, rs).name  # noqa: E731
    assert pick("DE", rates) == "product here"
    assert pick("FR", rates) == "product"
    assert pick("DE", rates[:4]) == "category here"
    assert pick("FR", rates[:4]) == "category"
    assert pick("DE", rates[:2]) == "country"
    assert pick("FR", rates[:2]) == "default"
    assert services.tax_rate_for(p, "FR", rates[1:2]) is None


def test_discount_over_threshold_needs_the_team_managers_approval(personas, quoted):
    quote = services.quote_create(opportunity=quoted, actor=personas.owner)
    with pytest.raises(ValidationError):
        services.quote_send(quote=quote, actor=personas.owner, to="jane@example.com")
    with pytest.raises(PermissionDenied):
        services.quote_approve(quote=quote, actor=personas.owner)
    with pytest.raises(PermissionDenied):  # a manager, but not of this team
        other = type(personas.manager).objects.create(username="m2", role="manager")
        services.quote_approve(quote=quote, actor=other)
    services.quote_approve(quote=quote, actor=personas.manager)
    assert quote.status == QuoteStatus.APPROVED and quote.approved_by == personas.manager


def test_pdf_text(personas, quoted, settings):
    settings.RAPPORT_COMPANY_NAME = "Northwind Supplies GmbH"
    quote = services.quote_create(opportunity=quoted, actor=personas.owner)
    pdf = render_pdf(quote)
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert f"Quote {quote.number}" in text
    assert "Northwind Supplies GmbH" in text
    assert "Setup service" in text and "Widget" in text
    assert "331.76" in text and "27.76" in text and "310.02" in text


def _send(personas, quote):
    services.quote_approve(quote=quote, actor=personas.manager)
    services.quote_send(
        quote=quote, actor=personas.owner, to="jane@example.com", message="Hello Jane"
    )
    send_due()
    return mail.outbox[-1]


def test_send_attaches_the_pdf_and_the_customer_accepts_once(personas, quoted, stages, client):
    quote = services.quote_create(opportunity=quoted, actor=personas.owner)
    sent = _send(personas, quote)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT and quote.pdf_id
    assert sent.to == ["jane@example.com"]
    (name, content, kind) = sent.attachments[0]
    assert name == f"{quote.number}-v1.pdf" and kind == "application/pdf"
    assert content[:4] == b"%PDF"
    link = services.decision_url(quote)
    assert link.split("/q/")[1] in sent.body

    path = "/q/" + link.split("/q/")[1]
    page = client.get(path)  # a link scanner's GET decides nothing
    assert page.status_code == 200 and b"Accept the quote" in page.content
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT

    assert client.post(path, {"decision": "accept", "note": "Go ahead"}).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED and quote.decision_note == "Go ahead"
    quoted.refresh_from_db()
    assert quoted.stage.kind == "won"
    order = Order.objects.get(pk=quote.order_id)
    assert order.total == D("304.00")  # the net lines: 53.97 + 250.00 + 0.03
    assert order.account_id == quoted.account_id and order.source == "quote"

    again = client.post(path, {"decision": "decline"})
    assert again.status_code == 400
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.ACCEPTED
    assert Order.objects.filter(source="quote").count() == 1


def test_tampered_or_superseded_links_are_refused(personas, quoted, client):
    quote = services.quote_create(opportunity=quoted, actor=personas.owner)
    _send(personas, quote)
    path = "/q/" + services.decision_url(quote).split("/q/")[1]
    token = path[3:-1]
    assert client.get(f"/q/{token[:-2]}xx/").status_code == 404
    assert client.get("/q/not-a-token/").status_code == 404
    newer = services.quote_revise(quote=quote, actor=personas.owner)
    assert newer.number == quote.number and newer.revision == 2
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SUPERSEDED
    answer = client.post(path, {"decision": "accept"})
    assert answer.status_code == 400 and b"replaced by a newer one" in answer.content


def test_api(personas, quoted, api_as, make_opportunity):
    owner = api_as(personas.owner)
    created = owner.post("/api/quotes", {"opportunity_id": quoted.pk})
    assert created.status_code == 201, created.data
    assert created.data["total"] == "331.76" or D(created.data["total"]) == D("331.76")
    assert len(created.data["lines"]) == 3
    pk = created.data["id"]
    assert api_as(personas.outsider).get(f"/api/quotes/{pk}").status_code == 404
    assert (
        api_as(personas.outsider).post("/api/quotes", {"opportunity_id": quoted.pk}).status_code
        == 404
    )
    assert owner.post(f"/api/quotes/{pk}/approve", {}).status_code == 403
    assert (
        api_as(personas.manager).post(f"/api/quotes/{pk}/approve", {}).data["status"] == "approved"
    )
    listed = owner.get(f"/api/quotes?opportunity_id={quoted.pk}")
    assert [q["id"] for q in listed.data["items"]] == [pk]
    empty = make_opportunity(name="Nothing yet")
    refused = owner.post("/api/quotes", {"opportunity_id": empty.pk})
    assert refused.status_code == 422 and refused.data["field"] == "opportunity_id"
    bad_date = owner.post("/api/quotes", {"opportunity_id": quoted.pk, "valid_until": "2001-01-01"})
    assert bad_date.status_code == 422 and bad_date.data["field"] == "valid_until"
    pdf = owner.get(f"/api/quotes/{pk}/pdf")
    assert pdf.status_code == 200
    assert owner.post("/api/quotes/tax-rates", {"name": "X", "rate": "5"}).status_code == 403
    assert (
        api_as(personas.admin).post("/api/quotes/tax-rates", {"name": "X", "rate": "5"}).status_code
        == 201
    )

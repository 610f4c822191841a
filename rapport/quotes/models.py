"""Quotes: a numbered, versioned offer made from an opportunity's line items, with tax per
product and country, discount approval, a PDF, and the customer's signed accept/decline."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from rapport.records.iso_codes import validate_country, validate_currency


class TaxRate(models.Model):
    """A VAT/sales-tax rate. The most specific row applies to a quote line: product and
    country, then product, then product category and country, then category, then country,
    then the default (everything blank)."""

    name = models.CharField(max_length=100)
    rate = models.DecimalField(max_digits=6, decimal_places=3, help_text="Percent, e.g. 19.000")
    country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    product_category = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["country", "product_category", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__gte=0) & models.Q(rate__lte=100),
                name="tax_rate_percent_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate} %)"


class QuoteNumber(models.Model):
    """The one counter row: quotes are numbered Q-<year>-<n> without gaps from races."""

    last = models.PositiveBigIntegerField(default=0)


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    APPROVED = "approved", "Ready to send"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    SUPERSEDED = "superseded", "Replaced by a newer version"


class Quote(models.Model):
    opportunity = models.ForeignKey(
        "sales.Opportunity", on_delete=models.CASCADE, related_name="quotes"
    )
    number = models.CharField(max_length=30)
    revision = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country], help_text="Bill-to country"
    )
    valid_until = models.DateField()
    terms = models.TextField(blank=True)
    subtotal = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    discount_total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    tax_total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    max_discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=254, blank=True)
    pdf = models.ForeignKey(
        "files.StoredFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_ip = models.GenericIPAddressField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="quote_number_revision")
        ]
        indexes = [models.Index(fields=["opportunity", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.number} v{self.revision}"

    @property
    def label(self) -> str:
        return f"{self.number}" + (f" (v{self.revision})" if self.revision > 1 else "")


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=12, decimal_places=2)
    list_price = models.DecimalField(max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    # list_price less the discount, rounded to cents: what one unit costs on this quote.
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    net = models.DecimalField(max_digits=16, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    tax_name = models.CharField(max_length=100, blank=True)
    tax = models.DecimalField(max_digits=16, decimal_places=2)
    total = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        ordering = ["position", "id"]

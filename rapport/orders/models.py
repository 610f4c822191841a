"""Orders (purchases): the transaction history that analytics reads."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from rapport.records.dates import SaneDates
from rapport.records.iso_codes import validate_currency


class Channel(models.TextChoices):
    WEB = "web", "Web"
    STORE = "store", "Store / POS"
    PHONE = "phone", "Phone"
    PARTNER = "partner", "Partner"
    EMAIL = "email", "Email"
    OTHER = "other", "Other"


class OrderStatus(models.TextChoices):
    PLACED = "placed", "Placed"
    PAID = "paid", "Paid"
    SHIPPED = "shipped", "Shipped"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class Order(SaneDates, models.Model):
    """An order belongs to an account, a contact or both; it is visible with them."""

    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - most rows have none
    # The system the external id comes from. An external id is its writer's key: unique per
    # (created_by, source, external_id), so nobody's ids block or reveal another's
    # (rapport/records/external_ids.py).
    source = models.CharField(max_length=60, blank=True, default="")
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    ordered_at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PAID)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    total = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    # Perfect order (the Seven R's): when it was promised, shipped and delivered, and whether
    # the paperwork (invoice, delivery note, certificates) was complete. See
    # rapport/orders/perfect.py for the KPIs read from these.
    promised_date = models.DateField(null=True, blank=True)
    shipped_date = models.DateField(null=True, blank=True)
    delivered_date = models.DateField(null=True, blank=True)
    documentation_complete = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-ordered_at", "-id"]),
            models.Index(fields=["contact", "-ordered_at", "-id"]),
            models.Index(fields=["-ordered_at", "-id"]),
            models.Index(fields=["external_id", "source"], name="order_external_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(contact__isnull=False),
                name="order_has_customer",
            ),
            models.UniqueConstraint(
                fields=["created_by", "source", "external_id"], name="order_external_id_per_writer"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or f"Order {self.pk}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=200, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    # Perfect order: what reached the customer (null = not recorded yet), and how much of it
    # arrived damaged or came back.
    quantity_delivered = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    quantity_damaged = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    quantity_returned = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["order_id", "id"]

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))

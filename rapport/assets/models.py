"""The installed base: one asset per tracked unit a customer owns, with its warranty.

Created per unit sold of a product flagged `is_tracked`, by hand or by import; cases, returns
and work orders point at it."""

from django.conf import settings
from django.db import models


class AssetStatus(models.TextChoices):
    ACTIVE = "active", "In use"
    IN_REPAIR = "in_repair", "In repair"
    RETURNED = "returned", "Returned"
    REPLACED = "replaced", "Replaced"
    RETIRED = "retired", "Retired"


class Asset(models.Model):
    product = models.ForeignKey("sales.Product", on_delete=models.PROTECT, related_name="assets")
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="assets"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="assets"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    serial_number = models.CharField(max_length=100, blank=True, default="")
    install_date = models.DateField(null=True, blank=True)
    location = models.CharField(max_length=300, blank=True, default="")
    # From the product's warranty months at creation; editable (extended warranties).
    warranty_end = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=AssetStatus.choices, default=AssetStatus.ACTIVE
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["contact", "status"]),
            models.Index(fields=["serial_number"]),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.serial_number}".strip()

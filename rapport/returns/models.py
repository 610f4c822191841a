"""Returns (RMA): stock-free (Rapport is not an ERP), each step on the timeline.

requested → approved | rejected; approved → received → inspected → refunded | replaced |
repaired (the resolved states). The allowed moves are in rapport/returns/services.py."""

from django.conf import settings
from django.db import models


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RECEIVED = "received", "Received"
    INSPECTED = "inspected", "Inspected"
    REFUNDED = "refunded", "Refunded"
    REPLACED = "replaced", "Replaced"
    REPAIRED = "repaired", "Repaired"


RESOLVED_STATUSES = (ReturnStatus.REFUNDED, ReturnStatus.REPLACED, ReturnStatus.REPAIRED)
CLOSED_STATUSES = (*RESOLVED_STATUSES, ReturnStatus.REJECTED)


class Disposition(models.TextChoices):
    REFUND = "refund", "Refund"
    REPLACEMENT = "replacement", "Replacement"
    REPAIR = "repair", "Repair"


class Condition(models.TextChoices):
    UNOPENED = "unopened", "Unopened"
    AS_NEW = "as_new", "Opened, as new"
    USED = "used", "Used"
    DAMAGED = "damaged", "Damaged"
    DEFECTIVE = "defective", "Defective"


class ReturnReason(models.TextChoices):
    DEFECTIVE = "defective", "Defective / does not work"
    DAMAGED = "damaged", "Arrived damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    OTHER = "other", "Other"


class ReturnRequest(models.Model):
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    asset = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=1)
    reason = models.CharField(max_length=20, choices=ReturnReason.choices)
    condition = models.CharField(max_length=12, choices=Condition.choices)
    disposition = models.CharField(max_length=12, choices=Disposition.choices)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    status_note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via_portal = models.BooleanField(default=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    inspected_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["contact", "-created_at"]),
            models.Index(fields=["account", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order_line__isnull=False) | models.Q(asset__isnull=False),
                name="return_from_line_or_asset",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="return_qty_pos"),
        ]

    def __str__(self) -> str:
        return f"RMA-{self.pk}"

    @property
    def number(self) -> str:
        return f"RMA-{self.pk}"

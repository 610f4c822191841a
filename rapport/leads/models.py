"""Leads: unqualified prospects, until converted into an account, contact and opportunity."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper

from rapport.accounts.models import Address
from rapport.records.models import ObjectType, OwnedRecord


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"
    CONVERTED = "converted", "Converted"


class Lead(OwnedRecord, Address):
    OBJECT_TYPE = ObjectType.LEAD

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    title = models.CharField(max_length=120, blank=True)
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    company = models.CharField(max_length=200, blank=True)
    website = models.URLField(max_length=300, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=60, blank=True, help_text="web, referral, event, …")
    campaign = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualified_reason = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(OwnedRecord.Meta):
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"]),
            models.Index(fields=["team", "-created_at", "-id"]),
            models.Index(fields=["status", "-created_at", "-id"]),
            models.Index(fields=["-created_at", "-id"]),
            # Inbound mail finds leads by UPPER(email) IN (...) (mail.inbound.address_in).
            models.Index(Upper("email"), name="lead_email_upper"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company})" if self.company else name

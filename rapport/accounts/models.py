"""Accounts (companies) and contacts (people) with typed emails and phones."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from rapport.records.iso_codes import validate_country, validate_currency
from rapport.records.models import ObjectType, OwnedRecord


class CompanySize(models.TextChoices):
    MICRO = "1-9", "1–9"
    SMALL = "10-49", "10–49"
    MEDIUM = "50-249", "50–249"
    LARGE = "250-999", "250–999"
    ENTERPRISE = "1000+", "1000+"


class Address(models.Model):
    """Postal address fields, embedded in the records that have one."""

    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country], help_text="ISO 3166-1 alpha-2"
    )

    class Meta:
        abstract = True


class Account(OwnedRecord, Address):
    OBJECT_TYPE = ObjectType.ACCOUNT
    # Linked records whose names reads embed, each only when the reader may see it.
    SHOWN_LINKS = ("parent",)

    name = models.CharField(max_length=200)
    website = models.URLField(max_length=300, blank=True)
    domain = models.CharField(max_length=200, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=10, choices=CompanySize.choices, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    shipping_street = models.CharField(max_length=200, blank=True)
    shipping_city = models.CharField(max_length=100, blank=True)
    shipping_region = models.CharField(max_length=100, blank=True)
    shipping_postal_code = models.CharField(max_length=20, blank=True)
    shipping_country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subsidiaries"
    )
    description = models.TextField(blank=True)
    # The relationship ended (a customer with a known end, for the supervised churn model).
    # Set and cleared only by account_close / account_reopen, which write the timeline.
    closed_at = models.DateField(
        null=True, blank=True, help_text="The day the relationship with the account ended"
    )
    close_reason = models.CharField(max_length=200, blank=True)

    class Meta(OwnedRecord.Meta):
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"]),
            models.Index(fields=["team", "-created_at", "-id"]),
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["name", "id"]),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(OwnedRecord, Address):
    OBJECT_TYPE = ObjectType.CONTACT
    SHOWN_LINKS = ("account",)

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    title = models.CharField(max_length=120, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    # Denormalised primaries: lists, search and matching read them without a join.
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True)
    description = models.TextField(blank=True)

    class Meta(OwnedRecord.Meta):
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"]),
            models.Index(fields=["team", "-created_at", "-id"]),
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["last_name", "first_name", "id"]),
            # Inbound mail finds people by address case-insensitively (mail.inbound.address_in).
            models.Index(Upper("email"), name="contact_email_upper"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def full_name(self) -> str:
        return str(self)


class ContactMethodKind(models.TextChoices):
    WORK = "work", "Work"
    HOME = "home", "Home"
    MOBILE = "mobile", "Mobile"
    OTHER = "other", "Other"


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(max_length=254, db_index=True)
    kind = models.CharField(max_length=10, choices=ContactMethodKind.choices, default="work")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_primary=True), name="one_primary_email"
            ),
            models.UniqueConstraint(fields=["contact", "email"], name="contact_email_unique"),
        ]
        indexes = [models.Index(Upper("email"), name="contactemail_email_upper")]


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=20, db_index=True, help_text="E.164")
    kind = models.CharField(max_length=10, choices=ContactMethodKind.choices, default="work")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_primary=True), name="one_primary_phone"
            ),
            models.UniqueConstraint(fields=["contact", "number"], name="contact_phone_unique"),
        ]

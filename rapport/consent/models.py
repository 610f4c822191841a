"""Permission marketing: purposes, the append-only consent ledger, the current status derived
from it, and the suppression list.

The ledger (`ConsentRecord`) is the proof (GDPR Art. 7): one row per opt-in, opt-out or
double opt-in confirmation, never changed or deleted (the model and its queryset refuse). The
current status of each person × channel × purpose is derived from it; `ConsentState` caches
that answer in one small row, written in the same transaction as the ledger row (under a row
lock), so the send gate, segment filters and list pages read one indexed row per person
instead of replaying the ledger (see docs/architecture.md, "Consent ledger").
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    POST = "post", "Post"
    # Consent to record the person's visits to the company's website (rapport.webtrack): not a
    # way to reach them, so an opt-in here never allows a message (the mail gate asks "email").
    WEB = "web", "Website tracking"


class ConsentAction(models.TextChoices):
    OPT_IN = "opt_in", "Opt-in"
    OPT_OUT = "opt_out", "Opt-out"
    CONFIRM = "confirm", "Double opt-in confirmed"


class ConsentSource(models.TextChoices):
    FORM = "form", "Web form"
    IMPORT = "import", "Import"
    API = "api", "API"
    PORTAL = "portal", "Portal"
    AGENT = "agent", "Recorded by an agent"
    EMAIL_LINK = "email_link", "Email link"


class ConsentStatus(models.TextChoices):
    PENDING = "pending", "Awaiting confirmation"
    OPTED_IN = "opted_in", "Opted in"
    OPTED_OUT = "opted_out", "Opted out"


class ConsentPurpose(models.Model):
    """What a person agrees to receive (newsletter, offers, partners' offers…), with the policy
    text they agreed to and its version (the ledger stores the version of each agreement)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    policy_text = models.TextField(help_text="The wording a person agrees to.")
    policy_version = models.CharField(max_length=40, default="1")
    requires_double_opt_in = models.BooleanField(
        default=True, help_text="Email opt-ins count only after the confirmation link is used."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class AppendOnly(Exception):
    """The consent ledger is append-only: a row is never changed or deleted."""


class ConsentRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("consent records are append-only: no update")

    def delete(self):
        raise AppendOnly("consent records are append-only: no delete")


class ConsentRecord(models.Model):
    """One entry of the ledger. Exactly who (contact or lead; `address` keeps the email the
    proof concerns even if the person is later erased), which channel and purpose, what they
    did, through which source, when, from where, under which policy version."""

    contact = models.ForeignKey(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
    )
    address = models.CharField(max_length=254, blank=True, help_text="Email at the time")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.PROTECT, related_name="records")
    action = models.CharField(max_length=7, choices=ConsentAction.choices)
    source = models.CharField(max_length=10, choices=ConsentSource.choices)
    occurred_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    policy_version = models.CharField(max_length=40)
    # SHA-256 of the double opt-in confirmation token (never the token itself): on the opt-in
    # that sent it and on the confirmation that used it.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"]),
            models.Index(fields=["lead", "-occurred_at", "-id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(contact__isnull=False, lead__isnull=False),
                name="consent_record_one_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.purpose_id}/{self.channel}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnly("consent records are append-only: no update")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("consent records are append-only: no delete")


class ConsentState(models.Model):
    """The current status of one person × channel × purpose: the ledger's last word, cached
    (written only by rapport.consent.services in the ledger row's transaction)."""

    contact = models.ForeignKey(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consent_states",
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="consent_states"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.CASCADE, related_name="states")
    status = models.CharField(max_length=9, choices=ConsentStatus.choices)
    record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["purpose__name", "channel", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel", "purpose"],
                condition=Q(contact__isnull=False),
                name="consent_state_contact_unique",
            ),
            models.UniqueConstraint(
                fields=["lead", "channel", "purpose"],
                condition=Q(lead__isnull=False),
                name="consent_state_lead_unique",
            ),
            models.CheckConstraint(
                condition=Q(contact__isnull=False, lead__isnull=True)
                | Q(contact__isnull=True, lead__isnull=False),
                name="consent_state_one_person",
            ),
        ]
        indexes = [models.Index(fields=["purpose", "channel", "status"])]


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed from everything"
    MANUAL = "manual", "Added by hand"


class Suppression(models.Model):
    """An address no marketing mail may reach, whatever its consent says. Removing an entry
    keeps the row (removed_at, who, why) so the list's history stays provable."""

    address = models.CharField(max_length=254)  # lower-cased
    reason = models.CharField(max_length=12, choices=SuppressionReason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["address"],
                condition=Q(removed_at__isnull=True),
                name="suppression_active_address_unique",
            )
        ]

    def __str__(self) -> str:
        return self.address

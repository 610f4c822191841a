"""Marketing campaigns: what was spent on reaching whom, through which channel.

The shared core other modules point at: email sends (deliveries, A/B variants), web forms,
clickstream attribution and the ROI reports all hang off `Campaign`."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from rapport.records.iso_codes import validate_currency


class CampaignKind(models.TextChoices):
    EMAIL = "email", "Email"
    DIRECT_MAIL = "direct_mail", "Direct mail"
    SMS = "sms", "SMS"
    WEB = "web", "Web / web form"
    SOCIAL = "social", "Social"
    ADS = "ads", "Paid ads"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running / sending"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=CampaignKind.choices, default=CampaignKind.EMAIL)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # The `utm_campaign` value that attributes web visits, form submissions and tracked
    # clicks to this campaign (unique when set).
    utm_campaign = models.CharField(max_length=100, null=True, blank=True, unique=True)  # noqa: DJ001
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return self.name


# ----- email sends ---------------------------------------------------------------------------


def default_rate_per_minute() -> int:
    return int(getattr(settings, "RAPPORT_CAMPAIGN_RATE_PER_MINUTE", 600))


class ABMetric(models.TextChoices):
    OPEN_RATE = "open_rate", "Open rate"
    CLICK_RATE = "click_rate", "Click rate"


class CampaignSend(models.Model):
    """How an email (or direct mail / SMS) campaign reaches people: audience, content,
    consent purpose, sender, schedule, rate limit, tracking and the A/B test. One per
    campaign (created with it when the campaign is set up for sending)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="send")
    include_segments = models.ManyToManyField("segments.Segment", related_name="+", blank=True)
    exclude_segments = models.ManyToManyField("segments.Segment", related_name="+", blank=True)
    template = models.ForeignKey(
        "mail.EmailTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(max_length=998, blank=True, help_text="Empty: the template's.")
    consent_purpose = models.ForeignKey(
        "consent.ConsentPurpose", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mailbox = models.ForeignKey(
        "mail.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_name = models.CharField(max_length=100, blank=True)
    send_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as started.")
    rate_per_minute = models.PositiveIntegerField(default=default_rate_per_minute)
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
    conversion_days = models.PositiveIntegerField(default=30)
    # A/B test: the sample (a share of the audience) is split across the variants; after
    # `ab_wait_minutes` the variant with the best `ab_metric` goes to the rest.
    ab_enabled = models.BooleanField(default=False)
    ab_sample_percent = models.PositiveSmallIntegerField(default=20)
    ab_wait_minutes = models.PositiveIntegerField(default=240)
    ab_metric = models.CharField(
        max_length=10, choices=ABMetric.choices, default=ABMetric.OPEN_RATE
    )
    ab_decide_at = models.DateTimeField(null=True, blank=True)
    winner = models.ForeignKey(
        "campaigns.CampaignVariant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    winner_chosen_by = models.CharField(max_length=10, blank=True)  # "metric" | "manual"
    # Direct mail / SMS: where the recipients went (an export is always available).
    webhook_event = models.BooleanField(
        default=False, help_text="Direct mail / SMS: publish the recipients as webhook events."
    )
    # The rate limiter: the next free send slot (recipients are handed to the outbox with
    # next_attempt_at spread 60/rate seconds apart from here).
    next_slot_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    audience_count = models.PositiveIntegerField(default=0)
    excluded_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"send of {self.campaign}"


class CampaignVariant(models.Model):
    """An A/B variant: its own subject and/or content (empty: the campaign's)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20)
    subject = models.CharField(max_length=998, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)

    class Meta:
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="campaign_variant_label")
        ]

    def __str__(self) -> str:
        return self.label


class RecipientState(models.TextChoices):
    HELD = "held", "Waiting for the A/B winner"
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Being handed to the outbox"
    QUEUED = "queued", "In the outbox"
    EXCLUDED = "excluded", "Excluded"
    CANCELLED = "cancelled", "Cancelled"
    EXPORTED = "exported", "Exported (direct mail / SMS)"


class CampaignRecipient(models.Model):
    """One row per person of the audience, written when the send starts (the snapshot).

    A dispatcher claims pending rows under a lease and, in ONE transaction, writes each one's
    outbox message (rapport.mail.services.queue_email) and marks the row queued with the
    message: a row is queued exactly when its message exists. The mail outbox then sends
    each message once (rapport.mail.sender)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey(
        "accounts.Contact", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    state = models.CharField(max_length=10, choices=RecipientState.choices)
    excluded_reason = models.CharField(max_length=300, blank=True)
    variant = models.ForeignKey(
        CampaignVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    in_sample = models.BooleanField(default=False)
    message = models.OneToOneField(
        "mail.MailMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_recipient",
    )
    claimed_by = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    clicked_at = models.DateTimeField(null=True, blank=True)
    click_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_once")
        ]
        indexes = [models.Index(fields=["campaign", "state", "id"])]


class CampaignLink(models.Model):
    """A URL that was in a sent campaign message: the only targets the click redirect
    follows (never an open redirect)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    url = models.TextField()
    url_hash = models.CharField(max_length=64)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "url_hash"], name="campaign_link_once")
        ]

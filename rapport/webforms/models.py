"""Web-to-lead forms: what a form asks (fields mapped to lead or contact fields, consent
checkboxes per purpose), where an answer lands (a new lead, or a contact created or updated),
who gets it (a user, round robin in a team; territories once they exist) and every
submission kept with what it did.

A form is configuration (like a segment): every signed-in user sees the forms; managers and
administrators change them. The hosted page `/f/<slug>/` needs no login.
"""

import uuid

from django.conf import settings
from django.db import models


class FormTarget(models.TextChoices):
    LEAD = "lead", "Create a lead"
    CONTACT = "contact", "Create or update a contact"


class AssignMode(models.TextChoices):
    USER = "user", "To a user"
    ROUND_ROBIN = "round_robin", "Round robin in a team"
    TERRITORY = "territory", "By territory (falls back to the user)"


class WebForm(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200, help_text="Heading of the hosted page")
    intro = models.TextField(blank=True)
    submit_label = models.CharField(max_length=60, default="Send")
    target = models.CharField(max_length=10, choices=FormTarget.choices, default=FormTarget.LEAD)
    # [{"key": "email", "label": "Email", "required": true}, {"key": "custom.budget", ...}]
    fields = models.JSONField(default=list, blank=True)
    consent_purposes = models.ManyToManyField(
        "consent.ConsentPurpose", blank=True, related_name="web_forms"
    )
    assign_mode = models.CharField(
        max_length=12, choices=AssignMode.choices, default=AssignMode.USER
    )
    assign_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assign_team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Round-robin cursor: the id of the member who got the last submission (row-locked).
    last_assigned_id = models.BigIntegerField(null=True, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_source = models.CharField(max_length=60, default="web form")
    thank_you_message = models.TextField(default="Thank you — we will be in touch soon.")
    redirect_url = models.URLField(
        max_length=500, blank=True, help_text="Only on a domain of RAPPORT_TRACKED_SITE_DOMAINS"
    )
    min_fill_seconds = models.PositiveSmallIntegerField(default=3)
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SubmissionOutcome(models.TextChoices):
    LEAD_CREATED = "lead_created", "Lead created"
    LEAD_UPDATED = "lead_updated", "Existing lead updated"
    CONTACT_CREATED = "contact_created", "Contact created"
    CONTACT_UPDATED = "contact_updated", "Existing contact updated"
    AMBIGUOUS = "ambiguous", "New lead, possible duplicate to review"


class FormSubmission(models.Model):
    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="submissions")
    submitted_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    consents = models.JSONField(default=list, blank=True)  # purpose slugs ticked
    outcome = models.CharField(max_length=16, choices=SubmissionOutcome.choices)
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which existing records had the address when the match was ambiguous.
    review_note = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    landing_url = models.CharField(max_length=1000, blank=True)
    visitor = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["form", "-submitted_at", "-id"]),
            models.Index(fields=["ip_address", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.form_id} @ {self.submitted_at:%Y-%m-%d %H:%M}"


class SubmissionRejection(models.Model):
    """A refused attempt (spam checks), kept short-term: it counts toward the per-address
    rate limit so a bot hammering the honeypot is slowed down too."""

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    reason = models.CharField(max_length=20)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["ip_address", "occurred_at"])]

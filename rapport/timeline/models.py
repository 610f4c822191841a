"""The timeline: one event for everything that happens to a customer record."""

from django.conf import settings
from django.db import models


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Fields changed"
    DELETED = "deleted", "Deleted"
    RESTORED = "restored", "Restored"
    OWNER_CHANGED = "owner_changed", "Owner changed"
    SHARED = "shared", "Shared"
    UNSHARED = "unshared", "Share removed"
    STAGE_CHANGED = "stage_changed", "Stage moved"
    ACTIVITY_LOGGED = "activity_logged", "Activity logged"
    ACTIVITY_UPDATED = "activity_updated", "Activity updated"
    ACTIVITY_DONE = "activity_done", "Task completed"
    LEAD_CONVERTED = "lead_converted", "Lead converted"
    ORDER_PLACED = "order_placed", "Order placed"
    EMAIL_SENT = "email_sent", "Email sent"
    EMAIL_RECEIVED = "email_received", "Email received"
    FILE_ADDED = "file_added", "File added"
    CASE_OPENED = "case_opened", "Case opened"
    CASE_STATUS = "case_status", "Case status changed"
    CASE_REPLY = "case_reply", "Case reply sent"
    CASE_NOTE = "case_note", "Internal note"
    SLA = "sla", "SLA clock"
    # Marketing
    CAMPAIGN_SENT = "campaign_sent", "Campaign email sent"
    EMAIL_OPENED = "email_opened", "Email opened"
    EMAIL_CLICKED = "email_clicked", "Link clicked"
    FORM_SUBMITTED = "form_submitted", "Form submitted"
    WEB_SESSION = "web_session", "Website visit"
    # After the sale
    ASSET_CHANGED = "asset_changed", "Installed product"
    RETURN_STATUS = "return_status", "Return"
    WORK_ORDER = "work_order", "Field service"
    SURVEY_ANSWERED = "survey_answered", "Survey answered"
    PORTAL = "portal", "Customer portal"
    # Sales depth
    TERRITORY_CHANGED = "territory_changed", "Territory changed"
    ASSIGNED = "assigned", "Assigned by rule"
    SEQUENCE_STEP = "sequence_step", "Sequence step"
    QUOTE = "quote", "Quote"


class TimelineEvent(models.Model):
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()
    summary = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    activity = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-occurred_at", "-id"]),
            models.Index(fields=["contact", "-occurred_at", "-id"]),
            models.Index(fields=["lead", "-occurred_at", "-id"]),
            models.Index(fields=["opportunity", "-occurred_at", "-id"]),
            models.Index(fields=["case", "-occurred_at", "-id"]),
            models.Index(fields=["campaign", "-occurred_at", "-id"]),
            # Everyone's newest events (the home dashboard's recent activity).
            models.Index(fields=["-occurred_at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"

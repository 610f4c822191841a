"""Clickstream of identified visitors: page views grouped into sessions (a new session after
30 minutes without a page view), each session shown as one `web_session` timeline event that
is updated as pages are added.

Anonymous page views (no valid visitor token) are not stored at all, and an identified
person's views are stored only while they have opted in to the tracking purpose."""

from django.db import models


class WebSession(models.Model):
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField()
    last_at = models.DateTimeField()
    page_count = models.PositiveIntegerField(default=0)
    landing_url = models.CharField(max_length=1000, blank=True)
    referrer = models.CharField(max_length=1000, blank=True)
    utm = models.JSONField(default=dict, blank=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.ForeignKey(
        "timeline.TimelineEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-last_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-last_at"]),
            models.Index(fields=["lead", "-last_at"]),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} ({self.page_count} pages)"


class PageView(models.Model):
    session = models.ForeignKey(WebSession, on_delete=models.CASCADE, related_name="views")
    occurred_at = models.DateTimeField()
    url = models.CharField(max_length=1000)
    title = models.CharField(max_length=300, blank=True)
    referrer = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["session", "occurred_at"])]

    def __str__(self) -> str:
        return self.url

"""Segments (dynamic filters or static lists of contacts), their kept membership, and the
contacts' lifecycle stages with the rules that derive them and their history."""

from django.conf import settings
from django.db import models


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (filter)"
    STATIC = "static", "Static list"


class Segment(models.Model):
    """A set of contacts: a filter kept current (dynamic) or a hand-made list (static)."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    # The filter builder's tree: {"op": "and"|"or", "items": [condition | group]}.
    filter = models.JSONField(default=dict, blank=True)
    # What the filter reads (",contact,orders,"): a write re-evaluates only the segments
    # whose filter can depend on what it changed.
    depends_on = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    member_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["kind", "depends_on"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_static(self) -> bool:
        return self.kind == SegmentKind.STATIC


class MemberSource(models.TextChoices):
    FILTER = "filter", "Filter"
    MANUAL = "manual", "Added by hand"
    IMPORT = "import", "Imported"
    SELECTION = "selection", "From a list selection"
    AUTOMATION = "automation", "Automation"
    API = "api", "API"


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    source = models.CharField(max_length=12, choices=MemberSource.choices)
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["segment_id", "contact_id"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_member_unique")
        ]
        indexes = [models.Index(fields=["contact", "segment"])]


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    LEAD = "lead", "Lead"
    FIRST_TIME_BUYER = "first_time_buyer", "First-time buyer"
    REPEAT_BUYER = "repeat_buyer", "Repeat buyer"
    LOYAL = "loyal", "Loyal"
    AT_RISK = "at_risk", "At risk"
    LOST = "lost", "Lost"


class LifecycleRules(models.Model):
    """The thresholds that derive a contact's stage (one row; an admin tunes them).

    A contact's orders are its own and its account's orders that name no contact; cancelled
    and refunded orders do not count. Precedence: lost, at risk, loyal, repeat buyer,
    first-time buyer, lead, prospect.
    """

    lead_min_activities = models.PositiveIntegerField(
        default=1, help_text="Activities logged with a contact without orders to make it a lead"
    )
    loyal_min_orders = models.PositiveIntegerField(
        default=5, help_text="Orders within the loyalty window to count as loyal"
    )
    loyal_months = models.PositiveIntegerField(default=12, help_text="The loyalty window")
    at_risk_churn = models.FloatField(
        default=0.6, help_text="Churn risk (0–1, from analytics) from which a buyer is at risk"
    )
    at_risk_days = models.PositiveIntegerField(
        default=180, help_text="Days without an order after which a buyer is at risk"
    )
    lost_days = models.PositiveIntegerField(
        default=365, help_text="Days without an order after which a buyer is lost"
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "lifecycle rules"


class ContactLifecycle(models.Model):
    """A contact's current stage (derived; its history is LifecycleChange)."""

    contact = models.OneToOneField(
        "accounts.Contact", primary_key=True, on_delete=models.CASCADE, related_name="lifecycle"
    )
    stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    since = models.DateTimeField()

    class Meta:
        ordering = ["contact_id"]
        indexes = [models.Index(fields=["stage", "contact"])]

    def __str__(self) -> str:
        return self.get_stage_display()


class LifecycleChange(models.Model):
    contact = models.ForeignKey(
        "accounts.Contact", on_delete=models.CASCADE, related_name="lifecycle_changes"
    )
    from_stage = models.CharField(max_length=20, choices=LifecycleStage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField()
    reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["contact", "-changed_at"])]

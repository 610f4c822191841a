"""SLA policies and the clock kept as events.

A policy (first matching, by position) gives a case its targets in business minutes on a
calendar (or 24×7). The clock is the append-only SlaEvent log: the inputs it is computed
from (opened, status changes, replies) and what happened to each metric (started, paused,
resumed, met, warned, breached, escalated, policy_changed). rapport/sla/clock.py computes
each metric's state from the inputs alone, so a changed policy or calendar is applied by
recomputing from history. SlaClock is one row per case the scheduler looks at: its next
warning/breach/escalation instant, indexed.
"""

from django.conf import settings
from django.db import models

DEFAULT_PAUSE_STATUSES = ["pending_customer", "on_hold"]


def default_pause_statuses() -> list[str]:
    return list(DEFAULT_PAUSE_STATUSES)


class SlaMetric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"


class SlaPolicy(models.Model):
    name = models.CharField(max_length=120, unique=True)
    position = models.PositiveIntegerField(
        default=0, help_text="The first matching policy applies."
    )
    is_active = models.BooleanField(default=True)
    # Conditions: an empty list matches any value.
    priorities = models.JSONField(default=list, blank=True)
    tiers = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    categories = models.ManyToManyField("cases.CaseCategory", blank=True, related_name="+")
    # Targets in business minutes (empty: the metric is not measured).
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: the clock runs 24×7.",
    )
    pause_statuses = models.JSONField(default=default_pause_statuses, blank=True)
    # Escalation timing.
    warn_minutes_before = models.PositiveIntegerField(null=True, blank=True)
    warn_percent_before = models.PositiveSmallIntegerField(null=True, blank=True)
    second_level_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="A second escalation this many minutes after a breach."
    )
    escalate_in_business_hours_only = models.BooleanField(default=False)
    escalation_calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Hours escalations may be sent in (default: the policy's calendar).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(warn_percent_before__isnull=True)
                | models.Q(warn_percent_before__lte=100),
                name="sla_policy_warn_percent_0_100",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def target(self, metric: str) -> int | None:
        return getattr(self, f"{metric}_minutes")


class EscalationLevel(models.TextChoices):
    WARNING = "warning", "On warning"
    BREACH = "breach", "On breach"
    SECOND = "second", "Second level"


class SlaEscalation(models.Model):
    """What happens on a warning, a breach or the second level of a policy."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=10, choices=EscalationLevel.choices)
    notify_owner = models.BooleanField(default=False)
    notify_queue = models.BooleanField(default=False)
    notify_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reassign_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reassign_queue = models.ForeignKey(
        "cases.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raise_priority = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy", "level", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="sla_escalation_one_per_level")
        ]


class SlaEventKind(models.TextChoices):
    # Inputs the clock is computed from.
    OPENED = "opened", "Opened"
    STATUS = "status", "Status changed"
    AGENT_REPLY = "agent_reply", "Agent replied"
    CUSTOMER_REPLY = "customer_reply", "Customer replied"
    # What happened to a metric.
    STARTED = "started", "Started"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    MET = "met", "Met"
    WARNED = "warned", "Warned"
    BREACHED = "breached", "Breached"
    ESCALATED = "escalated", "Escalated (second level)"
    POLICY_CHANGED = "policy_changed", "Policy changed"


INPUT_KINDS = (
    SlaEventKind.OPENED,
    SlaEventKind.STATUS,
    SlaEventKind.AGENT_REPLY,
    SlaEventKind.CUSTOMER_REPLY,
)
# Written once per case, metric and cycle (the scheduler's claim).
ESCALATION_KINDS = (SlaEventKind.WARNED, SlaEventKind.BREACHED, SlaEventKind.ESCALATED)


class SlaEvent(models.Model):
    """Append-only: never updated nor deleted (a recomputation appends)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="sla_events")
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metric = models.CharField(max_length=20, choices=SlaMetric.choices, blank=True)
    kind = models.CharField(max_length=20, choices=SlaEventKind.choices)
    cycle = models.PositiveIntegerField(default=0, help_text="Which next-response cycle.")
    at = models.DateTimeField()
    business_minutes_elapsed = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=20, blank=True, help_text="The new status (inputs).")
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "at", "id"]
        indexes = [models.Index(fields=["case", "at", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "metric", "cycle", "kind"],
                condition=models.Q(kind__in=["warned", "breached", "escalated"]),
                name="sla_escalation_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.metric} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class SlaClock(models.Model):
    """The scheduler's view of one case: its policy, the last status the clock saw and
    the next instant something may be due (null: nothing pending)."""

    case = models.OneToOneField(
        "cases.Case", primary_key=True, on_delete=models.CASCADE, related_name="sla_clock"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks"
    )
    status = models.CharField(max_length=20, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["case"]
        indexes = [
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(next_check_at__isnull=False),
                name="sla_clock_due_idx",
            )
        ]

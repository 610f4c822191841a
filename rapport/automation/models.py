"""The automation engine's rows: rules, the trigger outbox, runs and their steps."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class TriggerType(models.TextChoices):
    RECORD_CREATED = "record.created", "Record created"
    RECORD_UPDATED = "record.updated", "Record updated"
    STAGE_MOVED = "stage.moved", "Deal stage moved"
    LEAD_CONVERTED = "lead.converted", "Lead converted"
    ORDER_PLACED = "order.placed", "Order placed"
    ACTIVITY_LOGGED = "activity.logged", "Activity logged"
    DATE_RELATIVE = "date.relative", "Time relative to a date field"
    SCHEDULE = "schedule", "Schedule (cron)"
    MANUAL = "manual", "Manual run on a selection"
    WEBHOOK_RECEIVED = "webhook.received", "Inbound webhook received"
    EMAIL_RECEIVED = "email.received", "Email received"
    FORM_SUBMITTED = "form.submitted", "Form submitted"
    SEGMENT_ENTERED = "segment.entered", "Segment entered"
    SEGMENT_LEFT = "segment.left", "Segment left"
    CASE_SLA_WARNING = "case.sla_warning", "Case SLA warning"
    CASE_SLA_BREACHED = "case.sla_breached", "Case SLA breached"
    CHURN_RISK_CROSSED = "churn.risk_crossed", "Churn risk crossed the alert threshold"


# Triggers fed by events (the outbox); the others are fired by the scheduler or a person.
EVENT_TRIGGERS = {t.value for t in TriggerType} - {
    TriggerType.DATE_RELATIVE,
    TriggerType.SCHEDULE,
    TriggerType.MANUAL,
}


class SubjectType(models.TextChoices):
    ANY = "", "Any record"
    ACCOUNT = "account", "Account"
    CONTACT = "contact", "Contact"
    LEAD = "lead", "Lead"
    OPPORTUNITY = "opportunity", "Opportunity"
    ACTIVITY = "activity", "Activity"
    ORDER = "order", "Order"
    CASE = "case", "Case"


class Rule(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    trigger_type = models.CharField(max_length=32, choices=TriggerType.choices)
    object_type = models.CharField(max_length=16, choices=SubjectType.choices, blank=True)
    # Per trigger: {"cron": "0 9 * * 1"}, {"field": "expected_close_date", "offset_days": -3,
    # "at": "09:00"}, {"source": "pos"} (webhook / email / form filters on the payload).
    trigger_config = models.JSONField(default=dict, blank=True)
    # {"op": "and"|"or", "items": [{"field", "operator", "value"} | group]}
    conditions = models.JSONField(default=dict, blank=True)
    # [{"type": "update_fields", "params": {...}}, {"type": "branch", "params": {"conditions":
    # {...}}, "then": [...], "else": [...]}]
    actions = models.JSONField(default=list, blank=True)
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    max_runs_per_hour = models.PositiveIntegerField(default=10_000)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # Round-robin cursors and the like, changed under a row lock.
    state = models.JSONField(default=dict, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True)
    skipped_count = models.PositiveIntegerField(default=0)
    last_skip_reason = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["is_active", "trigger_type", "object_type"])]

    def __str__(self) -> str:
        return self.name


class TriggerEvent(models.Model):
    """The outbox: written in the transaction of the change, dispatched after commit."""

    event_type = models.CharField(max_length=32)
    object_type = models.CharField(max_length=16, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    caused_by_run_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], name="trigger_event_pending", condition=Q(dispatched_at__isnull=True)
            ),
            models.Index(fields=["dispatched_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.object_type}#{self.object_id}"


class RunState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Run(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    event = models.ForeignKey(
        TriggerEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger_type = models.CharField(max_length=32)
    object_type = models.CharField(max_length=16, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.PENDING)
    depth = models.PositiveSmallIntegerField(default=0)
    input = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    next_run_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    # Once per (rule, key): a date-relative or scheduled firing is never doubled.
    dedupe_key = models.CharField(max_length=120, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_run_at"]),
            models.Index(fields=["rule", "-created_at", "-id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="run_dedupe_once",
            )
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} of {self.rule_id}"


class StepState(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    RETRYING = "retrying", "Retrying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Step(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    # Position in the action tree: "0", "2.then.1".
    path = models.CharField(max_length=120)
    action_type = models.CharField(max_length=40)
    state = models.CharField(max_length=12, choices=StepState.choices)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["run", "path"], name="step_once_per_path")]

    def __str__(self) -> str:
        return f"{self.path} {self.action_type}"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None

"""Guided sequences: ordered steps a rep enrols contacts or leads into. Each sequence is run by
one automation rule (its steps are the rule's actions) and each enrolment by one automation run,
so waits, durability and the worker are the engine's; these rows say what a person sees."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class StepKind(models.TextChoices):
    EMAIL = "email", "Email from a template"
    CALL = "call", "Call task"
    TASK = "task", "Task"
    LINKEDIN = "linkedin", "LinkedIn / manual step"
    WAIT = "wait", "Wait business days"


class Sequence(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Business days of the waits (no calendar: every day counts).",
    )
    # The automation rule whose actions are this sequence's steps (kept in step with them).
    rule = models.OneToOneField(
        "automation.Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    template = models.ForeignKey(
        "mail.EmailTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(max_length=200, blank=True)  # of a task / call / manual step
    notes = models.TextField(blank=True)
    wait_days = models.PositiveSmallIntegerField(default=0)
    due_in_days = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sequence", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="sequence_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.get_kind_display()}"

    @property
    def label(self) -> str:
        if self.kind == StepKind.EMAIL:
            return f"Email: {self.template.name if self.template_id else '?'}"
        if self.kind == StepKind.WAIT:
            return f"Wait {self.wait_days} business day{'s' if self.wait_days != 1 else ''}"
        return f"{self.get_kind_display()}: {self.subject}"


class EnrolmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"


class StopReason(models.TextChoices):
    NONE = "", "—"
    REPLIED = "replied", "Replied"
    MEETING = "meeting", "Meeting booked"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Bounced"
    MANUAL = "manual", "Stopped by a person"
    NO_EMAIL = "no_email", "No email address"


class Enrolment(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrolments")
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The rep the steps act for: emails from their mailbox, tasks on their list.
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(
        max_length=10, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE
    )
    stop_reason = models.CharField(
        max_length=12, choices=StopReason.choices, blank=True, default=StopReason.NONE
    )
    # The last step done when the person replied (the reply is counted on it).
    replied_step = models.ForeignKey(
        SequenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.OneToOneField(
        "automation.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrolled_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        indexes = [models.Index(fields=["sequence", "state"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False, lead__isnull=True)
                | Q(contact__isnull=True, lead__isnull=False),
                name="enrolment_one_person",
            ),
            # Once in a sequence at a time (a finished or stopped enrolment may be redone).
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(state__in=["active", "paused"], contact__isnull=False),
                name="enrolment_open_contact_once",
            ),
            models.UniqueConstraint(
                fields=["sequence", "lead"],
                condition=Q(state__in=["active", "paused"], lead__isnull=False),
                name="enrolment_open_lead_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} in {self.sequence_id}"

    @property
    def person(self):
        return self.contact if self.contact_id else self.lead

    @property
    def object_type(self) -> str:
        return "contact" if self.contact_id else "lead"

    @property
    def is_open(self) -> bool:
        return self.state in (EnrolmentState.ACTIVE, EnrolmentState.PAUSED)


class EnrolmentStep(models.Model):
    """A step done for one enrolment (at most once: the unique pair), with what it made."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="done_steps")
    step = models.ForeignKey(SequenceStep, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "mail.MailMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity = models.ForeignKey(
        "activities.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skipped = models.CharField(max_length=200, blank=True)
    done_at = models.DateTimeField()

    class Meta:
        ordering = ["enrolment", "step__position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step"], name="enrolment_step_once")
        ]
        indexes = [models.Index(fields=["message"])]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.step_id}"

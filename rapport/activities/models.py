"""Activities (tasks, calls, meetings, logged emails, notes) and interactions from any
touch point, linked by real foreign keys to the records they concern."""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from rapport.records.dates import SaneDates


class ActivityKind(models.TextChoices):
    TASK = "task", "Task"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    EMAIL = "email", "Email"
    NOTE = "note", "Note"
    INTERACTION = "interaction", "Interaction"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class CallOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Left voicemail"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"


class InteractionChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    IVR = "ivr", "IVR"
    CHAT = "chat", "Chat"
    WEB = "web", "Web"
    STORE = "store", "Store / POS"
    SOCIAL = "social", "Social"
    SMS = "sms", "SMS"


class Activity(SaneDates, models.Model):
    kind = models.CharField(max_length=12, choices=ActivityKind.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
    )
    contact = models.ForeignKey(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
    )
    occurred_at = models.DateTimeField(help_text="When it happened (or is planned)")
    # Tasks
    due_at = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    # Tasks and meetings: a reminder this many minutes before due_at / starts_at (None: none).
    reminder_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(60 * 24 * 28)]
    )
    # When the pending reminder / overdue notice is due; NULL once sent or when there is none
    # (rapport.notifications.reminders keeps them and the scheduler reads them).
    remind_at = models.DateTimeField(null=True, blank=True, editable=False)
    overdue_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Calls, emails and interactions
    direction = models.CharField(max_length=10, choices=Direction.choices, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices, blank=True)
    # Meetings
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    attendee_contacts = models.ManyToManyField(
        "accounts.Contact", blank=True, related_name="meetings_attended"
    )
    attendee_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="meetings_attended"
    )
    # Interactions from a touch point
    channel = models.CharField(max_length=10, choices=InteractionChannel.choices, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - most rows have none
    # The system the external id comes from. An external id is its writer's key: unique per
    # (created_by, source, external_id) (rapport/records/external_ids.py).
    source = models.CharField(max_length=60, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "done", "due_at"]),
            models.Index(fields=["account", "-occurred_at"]),
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["lead", "-occurred_at"]),
            models.Index(fields=["opportunity", "-occurred_at"]),
            models.Index(fields=["kind", "-occurred_at"]),
            models.Index(fields=["-occurred_at", "-id"]),
            # Only pending rows are in these: the reminder pass reads what is due, not the table.
            models.Index(
                fields=["remind_at"],
                condition=Q(remind_at__isnull=False),
                name="activity_remind_at_pending",
            ),
            models.Index(
                fields=["overdue_at"],
                condition=Q(overdue_at__isnull=False),
                name="activity_overdue_at_pending",
            ),
            models.Index(fields=["external_id", "source"], name="activity_external_id_idx"),
            # "My tasks": an owner's open tasks by due date (overdue, today, upcoming, undated,
            # and their count) and the tasks they finished by when. Partial, so they hold only
            # those rows: a rep with 1.9M activities at 1M contacts has 27,638 open tasks,
            # which (owner, done, due_at) mixed with every call and email not "done".
            models.Index(
                fields=["owner", "due_at"],
                condition=Q(kind="task", done=False),
                name="activity_open_tasks",
            ),
            models.Index(
                fields=["owner", "-done_at"],
                condition=Q(done=True),
                name="activity_done_by_owner",
            ),
            # The calendar: tasks due and meetings held in a week or a month, done or not,
            # in time order, of one owner (checked inside the index) or of everyone (the
            # kind index read all 1.25M meetings for one rep's week at 20M activities).
            models.Index(
                fields=["due_at", "owner"], condition=Q(kind="task"), name="activity_task_due"
            ),
            models.Index(
                fields=["occurred_at", "owner"],
                condition=Q(kind="meeting"),
                name="activity_meeting_time",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "source", "external_id"],
                name="activity_external_id_per_writer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

"""In-app notifications (the bell) and each user's notification preferences: which kinds
also arrive by email, the time zone and working hours email waits for, and the default
reminder of new tasks and meetings."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationKind(models.TextChoices):
    TASK_DUE = "task_due", "Task due"
    TASK_OVERDUE = "task_overdue", "Task overdue"
    MEETING_REMINDER = "meeting_reminder", "Meeting reminder"
    ASSIGNED_TO_YOU = "assigned_to_you", "Assigned to you"
    MENTIONED = "mentioned", "Mentioned"
    # Kinds other modules raise (webhooks, imports, automation); `system` is the catch-all.
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook disabled"
    IMPORT_FINISHED = "import_finished", "Import finished"
    AUTOMATION = "automation", "Automation"
    SYSTEM = "system", "Other"


# Emailed unless the user turns them off; the rest are in-app only unless turned on.
DEFAULT_EMAIL_KINDS = [
    NotificationKind.TASK_DUE,
    NotificationKind.TASK_OVERDUE,
    NotificationKind.MEETING_REMINDER,
    NotificationKind.ASSIGNED_TO_YOU,
    NotificationKind.MENTIONED,
    NotificationKind.WEBHOOK_DISABLED,
]
DEFAULT_WORK_DAYS = [0, 1, 2, 3, 4]  # Monday..Friday (date.weekday())
DEFAULT_REMINDER_MINUTES = 15


def default_work_days() -> list[int]:
    return list(DEFAULT_WORK_DAYS)


def default_email_kinds() -> list[str]:
    return [str(kind) for kind in DEFAULT_EMAIL_KINDS]


class EmailDelivery(models.TextChoices):
    """How the kinds in `email_kinds` reach the user by email."""

    IMMEDIATELY = "immediately", "Immediately (each on its own, in working hours)"
    HOURLY = "hourly", "Hourly digest"
    DAILY = "daily", "Daily digest"
    OFF = "off", "Off (in-app only)"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, max_length=2000)
    # Where the notification leads: a path inside Rapport (a record page, a thread, a list).
    link = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Same key, same recipient → the same notification: a retried job never notifies twice.
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # The email copy, when the recipient's preferences asked for one: its own email, or the
    # digest that listed it (set in the digest's transaction: a notification is in one digest).
    email = models.ForeignKey(
        "mail.MailMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_list"),
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_dedupe",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """One row per user who changed something; `preferences_for` supplies the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the server's")
    work_start = models.TimeField(default=datetime.time(9))
    work_end = models.TimeField(default=datetime.time(17))
    work_days = models.JSONField(default=default_work_days)
    email_kinds = models.JSONField(default=default_email_kinds)
    email_delivery = models.CharField(
        max_length=12, choices=EmailDelivery.choices, default=EmailDelivery.IMMEDIATELY
    )
    # When the last digest email was queued (hourly: the next one waits an hour; daily: the
    # next one waits for the next local day).
    last_digest_at = models.DateTimeField(null=True, blank=True)
    default_reminder_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=DEFAULT_REMINDER_MINUTES
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id"]
        indexes = [
            models.Index(
                fields=["email_delivery"],
                condition=Q(email_delivery__in=["hourly", "daily"]),
                name="notification_pref_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

"""The service desk's records: cases, their categories and queues.

A case is not an OwnedRecord: a new case usually has no owner yet (it waits in a queue).
Who sees a case follows its customer's visibility, its queue's membership and its owner
(rapport/cases/selectors.py). The SLA clock lives in rapport/sla; the *_due_at columns
here are its current result, kept on the row so that every case list sorts by them.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from rapport.records.dates import SaneDates
from rapport.records.models import Tag


def due_sort():
    """The API's sort key: the next SLA target, cases without one last (the same expression
    on both backends, and the one the open-case indexes below are built on)."""
    return Coalesce(
        "due_at", models.Value("9999-12-31T00:00:00+00:00", output_field=models.DateTimeField())
    )


class CaseStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING_CUSTOMER = "pending_customer", "Pending customer"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (
    CaseStatus.NEW,
    CaseStatus.OPEN,
    CaseStatus.PENDING_CUSTOMER,
    CaseStatus.ON_HOLD,
)


class CasePriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class CaseChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    IVR = "ivr", "IVR"
    CHAT = "chat", "Chat"
    WEB_FORM = "web_form", "Web form"
    PORTAL = "portal", "Portal"
    SOCIAL = "social", "Social"
    IN_PERSON = "in_person", "In person"


class ServiceTier(models.TextChoices):
    """The customer's value tier for service (from analytics or a manual override)."""

    PLATINUM = "platinum", "Platinum"
    GOLD = "gold", "Gold"
    SILVER = "silver", "Silver"
    STANDARD = "standard", "Standard"


class CaseCategory(models.Model):
    """Admin-defined; a category with a parent is a sub-category."""

    name = models.CharField(max_length=120)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_complaint = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="case_category_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.parent} › {self.name}" if self.parent_id else self.name


class AssignmentMode(models.TextChoices):
    MANUAL = "manual", "Agents pick cases"
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_OPEN = "least_open", "Least open work"


class Queue(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    assignment = models.CharField(
        max_length=12, choices=AssignmentMode.choices, default=AssignmentMode.MANUAL
    )
    mailbox = models.ForeignKey(
        "mail.Mailbox",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Public replies to this queue's cases go out from here.",
    )
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar", null=True, blank=True, on_delete=models.SET_NULL
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="QueueMember", related_name="case_queues"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class QueueMember(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    capacity = models.PositiveIntegerField(
        default=20, help_text="Open cases this agent takes from the queue before being skipped."
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)  # round robin

    class Meta:
        ordering = ["queue", "user"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "user"], name="queue_member_unique")
        ]


class AgentAvailability(models.TextChoices):
    AVAILABLE = "available", "Available"
    BUSY = "busy", "Busy"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class AgentStatus(models.Model):
    """The availability an agent sets; routing assigns only to available agents."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_status"
    )
    availability = models.CharField(
        max_length=10, choices=AgentAvailability.choices, default=AgentAvailability.OFFLINE
    )
    updated_at = models.DateTimeField(auto_now=True)


class CaseNumber(models.Model):
    """The single-row counter behind human-readable case numbers (locked while taken)."""

    last = models.PositiveBigIntegerField(default=0)


class Case(SaneDates, models.Model):
    number = models.PositiveBigIntegerField(unique=True)
    subject = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    asset = models.ForeignKey(
        "assets.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.ForeignKey(
        CaseCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subcategory = models.ForeignKey(
        CaseCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    priority = models.CharField(
        max_length=10, choices=CasePriority.choices, default=CasePriority.NORMAL
    )
    channel = models.CharField(
        max_length=10, choices=CaseChannel.choices, default=CaseChannel.EMAIL
    )
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.NEW)
    tier = models.CharField(max_length=10, choices=ServiceTier.choices, blank=True)
    language = models.CharField(max_length=10, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    mailbox = models.ForeignKey(
        "mail.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Intake from telephony/IVR/chat: the writer's key (rapport/records/external_ids.py).
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    source = models.CharField(max_length=60, blank=True, default="")
    details = models.JSONField(default=dict, blank=True, help_text="IVR path, call duration, …")
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    custom = models.JSONField(default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_cases"
    )
    related_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        help_text="The earlier case a late customer reply reopened as this one.",
    )
    # The SLA clock's current result (rapport/sla keeps the events they come from).
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="The earliest pending SLA target; lists sort by it."
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # How it was resolved (complaints: refund, replacement, repair, explanation, …; free text
    # kept short so it can be grouped in reports).
    resolution_code = models.CharField(max_length=60, blank=True, default="")
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["queue", "status", "due_at", "id"]),
            models.Index(fields=["owner", "status", "due_at", "id"]),
            models.Index(fields=["account", "-created_at", "-id"]),
            models.Index(fields=["contact", "-created_at", "-id"]),
            models.Index(fields=["status", "due_at", "id"]),
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["external_id", "source"], name="case_external_id_idx"),
            # The workspace's "my cases" and "unassigned in my queues": open cases in the
            # lists' order (due first, NULLs last = PostgreSQL's ASC), so the first page is
            # read from the index instead of sorting every open case of the owner / queues
            # (bench/RESULTS.md, 1M cases).
            models.Index(
                fields=["owner", "due_at", "-created_at", "-id"],
                name="case_open_owner_due_idx",
                condition=models.Q(status__in=OPEN_STATUSES, deleted_at__isnull=True),
            ),
            models.Index(
                fields=["due_at", "-created_at", "-id", "queue"],
                name="case_open_unassigned_due_idx",
                condition=models.Q(
                    status__in=OPEN_STATUSES, deleted_at__isnull=True, owner__isnull=True
                ),
            ),
            # The same two lists through the API, whose keyset sorts by (due_sort(), id).
            models.Index(
                models.F("owner"),
                due_sort(),
                models.F("id"),
                name="case_open_owner_duesort_idx",
                condition=models.Q(status__in=OPEN_STATUSES, deleted_at__isnull=True),
            ),
            models.Index(
                due_sort(),
                models.F("id"),
                models.F("queue"),
                name="case_open_unassigned_sort_idx",
                condition=models.Q(
                    status__in=OPEN_STATUSES, deleted_at__isnull=True, owner__isnull=True
                ),
            ),
            # The count of "unassigned in my queues" (the API list's `count`): an index-only
            # scan of the agent's queues' open unassigned cases, not of every queue's.
            models.Index(
                fields=["queue", "id"],
                name="case_open_unassigned_queue_idx",
                condition=models.Q(
                    status__in=OPEN_STATUSES, deleted_at__isnull=True, owner__isnull=True
                ),
            ),
            # The case page's resolution-code suggestions: the codes of the latest cases
            # that have one, read backwards from this index instead of a DISTINCT over
            # every case (selectors.resolution_codes).
            models.Index(
                fields=["id", "resolution_code"],
                name="case_resolution_code_idx",
                condition=~models.Q(resolution_code=""),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "source", "external_id"], name="case_external_id_per_writer"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseEntryKind(models.TextChoices):
    REPLY = "reply", "Public reply"
    CUSTOMER = "customer", "Customer message"
    NOTE = "note", "Internal note"


class CaseEntry(models.Model):
    """One item of a case's conversation. Public replies and customer messages carry
    their mail message (the one outbox sends replies; inbound mail is stored by the
    mail app); internal notes and phone/chat entries have only a body."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=CaseEntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True)
    message = models.ForeignKey(
        "mail.MailMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at", "id"])]


class CaseEntryAttachment(models.Model):
    """A file on a conversation entry: uploaded with an agent's reply (also sent as a mail
    attachment through the outbox) or note, or an inbound email's attachment. The bytes are
    in rapport/files' one storage layer; only who can see the case may download them
    (cases:attachment checks the case and that the file is this case's)."""

    entry = models.ForeignKey(CaseEntry, on_delete=models.CASCADE, related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["entry", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "file"], name="case_entry_attachment_once")
        ]


class Macro(models.Model):
    """A canned reply: a body with merge fields (the one template engine) and field changes."""

    name = models.CharField(max_length=120, unique=True)
    body = models.TextField(blank=True)
    set_fields = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"status": "pending_customer"}'
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """One ordered routing rule: every condition that is set must match (keywords: any of
    them in the subject or description); the first matching rule picks the queue and,
    when set, the priority."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    category = models.ForeignKey(
        CaseCategory, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=CaseChannel.choices, blank=True)
    mailbox = models.ForeignKey(
        "mail.Mailbox", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    language = models.CharField(max_length=10, blank=True)
    keywords = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; any one in the subject or text."
    )
    tier = models.CharField(max_length=10, choices=ServiceTier.choices, blank=True)
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="routing_rules")
    priority = models.CharField(max_length=10, choices=CasePriority.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class AccountServiceTier(models.Model):
    """A manual service tier for an account; it wins over the tier derived from analytics."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="service_tier"
    )
    tier = models.CharField(max_length=10, choices=ServiceTier.choices)
    note = models.CharField(max_length=200, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account"]

"""What every customer record shares: ownership, version, soft delete, tags, custom
fields; plus the sharing rules (organisation-wide defaults and explicit shares)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from rapport.records.dates import SaneDates


class ObjectType(models.TextChoices):
    ACCOUNT = "account", "Account"
    CONTACT = "contact", "Contact"
    LEAD = "lead", "Lead"
    OPPORTUNITY = "opportunity", "Opportunity"


class Access(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC_READ = "public_read", "Public read-only"
    PUBLIC_READ_WRITE = "public_read_write", "Public read/write"


class ShareAccess(models.TextChoices):
    READ = "read", "Read"
    EDIT = "edit", "Edit"


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ActiveManager(models.Manager):
    """Hides soft-deleted rows; `all_objects` still sees them (restore, admin)."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class OwnedRecord(SaneDates, models.Model):
    """Abstract base of accounts, contacts, leads and opportunities.

    `team` is the owner's team when the owner was set: visibility filters on the
    indexed (owner_id, team_id) columns instead of joining users.
    """

    OBJECT_TYPE: str = ""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    custom = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ActiveManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        base_manager_name = "all_objects"


class OrgDefault(models.Model):
    """The organisation-wide default access of one object type."""

    object_type = models.CharField(max_length=20, choices=ObjectType.choices, unique=True)
    access = models.CharField(max_length=20, choices=Access.choices, default=Access.PRIVATE)

    class Meta:
        ordering = ["object_type"]

    def __str__(self) -> str:
        return f"{self.object_type}: {self.access}"


class RecordShare(models.Model):
    """A record shared with a user or a team, for reading or editing."""

    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    access = models.CharField(max_length=10, choices=ShareAccess.choices, default=ShareAccess.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["object_type", "user", "object_id"]),
            models.Index(fields=["object_type", "team", "object_id"]),
            models.Index(fields=["object_type", "object_id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, team__isnull=True)
                | Q(user__isnull=True, team__isnull=False),
                name="share_user_xor_team",
            ),
            models.UniqueConstraint(
                fields=["object_type", "object_id", "user"], name="share_unique_user"
            ),
            models.UniqueConstraint(
                fields=["object_type", "object_id", "team"], name="share_unique_team"
            ),
        ]


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    MONEY = "money", "Money"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    BOOLEAN = "boolean", "Yes/no"


class CustomFieldDefinition(models.Model):
    """An admin-defined field of one object type; values live in the record's `custom` JSON."""

    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=120)
    field_type = models.CharField(max_length=20, choices=FieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="custom_field_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"

"""Territories (a hierarchy with placement rules, reps and managers), where each account and
lead sits (`TerritoryMembership`, a table of its own rather than a column on the records), and
lead assignment rules with the reps' capacity, working hours and absences."""

from django.conf import settings
from django.db import models


class Territory(models.Model):
    name = models.CharField(max_length=120, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Territories are tried by priority (lower first), then by id; the first whose every rule
    # matches takes the record. A territory without rules takes nothing (a container).
    priority = models.IntegerField(default=100)
    description = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class RuleField(models.TextChoices):
    COUNTRY = "country", "Country"
    REGION = "region", "Region"
    POSTCODE = "postal_code", "Postcode range"
    INDUSTRY = "industry", "Industry"
    SIZE = "size", "Company size"
    REVENUE = "annual_revenue", "Revenue band"
    NAMED = "named_account", "Named accounts"


class TerritoryRule(models.Model):
    """One condition of a territory; a record matches the territory when it matches every
    rule. `values` is a list (any of, case-insensitive; account ids for named accounts);
    postcode and revenue rules use `low`..`high` (inclusive; either may be empty)."""

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=20, choices=RuleField.choices)
    values = models.JSONField(default=list, blank=True)
    low = models.CharField(max_length=40, blank=True)
    high = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["territory", "id"]

    def __str__(self) -> str:
        if self.field in (RuleField.POSTCODE, RuleField.REVENUE):
            return f"{self.get_field_display()} {self.low or '…'}–{self.high or '…'}"
        return f"{self.get_field_display()} in {', '.join(map(str, self.values))}"


class MemberRole(models.TextChoices):
    REP = "rep", "Rep"
    MANAGER = "manager", "Manager"


class TerritoryMember(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.REP)

    class Meta:
        ordering = ["territory", "role", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "user", "role"], name="territory_member_unique"
            )
        ]


class TerritoryMembership(models.Model):
    """Where one account or lead sits: at most one territory per record."""

    object_type = models.CharField(max_length=20)  # "account" or "lead"
    object_id = models.BigIntegerField()
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="+")
    placed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id"], name="territory_membership_unique"
            )
        ]
        indexes = [models.Index(fields=["territory", "object_type", "object_id"])]


class RealignmentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Realignment(models.Model):
    """A run placing every account and lead again after the rules changed."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=RealignmentStatus.choices, default=RealignmentStatus.QUEUED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    scanned = models.PositiveIntegerField(default=0)
    moved = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


# ----- assignment rules ----------------------------------------------------------------------


class Strategy(models.TextChoices):
    USER = "user", "To a user"
    ROUND_ROBIN = "round_robin", "Round robin in a team"
    LEAST_LOADED = "least_loaded", "Least loaded in a team"
    TERRITORY_REP = "territory_rep", "The territory's rep"


class AssignmentRule(models.Model):
    """Ordered (position, id): the first active rule whose conditions match a new record and
    that finds an available user assigns it. `conditions` maps field → list of accepted
    values (case-insensitive), all must match; empty matches everything."""

    object_type = models.CharField(max_length=20, default="lead")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.USER)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Round robin: when each user last got a record from this rule ({user_id: iso time}),
    # moved under a row lock on the rule.
    state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_type", "position", "id"]

    def __str__(self) -> str:
        return self.name


class RepAvailability(models.Model):
    """What assignment respects for one user: open records they may hold (capacity, empty =
    no limit), their working hours (a business calendar) and an absence window."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_availability"
    )
    capacity = models.PositiveIntegerField(null=True, blank=True)
    calendar = models.ForeignKey(
        "calendars.BusinessCalendar", null=True, blank=True, on_delete=models.SET_NULL
    )
    away_from = models.DateTimeField(null=True, blank=True)
    away_until = models.DateTimeField(null=True, blank=True)

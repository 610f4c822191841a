"""Duplicate detection and merging: candidate pairs for review, the blocking keys they were
found by, detection runs and the log of every merge (which undo replays backwards).

Records are referred to by (object_type, id) rather than by foreign keys: a pair or a merge
log must outlive the soft deletion of its records, and one table serves three record types.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class DuplicateObjectType(models.TextChoices):
    ACCOUNT = "account", "Account"
    CONTACT = "contact", "Contact"
    LEAD = "lead", "Lead"


class CandidateStatus(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Dismissed"


class DuplicateCandidate(models.Model):
    """Two records that look like the same customer (record_a_id < record_b_id).

    A rerun of the detection updates an open pair's score and reasons; it never reopens a
    dismissed or merged pair, and never adds the same pair twice.
    """

    object_type = models.CharField(max_length=20, choices=DuplicateObjectType.choices)
    record_a_id = models.BigIntegerField()
    record_b_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.OPEN
    )
    found_at = models.DateTimeField()
    scored_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-score", "-id"]
        indexes = [
            models.Index(fields=["object_type", "status", "-score", "-id"]),
            models.Index(fields=["status", "-score", "-id"]),
            models.Index(fields=["object_type", "record_b_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "record_a_id", "record_b_id"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(record_a_id__lt=F("record_b_id")), name="duplicate_pair_ordered"
            ),
            models.CheckConstraint(condition=Q(score__lte=100), name="duplicate_score_max_100"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.record_a_id} ~ {self.record_b_id} ({self.score})"


class DuplicateKey(models.Model):
    """One blocking key of one record (see matching.py): the index the create-time check
    and incremental runs look records up by."""

    object_type = models.CharField(max_length=20, choices=DuplicateObjectType.choices)
    record_id = models.BigIntegerField()
    value = models.CharField(max_length=200)

    class Meta:
        ordering = ["object_type", "value", "record_id"]
        indexes = [models.Index(fields=["object_type", "record_id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "value", "record_id"], name="duplicate_key_unique"
            )
        ]


class RunMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DuplicateRun(models.Model):
    """One detection run over one record type; the last finished run's start is where the
    next incremental run picks up."""

    object_type = models.CharField(max_length=20, choices=DuplicateObjectType.choices)
    mode = models.CharField(max_length=12, choices=RunMode.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    keys = models.PositiveIntegerField(default=0)
    blocks = models.PositiveIntegerField(default=0)
    largest_block = models.PositiveIntegerField(default=0)
    pairs_compared = models.PositiveBigIntegerField(default=0)
    pairs_bound = models.PositiveBigIntegerField(default=0)
    candidates_new = models.PositiveIntegerField(default=0)
    candidates_updated = models.PositiveIntegerField(default=0)
    candidates_removed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0.0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["object_type", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.mode} {self.object_type} run {self.started_at:%Y-%m-%d %H:%M}"


class MergeLog(models.Model):
    """Everything one merge changed, so that undo can put it back exactly.

    `survivor_before` / `survivor_after`: the survivor's changed fields before and after
    (JSON values); `merged_snapshot`: every field of the merged record, its tags, emails and
    phones; `moved`: "app.Model.field" → ids of the rows moved from the merged record to
    the survivor; `extras`: tags added, contact methods moved and primaries replaced.
    """

    object_type = models.CharField(max_length=20, choices=DuplicateObjectType.choices)
    survivor_id = models.BigIntegerField()
    merged_id = models.BigIntegerField()
    candidate = models.ForeignKey(
        DuplicateCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    field_choices = models.JSONField(default=dict, blank=True)
    survivor_before = models.JSONField(default=dict, blank=True)
    survivor_after = models.JSONField(default=dict, blank=True)
    merged_snapshot = models.JSONField(default=dict, blank=True)
    moved = models.JSONField(default=dict, blank=True)
    extras = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "survivor_id", "-at"]),
            models.Index(fields=["object_type", "merged_id", "-at"]),
            models.Index(fields=["-at", "-id"]),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.merged_id} → {self.survivor_id}"

"""Scoring: the admin's rule points, the trained models with their holdout metrics, and
one score row per lead and per open opportunity (tables of their own, not columns on the
records)."""

from django.conf import settings
from django.db import models


class RuleKind(models.TextChoices):
    FIT = "fit", "Fit"
    ENGAGEMENT = "engagement", "Engagement"


class ScoringRule(models.Model):
    """Points for a lead: fit rules test a field (`equals` any of `value`'s comma-separated
    words, `contains`, `not_empty`); engagement rules count the lead's activities, emails or
    web visits and give `points` per unit up to `cap`."""

    kind = models.CharField(max_length=12, choices=RuleKind.choices, default=RuleKind.FIT)
    field = models.CharField(max_length=40)
    operator = models.CharField(max_length=12, default="equals")
    value = models.CharField(max_length=200, blank=True)
    points = models.IntegerField(default=10)
    cap = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self) -> str:
        if self.kind == RuleKind.ENGAGEMENT:
            return f"{self.points:+d} per {self.field.replace('_', ' ')}" + (
                f" (at most {self.cap})" if self.cap else ""
            )
        op = {"equals": "is", "contains": "contains", "not_empty": "is filled"}.get(
            self.operator, self.operator
        )
        return f"{self.field.replace('_', ' ')} {op} {self.value}".strip() + f": {self.points:+d}"


class Target(models.TextChoices):
    LEAD = "lead", "Lead conversion"
    OPPORTUNITY = "opportunity", "Opportunity win"


class ScoreModel(models.Model):
    """One training of a target. `usable` False: too little history (the rule score or the
    stage default stays); `metrics` holds the holdout AUC, Brier, ECE and reliability of the
    model and of the naive-Bayes baseline (and, for opportunities, of the stage default and
    the stages where the model is better)."""

    target = models.CharField(max_length=12, choices=Target.choices)
    trained_at = models.DateTimeField()
    outcomes = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    usable = models.BooleanField(default=False)
    message = models.CharField(max_length=300, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    blob = models.BinaryField(null=True, blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-trained_at", "-id"]
        indexes = [models.Index(fields=["target", "-trained_at"])]


class LeadScore(models.Model):
    lead = models.OneToOneField(
        "leads.Lead", on_delete=models.CASCADE, primary_key=True, related_name="score_row"
    )
    rule_score = models.IntegerField(default=0)
    learned = models.FloatField(null=True, blank=True)  # calibrated probability, 0–1
    score = models.PositiveSmallIntegerField(default=0, db_index=True)  # shown, 0–100
    source = models.CharField(max_length=10, default="rule")  # "learned" or "rule"
    reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField()


class OpportunityScore(models.Model):
    opportunity = models.OneToOneField(
        "sales.Opportunity", on_delete=models.CASCADE, primary_key=True, related_name="score_row"
    )
    probability = models.PositiveSmallIntegerField(default=0, db_index=True)  # shown, 0–100
    learned = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=10, default="stage")  # "model" or "stage"
    reasons = models.JSONField(default=list, blank=True)
    scored_at = models.DateTimeField()

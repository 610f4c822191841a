"""Quotas, submitted forecasts (commits) and forecast categories of opportunities.

Tables of their own keyed by user / team / territory / opportunity: no columns are added to
sales' tables (another branch owns their migrations)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"


class Quota(models.Model):
    """A target for one user, team or territory in one period (exactly one of the three)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    territory = models.ForeignKey(
        "territories.Territory", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["period_start", "period_kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, team__isnull=True, territory__isnull=True)
                    | Q(user__isnull=True, team__isnull=False, territory__isnull=True)
                    | Q(user__isnull=True, team__isnull=True, territory__isnull=False)
                ),
                name="quota_one_target",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_amount_not_negative"),
            models.UniqueConstraint(
                fields=["user", "period_kind", "period_start"],
                condition=Q(user__isnull=False),
                name="quota_unique_user_period",
            ),
            models.UniqueConstraint(
                fields=["team", "period_kind", "period_start"],
                condition=Q(team__isnull=False),
                name="quota_unique_team_period",
            ),
            models.UniqueConstraint(
                fields=["territory", "period_kind", "period_start"],
                condition=Q(territory__isnull=False),
                name="quota_unique_territory_period",
            ),
        ]


class ForecastSubmission(models.Model):
    """A user's own forecast number (commit) for a period. Every submission is kept (the log
    of changes); the latest per user and period is the one that counts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_submissions"
    )
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    amount = models.DecimalField(max_digits=16, decimal_places=2)
    note = models.CharField(max_length=300, blank=True)
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["period_start", "user_id", "submitted_at", "id"]
        indexes = [models.Index(fields=["period_kind", "period_start", "user", "submitted_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="forecast_submission_not_negative"
            )
        ]


class Category(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    OMITTED = "omitted", "Omitted"


class OpportunityCategory(models.Model):
    """The forecast category a rep (or their manager) set on an open opportunity; without a
    row the category follows the win probability (see `selectors.default_category`)."""

    opportunity = models.OneToOneField(
        "sales.Opportunity", on_delete=models.CASCADE, related_name="forecast_category"
    )
    category = models.CharField(max_length=12, choices=Category.choices)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["opportunity_id"]

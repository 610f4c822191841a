"""Analytics state kept in the operational database: refresh runs (with the incremental
watermark), the cost-rate settings, per-customer scores and model-fit reports.

The analysis snapshot itself lives in DuckDB (see warehouse.py); these tables hold what the
API must join with records and visibility: one score row per customer.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rapport.records.dates import SaneDates


class RunKind(models.TextChoices):
    FULL = "full", "Full rebuild"
    INCREMENTAL = "incremental", "Incremental refresh"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WarehouseRun(models.Model):
    """One refresh of the warehouse and the scores. The latest succeeded run's `watermark`
    is where the next incremental refresh starts reading changed orders."""

    kind = models.CharField(max_length=12, choices=RunKind.choices, default=RunKind.INCREMENTAL)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    stage = models.CharField(max_length=60, blank=True, help_text="What the run is doing now")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="Orders changed from here on are read by the next run"
    )
    rows = models.PositiveBigIntegerField(default=0, help_text="Orders read from the database")
    customers = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-finished_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


class ObservationEnd(models.TextChoices):
    """Where the observed history ends: the day recency, T, the RFM recency and the KPI
    windows are measured to. A history exported from elsewhere ends in the past; measuring it
    to today would call every customer silent since then. AUTO: today, unless the last order
    is more than 90 days old (an imported history, most likely): then that order's day."""

    AUTO = "auto", "Automatic: today, or the last order's day when it is over 90 days old"
    LAST_ORDER = "last_order", "The day of the last order"
    TODAY = "today", "Today"
    DATE = "date", "A fixed date"


RATE = {"max_digits": 12, "decimal_places": 2, "validators": [MinValueValidator(0)]}
UNIT = [MinValueValidator(0), MaxValueValidator(1)]


class AnalyticsSettings(SaneDates, models.Model):
    """Business configuration of the scores (one row, pk=1): cost rates per activity kind,
    marketing spend, discounting and the at-risk thresholds. Money is in the organisation's
    currency; every rate defaults to 0, i.e. profit = revenue until someone sets them."""

    cost_per_call = models.DecimalField(default=Decimal("0"), **RATE)
    cost_per_meeting = models.DecimalField(default=Decimal("0"), **RATE)
    cost_per_email = models.DecimalField(default=Decimal("0"), **RATE)
    cost_per_interaction = models.DecimalField(default=Decimal("0"), **RATE)
    cost_per_task = models.DecimalField(default=Decimal("0"), **RATE)
    cost_per_note = models.DecimalField(default=Decimal("0"), **RATE)
    marketing_cost_per_year = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
        help_text="Marketing spend of a year, split over the customers acquired in the last year",
    )
    annual_discount_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.1000"), validators=UNIT
    )
    margin = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("1.0000"),
        validators=[MinValueValidator(Decimal("0.0001")), MaxValueValidator(1)],
        help_text="Share of revenue that is profit, applied to CLV (1 = revenue CLV)",
    )
    holdout_weeks = models.PositiveSmallIntegerField(
        default=26,
        validators=[MinValueValidator(1), MaxValueValidator(260)],
        help_text="Length of the holdout period of the model-fit report",
    )
    at_risk_min_churn = models.FloatField(default=0.5, validators=UNIT)
    at_risk_value_quantile = models.FloatField(default=0.8, validators=UNIT)
    churn_min_per_class = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(1_000_000)],
        help_text=(
            "The supervised churn model is trained once at least this many closed and this "
            "many open accounts have purchases"
        ),
    )
    observation_end = models.CharField(
        max_length=12,
        choices=ObservationEnd.choices,
        default=ObservationEnd.AUTO,
        help_text="The day the analysis is as of (recency, model time T, KPI windows)",
    )
    observation_end_date = models.DateField(
        null=True, blank=True, help_text="The observation end when it is a fixed date"
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "analytics settings"

    def clean(self) -> None:
        if self.observation_end == ObservationEnd.DATE and self.observation_end_date is None:
            raise ValidationError(
                {"observation_end_date": "Give the date the observation ends on."}
            )
        if self.observation_end_date and self.observation_end_date > timezone.localdate():
            raise ValidationError(
                {"observation_end_date": "The observation cannot end after today."}
            )

    def __str__(self) -> str:
        return "Analytics settings"

    def cost_rates(self) -> dict[str, float]:
        """Cost per activity kind (the keys are ActivityKind values)."""
        return {
            "call": float(self.cost_per_call),
            "meeting": float(self.cost_per_meeting),
            "email": float(self.cost_per_email),
            "interaction": float(self.cost_per_interaction),
            "task": float(self.cost_per_task),
            "note": float(self.cost_per_note),
        }


MONEY = {"max_digits": 16, "decimal_places": 2}


class CustomerScore(models.Model):
    """Scores of one customer: an account, or a contact who bought without an account.

    Sortable scores (clv, churn_risk, value_at_risk) are never null (0 when no model could
    be fitted), so that keyset pagination can sort by them.
    """

    account = models.OneToOneField(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="customer_score",
    )
    contact = models.OneToOneField(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="customer_score",
    )
    run = models.ForeignKey(
        WarehouseRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    segment = models.CharField(max_length=30, blank=True, db_index=True)
    r_score = models.PositiveSmallIntegerField(default=0)
    f_score = models.PositiveSmallIntegerField(default=0)
    m_score = models.PositiveSmallIntegerField(default=0)
    recency_days = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    first_purchase = models.DateField(null=True, blank=True)
    last_purchase = models.DateField(null=True, blank=True)
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases_12w = models.FloatField(null=True, blank=True)
    expected_purchases_52w = models.FloatField(null=True, blank=True)
    expected_spend = models.DecimalField(null=True, blank=True, **MONEY)
    clv = models.DecimalField(default=Decimal("0"), **MONEY)
    churn_risk = models.FloatField(default=0.0)
    churn_source = models.CharField(
        max_length=20,
        blank=True,
        help_text="purchase_model (1 - P(alive)), classifier (closed-account model) or closed",
    )
    at_risk = models.BooleanField(default=False)
    value_at_risk = models.DecimalField(default=Decimal("0"), **MONEY)
    next_products = models.JSONField(default=list, blank=True)
    upsell_products = models.JSONField(default=list, blank=True)
    revenue = models.DecimalField(default=Decimal("0"), **MONEY)
    cost_to_serve = models.DecimalField(default=Decimal("0"), **MONEY)
    marketing_cost = models.DecimalField(default=Decimal("0"), **MONEY)
    profit = models.DecimalField(default=Decimal("0"), **MONEY)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-clv", "-id"]
        indexes = [
            models.Index(fields=["-clv", "-id"]),
            models.Index(fields=["-value_at_risk", "-id"]),
            models.Index(fields=["-churn_risk", "-id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(contact__isnull=True))
                | (Q(account__isnull=True) & Q(contact__isnull=False)),
                name="customer_score_one_customer",
            )
        ]

    def __str__(self) -> str:
        who = f"account {self.account_id}" if self.account_id else f"contact {self.contact_id}"
        return f"Scores of {who}"

    @property
    def customer_name(self) -> str:
        if self.account_id:
            return self.account.name
        return str(self.contact) if self.contact_id else ""


class ModelFit(models.Model):
    """The fit report of one model in one run: parameters, log-likelihood, calibration."""

    run = models.ForeignKey(WarehouseRun, on_delete=models.CASCADE, related_name="fits")
    model = models.CharField(max_length=30)
    params = models.JSONField(default=dict, blank=True)
    log_likelihood = models.FloatField(null=True, blank=True)
    n_customers = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(default=False)
    calibration = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "model"], name="model_fit_unique_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.model} fit of run {self.run_id}"

"""Pipelines and stages as data, opportunities with a stage history, products, price
books, opportunity line items and exchange rates."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from rapport.records.dates import SaneDates
from rapport.records.iso_codes import validate_currency
from rapport.records.models import ObjectType, OwnedRecord


class Pipeline(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(default=10, help_text="Default win %, 0–100")
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.OPEN)

    class Meta:
        ordering = ["pipeline_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_max_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline.name} / {self.name}" if self.pipeline_id else self.name


class Opportunity(OwnedRecord):
    OBJECT_TYPE = ObjectType.OPPORTUNITY
    # Linked records whose names reads embed, each only when the reader may see it.
    SHOWN_LINKS = ("account", "primary_contact")

    name = models.CharField(max_length=200)
    account = models.ForeignKey(
        "accounts.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    primary_contact = models.ForeignKey(
        "accounts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="opportunities")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    probability = models.PositiveSmallIntegerField(default=10)
    expected_close_date = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.CharField(max_length=200, blank=True)
    # Free text beside the picklist reason (the reports group by `lost_reason` only).
    lost_note = models.TextField(max_length=2000, blank=True)
    source = models.CharField(max_length=60, blank=True)
    description = models.TextField(blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta(OwnedRecord.Meta):
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"]),
            models.Index(fields=["team", "-created_at", "-id"]),
            models.Index(fields=["stage", "-created_at", "-id"]),
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["expected_close_date"]),
            # The board's first cards of a column.
            models.Index(
                fields=["stage", "expected_close_date", "-amount", "id"], name="opp_board_cards"
            ),
            # A rep's dashboard: their open pipeline by stage and won revenue by month, read
            # from this index alone (an index-only scan on PostgreSQL, which keeps the
            # included columns in the index) instead of a heap fetch per deal they own.
            models.Index(
                fields=["owner", "stage", "expected_close_date"],
                include=["currency", "amount", "probability", "id"],
                condition=models.Q(deleted_at__isnull=True),
                name="opp_owner_stage_sums",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def weighted_amount(self) -> Decimal:
        return (self.amount * self.probability / Decimal(100)).quantize(Decimal("0.01"))


class StageTotal(models.Model):
    """How many active (not deleted) opportunities sit in each (stage, currency,
    probability), and their amounts in cents: the admin's pipeline KPI and the unfiltered
    board read these few rows instead of aggregating every opportunity.

    Kept by database triggers on `sales_opportunity` (migration `sales.0009`), not by the
    services: every write of a stage, amount, probability, currency or `deleted_at` — the
    services, merges, imports, the bulk loader's COPY, `QuerySet.update()`, raw SQL —
    goes through them, so no write path can be forgotten. PostgreSQL: statement-level
    triggers over the transition tables (one upsert per statement and changed group);
    SQLite: row-level triggers. `test_stage_totals.py` checks every path against a
    recomputation and that the triggers exist after all migrations (a later migration
    that rebuilds the table on SQLite would drop them). `stage_id` has no foreign key: a
    stage is deleted only when no opportunity uses it, and its zero rows may stay."""

    stage_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    probability = models.IntegerField()
    count = models.BigIntegerField(default=0)
    cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage_id", "currency", "probability"], name="stage_total_unique_group"
            )
        ]

    def __str__(self) -> str:
        return f"stage {self.stage_id} {self.currency} {self.probability}%: {self.count}"


class StageChange(models.Model):
    """One move of an opportunity between stages: the source of time-in-stage reports."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["opportunity_id", "changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"])]


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    description = models.TextField(blank=True)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    unit_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    is_active = models.BooleanField(default=True)
    # Installed base: a tracked product creates one asset per unit sold, whose warranty
    # ends `warranty_months` after installation (or the order date).
    is_tracked = models.BooleanField(default=False)
    warranty_months = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class PriceBook(models.Model):
    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency])
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PriceBookEntry(models.Model):
    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="entries")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="price_entries")
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["price_book_id", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["price_book", "product"], name="pricebook_entry_unique")
        ]


class LineItem(models.Model):
    """A product on an opportunity; the sum of line totals drives the opportunity amount."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="line_items"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["opportunity_id", "position", "id"]

    @property
    def total(self) -> Decimal:
        gross = self.quantity * self.unit_price
        return (gross * (Decimal(100) - self.discount_percent) / Decimal(100)).quantize(
            Decimal("0.01")
        )


class ExchangeRate(SaneDates, models.Model):
    """Units of the organisation's currency for one unit of `currency`, from a date on."""

    currency = models.CharField(max_length=3, validators=[validate_currency])
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="rate_unique_day")
        ]


class LostReason(models.Model):
    """An admin-defined reason a deal is lost (the picklist of the lost dialogs and the API;
    win/loss reports group by it). The opportunity keeps the reason's name in `lost_reason`,
    so a renamed reason renames its deals' reason too (sales.services.lost_reasons)."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name", "id"]

    def __str__(self) -> str:
        return self.name

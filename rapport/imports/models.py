"""Import jobs (an uploaded CSV/XLSX file, its column mapping and its progress), the
per-row error report and saved mappings."""

from django.conf import settings
from django.db import models


class ImportObject(models.TextChoices):
    """What a file imports; the values are the API's plural nouns (`/api/contacts`)."""

    ACCOUNTS = "accounts", "Accounts"
    CONTACTS = "contacts", "Contacts"
    LEADS = "leads", "Leads"
    OPPORTUNITIES = "opportunities", "Opportunities"
    PRODUCTS = "products", "Products"
    ORDERS = "orders", "Orders"
    ASSETS = "assets", "Installed products (assets)"


class ImportPolicy(models.TextChoices):
    """What to do with a row that matches an existing record."""

    UPDATE = "update", "Update the matching record (changed fields only)"
    SKIP = "skip", "Skip rows that match a record"
    CREATE = "create", "Always create a new record"


class ImportStatus(models.TextChoices):
    # The upload is stored; the worker reads its header and first rows (never the request).
    READING = "reading", "Reading the file"
    PENDING = "pending", "Pending"
    VALIDATING = "validating", "Validating the file"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


ACTIVE_STATUSES = (ImportStatus.VALIDATING, ImportStatus.RUNNING)
FINISHED_STATUSES = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED)


class ImportJob(models.Model):
    """One uploaded file and its import. Counts are of data rows; in a dry run they say
    what the import would do."""

    object_type = models.CharField(max_length=20, choices=ImportObject.choices)
    file_path = models.CharField(max_length=500)
    original_name = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=4, choices=FileFormat.choices, default="csv")
    encoding = models.CharField(max_length=40, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list, blank=True)
    # The first data rows as text, read by the worker with the header (the mapping's samples).
    preview = models.JSONField(default=list, blank=True)
    # What the upload (or a new encoding/delimiter) asked for once the file is read: mapping,
    # saved mapping, encoding, delimiter, start. Emptied when the worker has applied it.
    requested = models.JSONField(default=dict, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="column header → field key")
    policy = models.CharField(
        max_length=10, choices=ImportPolicy.choices, default=ImportPolicy.UPDATE
    )
    dry_run = models.BooleanField(default=False)
    strict = models.BooleanField(
        default=False,
        help_text="A phone that cannot be read fails its row (otherwise the row is imported "
        "without it, with a warning)",
    )
    create_customers = models.BooleanField(
        default=False,
        help_text="Orders: a customer email that matches no contact creates the contact (and "
        "its account, from a company column)",
    )
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    cancel_requested = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Other counts (accounts created on the way by a contact import, …).
    extra = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at", "-id"])]

    def __str__(self) -> str:
        return f"Import #{self.pk} of {self.object_type} ({self.original_name})"


class IssueLevel(models.TextChoices):
    ERROR = "error", "Error"  # the row was not imported
    WARNING = "warning", "Warning"  # the row was imported without that cell


class ImportRowError(models.Model):
    """One problem of one data row (row 1 is the header, as in a spreadsheet). A row with
    several problems has several entries; `raw` is the row as read from the file. A warning
    is a cell left out of a row that was imported all the same."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    level = models.CharField(max_length=8, choices=IssueLevel.choices, default=IssueLevel.ERROR)
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500)
    code = models.CharField(max_length=40)
    raw = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["job_id", "row_number", "id"]
        indexes = [models.Index(fields=["job", "row_number", "id"])]


class SavedMapping(models.Model):
    """A column mapping kept for the next file of the same shape."""

    name = models.CharField(max_length=100)
    object_type = models.CharField(max_length=20, choices=ImportObject.choices)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_type", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "object_type", "name"], name="saved_mapping_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.object_type})"

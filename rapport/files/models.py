"""Files kept through one storage layer (settings.STORAGES["default"]: a local folder by
default, an S3-compatible store through django-storages as a setting): files uploaded on
records, email attachments and raw messages alike.

A file may hang off a record (account, contact, lead, opportunity) through the same nullable
foreign keys the timeline uses; files of other apps (a mail attachment, a raw message) are
reached from the owning row, which points here. Who may download a file follows who may see
the record (or the row) it belongs to: see `rapport.files.selectors`.
"""

from django.conf import settings
from django.db import models


class FileKind(models.TextChoices):
    RECORD = "record", "Uploaded on a record"
    MAIL_ATTACHMENT = "mail_attachment", "Email attachment"
    MAIL_RAW = "mail_raw", "Raw email message"


# The object type of a record → the StoredFile field that points at it.
RECORD_FIELDS = {
    "account": "account",
    "contact": "contact",
    "lead": "lead",
    "opportunity": "opportunity",
}


def _upload_to(instance: "StoredFile", filename: str) -> str:
    # The stored name is the content hash (no user-supplied path reaches the storage); the
    # original name is kept in `name` and sent back as the download's filename.
    return f"files/{instance.sha256[:2]}/{instance.sha256[2:4]}/{instance.sha256}"


class StoredFile(models.Model):
    kind = models.CharField(max_length=20, choices=FileKind.choices, default=FileKind.RECORD)
    file = models.FileField(upload_to=_upload_to, max_length=200)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Removed from its record by a user (rapport.files.services.record_file_delete): hidden
    # from every list and download, restorable; the bytes stay until an erasure purges them.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["contact", "-created_at"]),
            models.Index(fields=["lead", "-created_at"]),
            models.Index(fields=["opportunity", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.name

"""What the web UI stores for its users: saved list views."""

from django.conf import settings
from django.db import models


class SavedView(models.Model):
    """A user's named list view: the filter query string and the chosen columns of one list."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    # The list it belongs to: "account", "contact", later "lead", "opportunity", "order" …
    object_type = models.CharField(max_length=30)
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=2000, blank=True, help_text="URL-encoded filters")
    columns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_type", "name", "id"]
        indexes = [models.Index(fields=["user", "object_type"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "object_type", "name"], name="saved_view_unique_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_type}: {self.name}"

    def list_query(self) -> str:
        """The list's query string that shows this view (without the leading ?)."""
        parts = [self.query] if self.query else []
        if self.columns:
            parts.append("cols=" + ",".join(self.columns))
        parts.append(f"view={self.pk}")
        return "&".join(parts)

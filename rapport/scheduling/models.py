"""When each periodic job is due next: one row per entry of settings.RAPPORT_SCHEDULE."""

from django.db import models


class ScheduleEntry(models.Model):
    name = models.CharField(max_length=100, unique=True)
    next_due_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name_plural = "schedule entries"

    def __str__(self) -> str:
        return self.name

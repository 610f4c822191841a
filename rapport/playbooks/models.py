"""Stage playbooks: each pipeline stage carries a checklist of recommended next steps, shown
on the opportunities in that stage; checking a step is kept per opportunity."""

from django.conf import settings
from django.db import models


class PlaybookStep(models.Model):
    stage = models.ForeignKey("sales.Stage", on_delete=models.CASCADE, related_name="playbook")
    text = models.CharField(max_length=200)
    hint = models.CharField(max_length=500, blank=True, help_text="How, or why it matters")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stage_id", "position", "id"]

    def __str__(self) -> str:
        return self.text


class StepCheck(models.Model):
    opportunity = models.ForeignKey(
        "sales.Opportunity", on_delete=models.CASCADE, related_name="playbook_checks"
    )
    step = models.ForeignKey(PlaybookStep, on_delete=models.CASCADE, related_name="checks")
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "step"], name="playbook_check_unique")
        ]

"""CSAT and NPS surveys: one invitation per link, answered at most once.

A CSAT invitation is written when a case is resolved; an NPS invitation per contact of a
segment or N days after an order. The link carries the invitation id, signed; the answer is
stored on the invitation itself, so a forwarded link cannot vote twice (a second vote is
refused and the first answer stands)."""

from django.conf import settings
from django.db import models


class SurveyKind(models.TextChoices):
    CSAT = "csat", "CSAT (1–5)"
    NPS = "nps", "NPS (0–10)"


SCALE = {SurveyKind.CSAT: (1, 5), SurveyKind.NPS: (0, 10)}


class NpsSurvey(models.Model):
    """An NPS campaign: sent once to a segment's members, or to every order's contact
    `days_after_order` days after the order."""

    name = models.CharField(max_length=120)
    question = models.CharField(
        max_length=300, default="How likely are you to recommend us to a friend or colleague?"
    )
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    days_after_order = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class SurveyInvitation(models.Model):
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    nps_survey = models.ForeignKey(
        NpsSurvey, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Denormalised for the dashboard's breakdowns (as they were when the survey was sent).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.ForeignKey(
        "cases.CaseCategory", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "sales.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(max_length=254)
    sent_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    answer_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["kind", "answered_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(kind="csat", case__isnull=False),
                name="one_csat_per_case",
            ),
            models.UniqueConstraint(
                fields=["nps_survey", "contact", "order"], name="one_nps_per_survey_contact_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

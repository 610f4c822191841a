"""Forms of the analytics pages: shape only; the services decide (who may, what is valid)."""

from django import forms

from rapport.analytics.models import AnalyticsSettings
from rapport.analytics.numeric.rfm import SEGMENT_RULES
from rapport.analytics.services import SETTINGS_FIELDS

SEGMENT_CHOICES = [("", "Any segment")] + [
    (r.segment, r.segment.capitalize()) for r in SEGMENT_RULES
]


def segment_filter_field() -> forms.ChoiceField:
    """The `?segment=` filter of the account and contact lists (the API's parameter)."""
    return forms.ChoiceField(choices=SEGMENT_CHOICES, required=False, label="Segment")


class RefreshForm(forms.Form):
    full = forms.BooleanField(required=False, label="Full rebuild")


LABELS = {
    "annual_discount_rate": (
        "Annual discount rate",
        "Discounts future purchases in the CLV, e.g. 0.1 for 10 % a year",
    ),
    "at_risk_min_churn": ("At-risk churn threshold", "Churn risk from 0 to 1, e.g. 0.5"),
    "at_risk_value_quantile": (
        "At-risk revenue quantile",
        "0.8: only the top 20 % of customers by revenue can be at risk",
    ),
    "observation_end": (
        "Observation end",
        "The day the analysis is as of: recency, the models' time and the KPI windows end "
        "there. Today suits a CRM where orders are recorded as they happen; the last order's "
        "day suits a history exported from elsewhere. Automatic picks the last order's day "
        "when it is over 90 days old, else today",
    ),
    "observation_end_date": (
        "Observation end date",
        "Used when the observation end is a fixed date (not after today)",
    ),
    "churn_min_per_class": (
        "Closed accounts needed for the churn model",
        "The churn classifier is trained once this many closed and this many open accounts "
        "have purchases; until then churn risk comes from the purchase model",
    ),
}


def _settings_field(name: str) -> forms.Field:
    model_field = AnalyticsSettings._meta.get_field(name)
    field = model_field.formfield()
    field.required = not model_field.blank
    if name == "observation_end_date":
        field.widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    if name in LABELS:
        field.label, field.help_text = LABELS[name]
    return field


class AnalyticsSettingsForm(forms.Form):
    """Cost rates and model settings (the API's PATCH /settings fields), with the version the
    form was opened at so that a concurrent change is not overwritten."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, instance: AnalyticsSettings, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SETTINGS_FIELDS:
            self.fields[name] = _settings_field(name)
            self.initial[name] = getattr(instance, name)
        self.initial["version"] = instance.version

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}

    def cost_fields(self) -> list:
        return [self[n] for n in SETTINGS_FIELDS if "cost" in n]

    def model_fields(self) -> list:
        return [
            self[n] for n in SETTINGS_FIELDS if "cost" not in n and not n.startswith("observation")
        ]

    def observation_fields(self) -> list:
        return [self[n] for n in SETTINGS_FIELDS if n.startswith("observation")]

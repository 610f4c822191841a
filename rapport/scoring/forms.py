from django import forms

from rapport.scoring.models import RuleKind
from rapport.scoring.services import ENGAGEMENT_FIELDS, FIT_FIELDS


class ScoringRuleForm(forms.Form):
    kind = forms.ChoiceField(choices=RuleKind.choices)
    field = forms.ChoiceField(
        choices=[(f, f.replace("_", " ").capitalize()) for f in FIT_FIELDS]
        + [(f, f"{f.replace('_', ' ').capitalize()} (count)") for f in ENGAGEMENT_FIELDS],
        help_text="Fit rules test a field; engagement rules count activities, emails or web visits.",
    )
    operator = forms.ChoiceField(
        choices=[("equals", "is one of"), ("contains", "contains"), ("not_empty", "is filled")],
        required=False,
    )
    value = forms.CharField(max_length=200, required=False, help_text="Comma-separated words.")
    points = forms.IntegerField(min_value=-100, max_value=100, initial=10)
    cap = forms.IntegerField(
        min_value=0, required=False, help_text="Engagement: count at most this many."
    )

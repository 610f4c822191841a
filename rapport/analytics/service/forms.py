"""The Service dashboard's filter: date range, queue, category, channel, and the staffing
targets."""

from django import forms

from rapport.cases.models import CaseChannel


class ServiceDashboardForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    queue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Queue")
    category = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Category"
    )
    channel = forms.ChoiceField(
        required=False, choices=[("", "All channels"), *CaseChannel.choices], label="Channel"
    )
    horizon = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=42,
        initial=42,
        choices=[(28, "4 weeks"), (42, "6 weeks"), (56, "8 weeks")],
        label="Forecast",
    )
    aht_seconds = forms.IntegerField(
        required=False, min_value=1, max_value=86400, initial=300, label="Handle time (s)"
    )
    target_share = forms.IntegerField(
        required=False, min_value=1, max_value=99, initial=80, label="Answer (%)"
    )
    target_seconds = forms.IntegerField(
        required=False, min_value=0, max_value=86400, initial=20, label="Within (s)"
    )

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", "All queues")] + [
            (q["id"], q["name"]) for q in choices["queues"]
        ]
        self.fields["category"].choices = [("", "All categories")] + [
            (c["id"], c["name"]) for c in choices["categories"]
        ]

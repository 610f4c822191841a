"""Forms of the segment pages: shape only; services decide."""

from django import forms

from rapport.segments.models import LifecycleRules, SegmentKind
from rapport.web.pickers import RecordPickerField


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name")
    description = forms.CharField(max_length=500, required=False, label="Description")
    kind = forms.ChoiceField(
        choices=SegmentKind.choices,
        label="Kind",
        initial=SegmentKind.DYNAMIC,
        help_text="Dynamic: the filter decides and membership follows every change. "
        "Static: a list you fill by hand, by file or from the contact list.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class MembersAddForm(forms.Form):
    contacts = RecordPickerField(object_type="contact", multiple=True, label="Contacts")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].bind(user)


class MembersImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="One email address or contact id per line (a CSV: its first column), "
        "UTF-8, at most 5 MB.",
    )


class LifecycleRulesForm(forms.ModelForm):
    class Meta:
        model = LifecycleRules
        fields = [
            "lead_min_activities",
            "loyal_min_orders",
            "loyal_months",
            "at_risk_churn",
            "at_risk_days",
            "lost_days",
        ]
        labels = {
            "lead_min_activities": "Lead: activities logged",
            "loyal_min_orders": "Loyal: orders",
            "loyal_months": "Loyal: within months",
            "at_risk_churn": "At risk: churn risk from",
            "at_risk_days": "At risk: days without an order",
            "lost_days": "Lost: days without an order",
        }

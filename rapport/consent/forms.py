"""Forms of the consent pages: they check shape only; the services decide."""

from django import forms

from rapport.consent.models import (
    Channel,
    ConsentAction,
    ConsentPurpose,
    SuppressionReason,
)


class AgentConsentForm(forms.Form):
    """An agent records consent a person gave or withdrew (by phone, in person, by letter)."""

    purpose = forms.ModelChoiceField(queryset=ConsentPurpose.objects.none(), label="Purpose")
    channel = forms.ChoiceField(choices=Channel.choices, label="Channel")
    action = forms.ChoiceField(
        choices=[(ConsentAction.OPT_IN, "Opt-in"), (ConsentAction.OPT_OUT, "Opt-out")],
        label="Answer",
    )
    note = forms.CharField(
        max_length=500,
        label="How was it given?",
        help_text="e.g. “Phone call 5 Dec, read the policy text aloud”",
    )

    prefix = "consent"  # ids unique on a record page full of forms

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].queryset = ConsentPurpose.objects.filter(active=True)


class PurposeForm(forms.ModelForm):
    class Meta:
        model = ConsentPurpose
        fields = [
            "name",
            "slug",
            "description",
            "policy_text",
            "policy_version",
            "requires_double_opt_in",
            "active",
        ]
        widgets = {"policy_text": forms.Textarea(attrs={"rows": 5})}
        labels = {"slug": "Key", "requires_double_opt_in": "Double opt-in for email"}
        help_texts = {"slug": "Short name used by the API and web forms, e.g. newsletter."}


class SuppressionForm(forms.Form):
    address = forms.CharField(max_length=254, label="Email address")
    reason = forms.ChoiceField(choices=SuppressionReason.choices, initial="manual")
    note = forms.CharField(max_length=500, required=False, label="Note")


class SuppressionRemoveForm(forms.Form):
    note = forms.CharField(max_length=500, label="Why may it receive marketing again?")

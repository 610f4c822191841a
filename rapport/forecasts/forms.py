from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from rapport.forecasts.periods import MONTH, QUARTER, parse_period, period_containing


def period_choices(kind: str, around=None, back: int = 4, ahead: int = 3):
    current = period_containing(kind, around or timezone.localdate())
    return [(current.shifted(k).key, current.shifted(k).label) for k in range(-back, ahead + 1)]


class ForecastForm(forms.Form):
    period = forms.ChoiceField(label="Period", required=False)
    # Any scope key; whether the viewer may look at it is `resolve_scope`'s to say (404).
    scope = forms.CharField(label="Whose", max_length=30, required=False, widget=forms.Select)

    def __init__(self, data, *, scopes):
        super().__init__(data)
        today = timezone.localdate()
        quarters = period_choices(QUARTER, today)
        months = period_choices(MONTH, today, back=6, ahead=3)
        self.fields["period"].choices = [("Quarters", quarters), ("Months", months)]
        self.fields["period"].initial = period_containing(QUARTER, today).key
        key = (data or {}).get("scope")
        if key and key not in {k for k, _ in scopes}:
            scopes = [*scopes, (key, key)]
        self.fields["scope"].widget.choices = scopes
        self.fields["scope"].initial = "me"

    def clean_scope(self):
        return self.cleaned_data.get("scope") or "me"

    def clean_period(self):
        if not self.cleaned_data.get("period"):
            return period_containing(QUARTER, timezone.localdate())
        try:
            return parse_period(self.cleaned_data["period"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["period"]) from None


class CommitForm(forms.Form):
    amount = forms.DecimalField(min_value=0, max_digits=16, decimal_places=2, label="My forecast")
    note = forms.CharField(max_length=300, required=False, label="Note")

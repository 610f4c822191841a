"""The staff form of a new return; the source (order line or asset) comes from the URL and
is loaded through the visibility layer by the view."""

from django import forms

from rapport.returns.models import Condition, Disposition, ReturnReason


class ReturnForm(forms.Form):
    quantity = forms.DecimalField(min_value=0.01, max_digits=12, decimal_places=2, initial=1)
    reason = forms.ChoiceField(choices=ReturnReason.choices)
    condition = forms.ChoiceField(choices=Condition.choices)
    disposition = forms.ChoiceField(choices=Disposition.choices, label="Requested disposition")
    description = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, line=None, asset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if line is None:
            # An asset is one unit: no quantity to choose.
            del self.fields["quantity"]
        else:
            self.fields["quantity"].widget.attrs["max"] = f"{line.quantity.normalize():f}"

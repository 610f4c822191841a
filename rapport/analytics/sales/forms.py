import datetime

from django import forms

from rapport.analytics.sales.metrics import SalesFilters, default_filters
from rapport.sales.models import Pipeline


class SalesReportForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.order_by("position", "id"), required=False, empty_label=None
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name in ("start", "end"):
            value = data.get(name)
            if value and not (1900 <= value.year <= 2200):
                self.add_error(name, "Choose a date between 1900 and 2200.")
        if start and end and start > end:
            self.add_error("end", "The end must not be before the start.")
        if start and end and (end - start) > datetime.timedelta(days=3660):
            self.add_error("start", "Choose at most ten years.")
        return data

    def filters(self) -> SalesFilters:
        base = default_filters(self.cleaned_data.get("pipeline"))
        return SalesFilters(
            start=self.cleaned_data.get("start") or base.start,
            end=self.cleaned_data.get("end") or base.end,
            pipeline=base.pipeline,
        )

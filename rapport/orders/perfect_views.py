"""The Perfect order analytics page (Analytics → Perfect order)."""

import datetime

from django import forms
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from rapport.orders.models import Channel
from rapport.orders.perfect import perfect_order_metrics
from rapport.web.decorators import ui_view


class PerfectOrderForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(
        required=False, choices=[("", "All channels"), *Channel.choices], label="Channel"
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The start is after the end.")
        return data


def _pct(value):
    return None if value is None else round(value * 100, 1)


def chart_data(metrics: dict) -> dict:
    def series(rows):
        return {
            "labels": [r["label"] for r in rows],
            "perfect": [_pct(r["perfect_rate"]) for r in rows],
            "otif": [_pct(r["otif_rate"]) for r in rows],
            "median": [r["lead_time_median_days"] for r in rows],
            "p90": [r["lead_time_p90_days"] for r in rows],
        }

    return {"channel": series(metrics["by_channel"]), "product": series(metrics["by_product"])}


@ui_view
@require_safe
def perfect_order(request):
    form = PerfectOrderForm(request.GET or None)
    context = {"tab": "perfect_order", "form": form}
    if request.GET and not form.is_valid():
        return render(request, "orders/perfect_order.html", context, status=422)
    values = form.cleaned_data if request.GET else {}
    end = values.get("end") or timezone.localdate()
    start = values.get("start") or end - datetime.timedelta(days=90)
    metrics = perfect_order_metrics(
        user=request.user, start=start, end=end, channel=values.get("channel") or None
    )
    context.update({"metrics": metrics, "perfect_chart_data": chart_data(metrics)})
    return render(request, "orders/perfect_order.html", context)

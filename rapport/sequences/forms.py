"""The sequence form: its fields and a fixed number of step rows (empty rows are ignored), so
the page needs no script to add a step."""

from django import forms

from rapport.calendars.models import BusinessCalendar
from rapport.mail.selectors import templates_active
from rapport.sequences.models import StepKind

STEP_ROWS = 8


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    calendar_id = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        label="Business calendar",
        empty_label="Every day counts",
        help_text="Which days the waits and task due dates count.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        templates = [("", "Template…")] + [(t.pk, t.name) for t in templates_active()]
        for i in range(STEP_ROWS):
            self.fields[f"step_{i}_kind"] = forms.ChoiceField(
                choices=[("", "Step…")] + list(StepKind.choices), required=False, label="Step"
            )
            self.fields[f"step_{i}_template"] = forms.ChoiceField(
                choices=templates, required=False, label="Email template"
            )
            self.fields[f"step_{i}_subject"] = forms.CharField(
                max_length=200,
                required=False,
                label="What to do",
                widget=forms.TextInput(attrs={"placeholder": "What to do (call, task)"}),
            )
            self.fields[f"step_{i}_days"] = forms.IntegerField(
                min_value=0,
                max_value=90,
                required=False,
                label="Days",
                widget=forms.NumberInput(attrs={"placeholder": "Days"}),
            )

    def step_rows(self):
        return [
            {
                "n": i + 1,
                "kind": self[f"step_{i}_kind"],
                "template": self[f"step_{i}_template"],
                "subject": self[f"step_{i}_subject"],
                "days": self[f"step_{i}_days"],
            }
            for i in range(STEP_ROWS)
        ]

    def steps(self) -> list[dict]:
        data = self.cleaned_data
        out = []
        for i in range(STEP_ROWS):
            kind = data.get(f"step_{i}_kind")
            if not kind:
                continue
            days = data.get(f"step_{i}_days") or 0
            out.append(
                {
                    "kind": kind,
                    "template_id": data.get(f"step_{i}_template") or None,
                    "subject": data.get(f"step_{i}_subject") or "",
                    "wait_days": days if kind == StepKind.WAIT else 0,
                    "due_in_days": days if kind != StepKind.WAIT else 0,
                }
            )
        return out

    def fields_data(self) -> dict:
        data = self.cleaned_data
        calendar = data.get("calendar_id")
        return {
            "name": data["name"],
            "description": data.get("description") or "",
            "is_active": bool(data.get("is_active")),
            "calendar_id": calendar.pk if calendar else None,
        }


class EnrolForm(forms.Form):
    sequence_id = forms.TypedChoiceField(coerce=int, choices=[], label="Sequence")

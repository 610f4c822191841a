"""The form builder's Django forms: the settings of a web form, and the field rows (which
record fields the form asks, their labels, required flags and order) read from the POST."""

from django import forms

from rapport.campaigns.models import Campaign
from rapport.consent.models import ConsentPurpose
from rapport.identity.models import Role, Team, User
from rapport.webforms.catalogue import catalogue
from rapport.webforms.models import WebForm


class WebFormSettingsForm(forms.ModelForm):
    consent_purposes = forms.ModelMultipleChoiceField(
        queryset=ConsentPurpose.objects.filter(active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A checkbox per purpose with its policy text; email opt-ins are confirmed "
        "by the double opt-in link.",
    )

    class Meta:
        model = WebForm
        fields = [
            "name",
            "slug",
            "title",
            "intro",
            "submit_label",
            "target",
            "assign_mode",
            "assign_user",
            "assign_team",
            "campaign",
            "lead_source",
            "thank_you_message",
            "redirect_url",
            "min_fill_seconds",
            "is_active",
            "consent_purposes",
        ]
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "thank_you_message": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "slug": "Address (/f/…/)",
            "min_fill_seconds": "Minimum fill time (seconds)",
            "target": "Creates",
            "assign_mode": "Assign",
            "assign_user": "User",
            "assign_team": "Team (round robin)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["title"].required = False
        self.fields["assign_user"].queryset = User.objects.filter(is_active=True).exclude(
            role=Role.READ_ONLY
        )
        self.fields["assign_team"].queryset = Team.objects.order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")


def field_rows(target: str, current: list[dict], data=None) -> list[dict]:
    """One row per catalogue field: included?, label, required, position — from the POST
    when given, else from the form's current fields."""
    chosen = {f["key"]: (i, f) for i, f in enumerate(current or [])}
    rows = []
    for n, (key, spec) in enumerate(catalogue(target).items()):
        pos, item = chosen.get(key, (None, None))
        if data is not None:
            included = data.get(f"f_{key}_on") == "on" or key == "email"
            label = data.get(f"f_{key}_label", spec.label)
            required = data.get(f"f_{key}_req") == "on" or key == "email"
            try:
                position = int(data.get(f"f_{key}_pos") or 100 + n)
            except ValueError:
                position = 100 + n
        else:
            included = item is not None or key == "email"
            label = item["label"] if item else spec.label
            required = bool(item and item.get("required")) or key == "email"
            position = (pos + 1) if pos is not None else 100 + n
        rows.append(
            {
                "key": key,
                "default_label": spec.label,
                "label": label,
                "included": included,
                "required": required,
                "position": position,
                "locked": key == "email",
            }
        )
    return rows


def fields_from_rows(rows: list[dict]) -> list[dict]:
    chosen = sorted((r for r in rows if r["included"]), key=lambda r: (r["position"], r["key"]))
    return [{"key": r["key"], "label": r["label"], "required": r["required"]} for r in chosen]

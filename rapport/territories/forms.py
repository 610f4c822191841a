"""Forms of the territory and assignment pages. Rules are typed one per line — `country: FR,
BE`, `postal_code: 75000-75999`, `annual_revenue: 1000000-`, `named_account: 12, 14` —
short to write and to read back."""

from django import forms

from rapport.identity.models import Team, User
from rapport.territories.models import RuleField, Strategy, Territory
from rapport.web.forms import UserChoiceField, UsersChoiceField

RANGE_FIELDS = (RuleField.POSTCODE, RuleField.REVENUE)


def rules_to_text(rules) -> str:
    lines = []
    for r in rules:
        if r.field in RANGE_FIELDS:
            lines.append(f"{r.field}: {r.low}-{r.high}")
        else:
            lines.append(f"{r.field}: {', '.join(r.values)}")
    return "\n".join(lines)


def parse_rules(text: str) -> list[dict]:
    out = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        field, sep, rest = line.partition(":")
        field = field.strip().lower().replace(" ", "_")
        if not sep or field not in RuleField.values:
            raise forms.ValidationError(
                f"Line {n}: start with one of {', '.join(RuleField.values)} and a colon"
            )
        rest = rest.strip()
        if field in RANGE_FIELDS:
            low, _, high = rest.partition("-")
            out.append({"field": field, "low": low.strip(), "high": high.strip()})
        else:
            out.append(
                {"field": field, "values": [v.strip() for v in rest.split(",") if v.strip()]}
            )
    return out


class TerritoryForm(forms.Form):
    name = forms.CharField(max_length=120)
    parent = forms.ModelChoiceField(queryset=None, required=False, empty_label="(top level)")
    priority = forms.IntegerField(
        initial=100,
        help_text="Lower is tried first; the first territory whose rules all match wins.",
    )
    description = forms.CharField(max_length=300, required=False)
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line: country: FR, BE · region: Bavaria · postal_code: 75000-75999 · "
        "industry: Retail · size: 50-249 · annual_revenue: 1000000- · named_account: 12, 14",
    )
    reps = UsersChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    managers = UsersChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Managers read every account and lead of the territory and of those below it.",
    )

    def __init__(self, *args, territory: Territory | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Territory.objects.all()
        if territory is not None:
            parents = parents.exclude(pk=territory.pk)
        self.fields["parent"].queryset = parents
        users = User.objects.filter(is_active=True).order_by("first_name", "username")
        self.fields["reps"].queryset = users
        self.fields["managers"].queryset = users

    def clean_rules(self):
        return parse_rules(self.cleaned_data.get("rules", ""))

    @staticmethod
    def initial_for(territory: Territory) -> dict:
        members = list(territory.members.all())
        return {
            "name": territory.name,
            "parent": territory.parent_id,
            "priority": territory.priority,
            "description": territory.description,
            "rules": rules_to_text(territory.rules.all()),
            "reps": [m.user_id for m in members if m.role == "rep"],
            "managers": [m.user_id for m in members if m.role == "manager"],
        }


def parse_conditions(text: str) -> dict:
    out = {}
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        field, sep, rest = line.partition(":")
        if not sep:
            raise forms.ValidationError(f"Line {n}: write field: value, value")
        out[field.strip().lower()] = [v.strip() for v in rest.split(",") if v.strip()]
    return out


class AssignmentRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    object_type = forms.ChoiceField(choices=[("lead", "Leads"), ("account", "Accounts")])
    position = forms.IntegerField(min_value=0, initial=0, help_text="Lower runs first.")
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="One per line, all must match: source: web, referral · country: DE · "
        "territory: 3 (a territory id). Empty matches every record.",
    )
    strategy = forms.ChoiceField(choices=Strategy.choices)
    user = UserChoiceField(queryset=None, required=False, empty_label="—")
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="—")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True)

    def clean_conditions(self):
        return parse_conditions(self.cleaned_data.get("conditions", ""))

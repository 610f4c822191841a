"""Forms of the settings pages (shape only; the services decide)."""

from django import forms
from django.core.validators import RegexValidator

from rapport.identity.models import Role
from rapport.identity.selectors import teams_for, users_for
from rapport.records.models import Access, FieldType, ObjectType
from rapport.sales.models import StageKind
from rapport.web.forms import UserChoiceField

USERNAME = RegexValidator(r"^[\w.@+-]+$", "Letters, digits and . @ + - _ only")
KEY = RegexValidator(
    r"^[a-z][a-z0-9_]{0,59}$", "Lower-case letters, digits and _, starting with a letter"
)

ROLE_HELP = {
    Role.ADMIN: "Sees and changes everything, including these settings.",
    Role.MANAGER: "Sees and changes the records of their team and the teams below it; "
    "manages products and price books; may read the settings.",
    Role.SALES_REP: "Sees and changes their own records, the ones shared with them and, "
    "where the organisation-wide default allows, everyone's.",
    Role.READ_ONLY: "Reads what a sales rep in their place would see; changes nothing.",
}
ACCESS_HELP = {
    Access.PRIVATE: "Only the owner, the managers above the owner's team, people it is "
    "shared with, and administrators see a record.",
    Access.PUBLIC_READ: "Everyone sees every record; only those above may change it.",
    Access.PUBLIC_READ_WRITE: "Everyone sees and changes every record.",
}
STANDARD_STAGES = [
    {"name": "Prospecting", "kind": StageKind.OPEN, "probability": 10},
    {"name": "Qualified", "kind": StageKind.OPEN, "probability": 25},
    {"name": "Proposal", "kind": StageKind.OPEN, "probability": 50},
    {"name": "Negotiation", "kind": StageKind.OPEN, "probability": 75},
    {"name": "Won", "kind": StageKind.WON, "probability": 100},
    {"name": "Lost", "kind": StageKind.LOST, "probability": 0},
]


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[USERNAME])
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(max_length=254, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.SALES_REP)
    team = TeamChoiceField(queryset=None, required=False, empty_label="— no team —")
    password = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Empty: the user sets one through “Forgot your password?”",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for(user)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        names = ("username", "first_name", "last_name", "email", "role", "team")
        return {**{k: data[k] for k in names}, "password": data["password"] or None}


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    manager = UserChoiceField(queryset=None, required=False, empty_label="— no manager —")
    parent = TeamChoiceField(
        queryset=None, required=False, empty_label="— top level —", label="Part of"
    )

    def __init__(self, *args, user, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = users_for(user).filter(is_active=True)
        parents = teams_for(user)
        if team is not None:
            parents = parents.exclude(pk=team.pk)
            self.initial.update(
                {"name": team.name, "manager": team.manager_id, "parent": team.parent_id}
            )
        self.fields["parent"].queryset = parents


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    team = TeamChoiceField(queryset=None, required=False, empty_label="— no team —")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for(user)


class OrgDefaultForm(forms.Form):
    access = forms.ChoiceField(choices=Access.choices)


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=100)
    is_default = forms.BooleanField(required=False, label="Default pipeline")
    standard_stages = forms.BooleanField(
        required=False,
        initial=True,
        label="Start with the usual stages",
        help_text="Prospecting, Qualified, Proposal, Negotiation, Won, Lost",
    )


class PipelineRenameForm(forms.Form):
    name = forms.CharField(max_length=100)
    is_default = forms.BooleanField(required=False, label="Default pipeline")


class StageForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=StageKind.choices, initial=StageKind.OPEN)
    probability = forms.IntegerField(
        min_value=0, max_value=100, required=False, label="Win %", help_text="Empty: by kind"
    )


class CustomFieldForm(forms.Form):
    object_type = forms.ChoiceField(choices=ObjectType.choices, label="Object")
    label = forms.CharField(max_length=120)
    key = forms.CharField(
        max_length=60,
        validators=[KEY],
        help_text="The name in the API and CSV, e.g. tier; it cannot change later",
    )
    field_type = forms.ChoiceField(choices=FieldType.choices, label="Type")
    choices = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For choice types: one choice a line",
    )
    required = forms.BooleanField(required=False)
    position = forms.IntegerField(min_value=0, max_value=10000, initial=0, required=False)

    def clean_choices(self) -> list[str]:
        lines = [c.strip() for c in self.cleaned_data.get("choices", "").splitlines()]
        values = list(dict.fromkeys(c for c in lines if c))
        if any(len(c) > 100 for c in values):
            raise forms.ValidationError("A choice is at most 100 characters")
        return values

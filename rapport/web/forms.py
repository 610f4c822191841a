"""Forms shared by every page: the list filter bar, bulk actions, saved views, API tokens,
and putting a service's ValidationError next to the field it names."""

import re

from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError

from rapport.identity.selectors import teams_for, users_for
from rapport.identity.services import user_password_set
from rapport.records.exceptions import Conflict
from rapport.records.iso_codes import (
    country_choices,
    country_code,
    currency_choices,
    currency_code,
)

DATE_INPUT = forms.DateInput(attrs={"type": "date"})
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class IsoCodeField(forms.ChoiceField):
    """A picker over a standard list whose posted value may also be a code in any case or
    an exact name ("germany" → "DE"), as a form sent without the picker would have it."""

    def __init__(self, *, to_code, **kwargs):
        self.to_code = to_code
        super().__init__(**kwargs)

    def to_python(self, value):
        return self.to_code(super().to_python(value))


def country_field(**kwargs) -> forms.ChoiceField:
    """A picker over the ISO 3166 countries: the name is shown, the two-letter code sent."""
    kwargs.setdefault("required", False)
    return IsoCodeField(
        to_code=country_code, choices=lambda: [("", "—"), *country_choices()], **kwargs
    )


def currency_field(*, empty: str = "", **kwargs) -> forms.ChoiceField:
    """A picker over the ISO 4217 currencies ("EUR — Euro"); `empty` labels a blank
    choice (for "the account's currency"), none without it."""
    blank = [("", empty)] if empty else []
    return IsoCodeField(
        to_code=currency_code, choices=lambda: [*blank, *currency_choices()], **kwargs
    )


def error_messages(exc: ValidationError | Conflict) -> dict[str, list[str]]:
    """{field: [message, …]} of a service's ValidationError or Conflict (`__all__` for the
    form)."""
    if isinstance(exc, Conflict):
        return {exc.field or "__all__": [str(exc)]}
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc}
    return {"__all__": [str(m) for m in exc.messages]}


def field_label(path: str, form: forms.Form | None = None) -> str:
    """A service's field path in words: "emails[0].email" → "Email 1",
    "lines[2].quantity" → "Line 3: quantity", "custom.tier" → "Tier",
    "opportunity.stage_id" → "Opportunity: stage" (a form field's own label when it has one)."""
    if form is not None and path in form.fields and form.fields[path].label:
        return str(form.fields[path].label)
    words = []
    for name, index in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", path):
        if name == "custom":
            continue
        name = name.removesuffix("_id").replace("_", " ")
        if index:
            name = name.removesuffix("es" if name.endswith("ses") else "s")
            name = f"{name} {int(index) + 1}"
        words.append(name)
    if len(words) >= 2 and (words[-1] == "number" or words[-1].startswith(words[-2].split()[0])):
        words.pop()  # "emails[0].email" → "email 1", not "email 1: email"
    text = ": ".join(words) or path
    return text[:1].upper() + text[1:]


def add_service_errors(
    form: forms.Form,
    exc: ValidationError | Conflict,
    field_map: dict | None = None,
    *,
    fallback: str | None = None,
):
    """Attach the service's errors to the form fields they name.

    `field_map` maps a service field name ("owner_id", "emails[0].email") to a form field;
    "custom.<key>" lands on "cf_<key>"; anything else goes on `fallback` (a form with one
    input) or on top, prefixed with the field's name in words — never its internal path.
    """
    field_map = field_map or {}
    for field, messages in error_messages(exc).items():
        target = field_map.get(field, field)
        if target.startswith("custom."):
            target = "cf_" + target.removeprefix("custom.")
        labelled = target != "__all__"
        if target not in form.fields:
            target = fallback
        for message in messages:
            if target is None and labelled:
                message = f"{field_label(field, form)}: {message}"
            form.add_error(target, message)


def split_tags(text: str) -> list[str]:
    """'vip, partner' → ['partner', 'vip'] (commas separate; blanks dropped; ≤ 60 chars each)."""
    return sorted({t.strip()[:60] for t in (text or "").split(",") if t.strip()})


class MultiValueField(forms.Field):
    """A repeated query parameter (`?tag=a&tag=b`) as a list of short strings."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_items: int = 10, max_length: int = 200, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.max_items = max_items
        self.max_length = max_length

    def to_python(self, value):
        values = [str(v).strip() for v in (value or []) if str(v).strip()]
        if len(values) > self.max_items:
            raise ValidationError(f"At most {self.max_items} values", code="too_many")
        if any(len(v) > self.max_length for v in values):
            raise ValidationError(f"Values are at most {self.max_length} characters")
        return list(dict.fromkeys(values))


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class RecordFilterForm(forms.Form):
    """The filter bar of an owned-record list; the same parameter names as the API's."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    owner_id = UserChoiceField(queryset=None, required=False, label="Owner", empty_label="Anyone")
    team_id = forms.ModelChoiceField(
        queryset=None, required=False, label="Team", empty_label="Any team"
    )
    tag = MultiValueField(label="Tag", max_length=60)
    created_from = forms.DateField(required=False, label="Created from", widget=DATE_INPUT)
    created_to = forms.DateField(required=False, label="Created to", widget=DATE_INPUT)
    cf = MultiValueField(label="Custom field", max_length=200)

    # Extra filters a subclass adds: field name → selector keyword.
    extra_filters: dict[str, str] = {}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_id"].queryset = users_for(user).filter(is_active=True)
        self.fields["team_id"].queryset = teams_for(user)

    def clean_cf(self):
        values = self.cleaned_data["cf"]
        for value in values:
            if not re.fullmatch(r"[a-z][a-z0-9_]*(__[a-z]+)?=.*", value):
                raise ValidationError(f"'{value}' must look like key=value", code="invalid")
        return values

    def selector_kwargs(self) -> dict:
        """Keyword arguments of the object's list selector (only the filters that are set)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kwargs = {
            "q": data.get("q") or None,
            "owner_id": data["owner_id"].pk if data.get("owner_id") else None,
            "team_id": data["team_id"].pk if data.get("team_id") else None,
            "tags": data.get("tag") or [],
            "created_from": data.get("created_from"),
            "created_to": data.get("created_to"),
            "custom": data.get("cf") or [],
        }
        for field, keyword in self.extra_filters.items():
            value = data.get(field)
            kwargs[keyword] = getattr(value, "pk", value) if value not in ("", None) else None
        return kwargs

    def current(self, name: str) -> list[str]:
        """The raw values of a repeated parameter, for the hidden inputs that keep them."""
        if not self.is_bound or not hasattr(self.data, "getlist"):
            return []
        return [v for v in self.data.getlist(name) if v.strip()]

    def current_tags(self) -> list[str]:
        return self.current("tag")

    def current_cf(self) -> list[str]:
        return self.current("cf")

    def extra_fields(self) -> list:
        return [self[name] for name in self.extra_filters]

    def chips(self) -> list[dict]:
        """Active filters for the chip row: label, shown value, parameter and raw value."""
        if not self.is_bound or not self.is_valid():
            return []
        chips = []
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            if name == "q" or value in (None, "", []):
                continue
            if isinstance(field, MultiValueField):
                pairs = [(v, v) for v in value]
            elif isinstance(field, forms.ModelChoiceField):
                pairs = [(field.label_from_instance(value), self.data.get(name))]
            else:
                raw = self.data.get(name)
                labels = {str(k): v for k, v in getattr(field, "choices", [])}
                pairs = [(labels.get(str(raw), value), raw)]
            for shown, raw in pairs:
                chips.append({"label": field.label, "value": str(shown), "param": name, "raw": raw})
        return chips


class ListFilterForm(forms.Form):
    """The filter bar of a list that is not of owned records (activities, orders, products):
    each field is a keyword of the list's selector, under the same name as the API's query
    parameter. A model choice passes its pk; an empty field is left out."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def selector_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kwargs = {}
        for name in self.fields:
            value = data.get(name)
            if value is None or value == "" or value == []:
                continue
            kwargs[name] = getattr(value, "pk", value)
        return kwargs

    def chips(self) -> list[dict]:
        """Active filters for the chip row (choices shown by their labels)."""
        if not self.is_bound or not self.is_valid():
            return []
        chips = []
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            if name == "q" or value is None or value == "" or value == []:
                continue
            labels = {str(k): v for k, v in getattr(field, "choices", [])}
            if isinstance(field, MultiValueField):
                pairs = [(v, v) for v in value]
            elif isinstance(field, forms.ModelChoiceField):
                pairs = [(field.label_from_instance(value), self.data.get(name))]
            elif isinstance(field, forms.MultipleChoiceField):
                pairs = [(labels.get(str(v), v), v) for v in self.data.getlist(name)]
            else:
                raw = self.data.get(name)
                pairs = [(labels.get(str(raw), value), raw)]
            for shown, raw in pairs:
                chips.append({"label": field.label, "value": str(shown), "param": name, "raw": raw})
        return chips


class BulkActionForm(forms.Form):
    ACTIONS = [("assign", "Assign owner"), ("tag", "Add tag"), ("delete", "Delete")]

    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    owner_id = UserChoiceField(
        queryset=None, required=False, label="New owner", empty_label="New owner…"
    )
    tag = forms.CharField(required=False, max_length=60)
    # A list's own bulk action that needs a segment fills the choices (web/listing.py).
    segment_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, choices=[], label="Segment"
    )
    survey_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, choices=[], label="Survey"
    )
    sequence_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, choices=[], label="Sequence"
    )
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, user, actions: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_id"].queryset = users_for(user).filter(is_active=True)
        if actions is not None:
            self.fields["action"].choices = actions

    def clean_ids(self):
        return self.cleaned_data["ids"][:500]

    def clean(self):
        data = super().clean()
        if data.get("action") == "assign" and not data.get("owner_id"):
            self.add_error("owner_id", "Choose the new owner")
        if data.get("action") == "tag" and not (data.get("tag") or "").strip():
            self.add_error("tag", "Type the tag to add")
        if data.get("action") == "add_to_segment" and not data.get("segment_id"):
            self.add_error("segment_id", "Choose the segment")
        if data.get("action") == "send_nps" and not data.get("survey_id"):
            self.add_error("survey_id", "Choose the survey")
        if data.get("action") == "enrol_in_sequence" and not data.get("sequence_id"):
            self.add_error("sequence_id", "Choose the sequence")
        return data

    def full_clean(self):
        # The ids are whatever rows the page showed: accept any integers, the selector
        # decides which of them the user may touch.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(v, v) for v in raw if str(v).isdigit()]
        super().full_clean()


class SavedViewForm(forms.Form):
    object_type = forms.CharField(max_length=30)
    name = forms.CharField(max_length=60, label="View name")
    query = forms.CharField(max_length=2000, required=False)
    columns = forms.CharField(max_length=500, required=False)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", help_text="What will use it")


class _PasswordSetThroughService:
    """Saves through `user_password_set`, which also revokes the user's API tokens."""

    tokens_revoked = 0

    def save(self, commit=True):
        self.tokens_revoked = user_password_set(
            user=self.user, password=self.cleaned_data["new_password1"]
        )
        return self.user


class PasswordResetSetForm(_PasswordSetThroughService, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(_PasswordSetThroughService, auth_forms.PasswordChangeForm):
    pass

"""Forms of the account and contact pages. They only validate the shape of the input;
the services decide the rest, and their errors come back next to the field."""

from django import forms
from django.apps import apps

from rapport.accounts.models import CompanySize, ContactMethodKind
from rapport.accounts.selectors import accounts_visible_to
from rapport.analytics.forms import segment_filter_field
from rapport.identity.models import User
from rapport.identity.selectors import users_for
from rapport.records.custom_fields import definitions_for
from rapport.records.visibility import can_manage_access
from rapport.web.forms import (
    RecordFilterForm,
    UserChoiceField,
    country_field,
    currency_field,
    split_tags,
)
from rapport.web.pickers import RecordPickerField
from rapport.web.record_page import custom_form_field, custom_value


def _text(max_length: int, label: str | None = None, **kwargs) -> forms.CharField:
    return forms.CharField(max_length=max_length, required=False, label=label, **kwargs)


class OwnedRecordForm(forms.Form):
    """Owner, tags, custom fields and the version the form was opened at."""

    object_type = ""
    owner = UserChoiceField(queryset=None, required=False, empty_label=None)
    tags = _text(600, help_text="Separate tags with commas")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, user, record=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.record = record
        self.fields["owner"].queryset = users_for(user).filter(is_active=True)
        self.fields["owner"].initial = record.owner_id if record else user.pk
        if record is None and self.object_type in ("account", "lead"):
            from rapport.territories.models import AssignmentRule

            if AssignmentRule.objects.filter(object_type=self.object_type, is_active=True).exists():
                # New records may be left to the assignment rules (rapport/territories).
                self.fields["owner"].empty_label = "Assign by the assignment rules"
                self.fields["owner"].initial = None
                self.fields["owner"].help_text = "Leave it to the rules, or choose someone"
        if record is not None and not can_manage_access(record, user):
            # An edit share lets people change the record, not hand it on.
            self.fields["owner"].disabled = True
            self.fields["owner"].queryset = User.objects.filter(pk=record.owner_id)
            self.fields[
                "owner"
            ].help_text = "Only the owner, their managers and admins may change it"
        self.custom_keys = []
        for key, definition in definitions_for(self.object_type).items():
            field = custom_form_field(definition)
            field.label = definition.label
            self.fields[f"cf_{key}"] = field
            self.custom_keys.append(key)
            if record is not None:
                self.initial[f"cf_{key}"] = record.custom.get(key)
        if record is not None:
            self.initial["version"] = record.version
            self.initial["tags"] = ", ".join(sorted(t.name for t in record.tags.all()))

    def owned_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "owner": data.get("owner"),
            "tags": split_tags(data.get("tags", "")),
            "custom": {k: custom_value(data.get(f"cf_{k}")) for k in self.custom_keys},
        }

    def detail_field_names(self) -> list[str]:
        skip = {"owner", "tags", "version"}
        return [n for n in self.fields if n not in skip and not n.startswith("cf_")]

    def custom_field_names(self) -> list[str]:
        return [f"cf_{k}" for k in self.custom_keys]


ADDRESS_FIELDS = ["street", "city", "region", "postal_code", "country"]


class AccountForm(OwnedRecordForm):
    object_type = "account"
    name = forms.CharField(max_length=200)
    website = forms.URLField(max_length=300, required=False, assume_scheme="https")
    industry = _text(100)
    size = forms.ChoiceField(choices=[("", "—"), *CompanySize.choices], required=False)
    annual_revenue = forms.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False
    )
    currency = currency_field(initial="EUR")
    parent = RecordPickerField(
        object_type="account", required=False, label="Parent account", help_text="Its group"
    )
    street = _text(200)
    city = _text(100)
    region = _text(100)
    postal_code = _text(20)
    country = country_field()
    shipping_street = _text(200)
    shipping_city = _text(100)
    shipping_region = _text(100)
    shipping_postal_code = _text(20)
    shipping_country = country_field()
    description = _text(10000, widget=forms.Textarea(attrs={"rows": 4}))

    FIELDS = [
        "name",
        "website",
        "industry",
        "size",
        "annual_revenue",
        "currency",
        *ADDRESS_FIELDS,
        "shipping_street",
        "shipping_city",
        "shipping_region",
        "shipping_postal_code",
        "shipping_country",
        "description",
    ]

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        self.fields["parent"].bind(self.user, keep=[record.parent_id] if record else ())
        if record is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(record, name)
            self.initial["parent"] = record.parent_id

    def clean_parent(self):
        pk = self.cleaned_data.get("parent")
        if pk and self.record is not None and pk == self.record.parent_id:
            return self.record.parent  # unchanged (the editor may not see it)
        return accounts_visible_to(self.user).filter(pk=pk).first() if pk else None

    def service_kwargs(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.FIELDS}
        fields["currency"] = fields["currency"] or "EUR"
        parent = self.cleaned_data.get("parent")
        if self.record is None or (
            {"parent", "parent__q"} & set(self.data)
            and getattr(parent, "pk", None) != self.record.parent_id
        ):
            fields["parent"] = parent
        return {"fields": fields, **self.owned_kwargs()}


class ContactForm(OwnedRecordForm):
    object_type = "contact"
    first_name = _text(100)
    last_name = forms.CharField(max_length=100)
    title = _text(120)
    account = RecordPickerField(object_type="account", required=False, label="Account")
    email = _text(254, label="Email", help_text="Primary email")
    phone = _text(40, label="Phone", help_text="Primary phone")
    other_emails = _text(
        4000, label="Other emails", widget=forms.Textarea(attrs={"rows": 2}), help_text="One a line"
    )
    other_phones = _text(
        2000, label="Other phones", widget=forms.Textarea(attrs={"rows": 2}), help_text="One a line"
    )
    street = _text(200)
    city = _text(100)
    region = _text(100)
    postal_code = _text(20)
    country = country_field()
    description = _text(10000, widget=forms.Textarea(attrs={"rows": 4}))

    FIELDS = ["first_name", "last_name", "title", *ADDRESS_FIELDS, "description"]

    def __init__(self, *args, record=None, account_id=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        self.fields["account"].bind(self.user, keep=[record.account_id] if record else ())
        self.initial["account"] = record.account_id if record is not None else account_id
        if record is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(record, name)
            emails = list(record.emails.all())
            phones = list(record.phones.all())
            self.initial["email"] = emails[0].email if emails else ""
            self.initial["other_emails"] = "\n".join(e.email for e in emails[1:])
            self.initial["phone"] = phones[0].number if phones else ""
            self.initial["other_phones"] = "\n".join(p.number for p in phones[1:])
        self._service_fields: dict[str, str] = {}

    def clean_account(self):
        pk = self.cleaned_data.get("account")
        if pk is None:
            return None
        if self.record is not None and pk == self.record.account_id:
            return self.record.account  # unchanged (the editor may not see it)
        account = accounts_visible_to(self.user).filter(pk=pk).first()
        if account is None:
            raise forms.ValidationError("No such account", code="invalid_account")
        return account

    def _methods(self, primary: str, others: str, value_key: str, name: str, existing) -> list:
        kinds = {getattr(m, value_key): m.kind for m in existing}
        entries = []
        values = [(primary.strip(), name)] if primary.strip() else []
        values += [(v.strip(), f"other_{name}s") for v in others.splitlines() if v.strip()]
        for i, (value, field) in enumerate(values):
            self._service_fields[f"{name}s[{i}].{value_key}"] = field
            entries.append(
                {
                    value_key: value,
                    "kind": kinds.get(value, ContactMethodKind.WORK),
                    "is_primary": i == 0,
                }
            )
        return entries

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        record = self.record
        fields = {name: data[name] for name in self.FIELDS}
        account = data.get("account")
        if record is None or getattr(account, "pk", None) != record.account_id:
            fields["account"] = account
        emails = self._methods(
            data["email"],
            data["other_emails"],
            "email",
            "email",
            record.emails.all() if record else [],
        )
        phones = self._methods(
            data["phone"],
            data["other_phones"],
            "number",
            "phone",
            record.phones.all() if record else [],
        )
        return {"fields": fields, "emails": emails, "phones": phones, **self.owned_kwargs()}

    def service_error_map(self) -> dict[str, str]:
        """Service error names ("emails[1].email") → the form field the value came from."""
        return {
            **self._service_fields,
            "owner_id": "owner",
            "account_id": "account",
            "emails": "email",
            "phones": "phone",
        }


class AccountFilterForm(RecordFilterForm):
    industry = forms.CharField(required=False, max_length=100, label="Industry")
    segment = segment_filter_field()
    closed = forms.TypedChoiceField(
        choices=[("", "Open and closed"), ("false", "Open"), ("true", "Closed")],
        coerce=lambda v: v == "true",
        empty_value=None,
        required=False,
        label="Relationship",
    )
    extra_filters = {"industry": "industry", "segment": "segment", "closed": "closed"}


class AccountFilterField(forms.ModelChoiceField):
    """`?account_id=` of the contact list: a visible account, shown by name in the chips."""

    widget = forms.HiddenInput

    def label_from_instance(self, obj) -> str:
        return obj.name


class ContactFilterForm(RecordFilterForm):
    account_id = AccountFilterField(queryset=None, required=False, label="Account")
    segment = segment_filter_field()
    segment_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Saved segment"
    )
    extra_filters = {"account_id": "account_id", "segment": "segment", "segment_id": "segment_id"}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["account_id"].queryset = accounts_visible_to(user)
        # Saved segments (the segments app keeps their members): named by the app label, so
        # this lower layer imports nothing of it.
        segment_model = apps.get_model("segments", "Segment")
        self.fields["segment_id"].choices = [("", "Any saved segment")] + [
            (str(pk), name) for pk, name in segment_model.objects.values_list("pk", "name")[:500]
        ]

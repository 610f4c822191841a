"""Forms of the installed-base pages."""

from django import forms

from rapport.accounts.form_fields import CustomerFieldsMixin
from rapport.assets.models import AssetStatus
from rapport.orders.forms import product_choices
from rapport.web.forms import DATE_INPUT
from rapport.web.pickers import RecordPickerField


class AssetForm(CustomerFieldsMixin, forms.Form):
    product = forms.TypedChoiceField(coerce=int, empty_value=None)
    account = RecordPickerField(object_type="account", required=False)
    contact = RecordPickerField(object_type="contact", required=False)
    serial_number = forms.CharField(max_length=100, required=False, label="Serial number")
    install_date = forms.DateField(required=False, label="Installed on", widget=DATE_INPUT)
    warranty_end = forms.DateField(
        required=False,
        label="Warranty ends",
        widget=DATE_INPUT,
        help_text="Empty: the install date plus the product's warranty months",
    )
    location = forms.CharField(max_length=300, required=False)
    status = forms.ChoiceField(choices=AssetStatus.choices, initial=AssetStatus.ACTIVE)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    EDITABLE = ("serial_number", "install_date", "warranty_end", "location", "status", "notes")

    def __init__(self, *args, user, record=None, account_id=None, contact_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.record = record
        if record is not None:
            del self.fields["product"], self.fields["account"], self.fields["contact"]
            for name in self.EDITABLE:
                self.initial.setdefault(name, getattr(record, name))
            self.initial.setdefault("version", record.version)
            self.fields["warranty_end"].help_text = ""
            return
        self.fields["product"].choices = [("", "— choose —"), *product_choices()]
        self.initial.setdefault("account", account_id)
        self.initial.setdefault("contact", contact_id)
        self.fields["account"].bind(user)
        self.fields["contact"].bind(user)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.EDITABLE}
        for name in ("serial_number", "location", "notes"):
            fields[name] = fields[name] or ""
        return fields

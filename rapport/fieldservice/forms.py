"""Forms of the field-service pages."""

from django import forms

from rapport.accounts.form_fields import CustomerFieldsMixin
from rapport.fieldservice.models import WorkOrderStatus
from rapport.identity.models import User
from rapport.web.forms import DATE_INPUT, DATETIME_INPUT
from rapport.web.pickers import RecordPickerField


def technician_choices() -> list:
    users = User.objects.filter(is_active=True).order_by("first_name", "last_name", "id")
    return [(u.pk, str(u.get_full_name() or u.get_username())) for u in users[:500]]


class WorkOrderFilterForm(forms.Form):
    technician = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    day = forms.DateField(required=False, widget=DATE_INPUT, label="Day")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *WorkOrderStatus.choices]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"].choices = [("", "Any technician"), *technician_choices()]


class WorkOrderForm(CustomerFieldsMixin, forms.Form):
    title = forms.CharField(max_length=200)
    account = RecordPickerField(object_type="account", required=False)
    contact = RecordPickerField(object_type="contact", required=False)
    address = forms.CharField(
        max_length=400, required=False, help_text="Empty: the customer's (or the asset's) address"
    )
    scheduled_start = forms.DateTimeField(
        required=False, widget=DATETIME_INPUT, label="Scheduled from"
    )
    scheduled_end = forms.DateTimeField(required=False, widget=DATETIME_INPUT, label="to")
    technician = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    tasks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Checklist",
        help_text="One task per line",
    )
    time_spent_minutes = forms.IntegerField(
        min_value=0, max_value=100000, required=False, label="Time spent (minutes)"
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    EDITABLE = (
        "title",
        "address",
        "scheduled_start",
        "scheduled_end",
        "technician",
        "time_spent_minutes",
        "notes",
    )

    def __init__(self, *args, user, record=None, account_id=None, contact_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.record = record
        self.fields["technician"].choices = [("", "— nobody yet —"), *technician_choices()]
        if record is not None:
            del self.fields["account"], self.fields["contact"], self.fields["tasks"]
            from django.utils import timezone

            for name in self.EDITABLE:
                value = getattr(record, name if name != "technician" else "technician_id")
                if name in ("scheduled_start", "scheduled_end") and value is not None:
                    value = timezone.localtime(value).replace(tzinfo=None)
                self.initial.setdefault(name, value)
            self.initial.setdefault("version", record.version)
            return
        del self.fields["time_spent_minutes"]
        self.initial.setdefault("account", account_id)
        self.initial.setdefault("contact", contact_id)
        self.fields["account"].bind(user)
        self.fields["contact"].bind(user)

    def clean_technician(self):
        pk = self.cleaned_data.get("technician")
        if pk is None:
            return None
        user = User.objects.filter(pk=pk, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No such user", code="invalid_user")
        return user

"""Forms of the webhook settings pages; the services validate (URLs, networks, keys)."""

from django import forms

from rapport.identity.models import User
from rapport.web.pickers import RecordPickerField
from rapport.webhooks.models import InboundKind


def _event_types(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=120)
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="http:// or https://; private and local addresses need an allowed network",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/rapport"}),
    )
    event_types = forms.CharField(
        label="Event types",
        max_length=2000,
        help_text="Comma-separated: contact.created, deal.*, or * for every event",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean_event_types(self):
        return _event_types(self.cleaned_data["event_types"])


class NetworkForm(forms.Form):
    network = forms.CharField(
        max_length=50, help_text="A network (10.20.0.0/16) or one address (192.168.1.5)"
    )
    note = forms.CharField(max_length=200, required=False, help_text="What lives there")


def _active_writers():
    return User.objects.filter(is_active=True).exclude(role="read_only").order_by("username")


class SourceForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=InboundKind.choices)
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Write as",
        help_text="The user the calls, chats and orders are recorded as",
    )
    external_id_field = forms.CharField(
        label="External id field",
        max_length=60,
        required=False,
        help_text="Key of a contact custom field holding this system's customer id (optional)",
    )
    verify_signature = forms.BooleanField(
        label="Also check a Standard Webhooks signature", required=False
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, edit: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _active_writers()
        if edit:
            del self.fields["kind"]
        else:
            del self.fields["is_active"]


class AssignForm(forms.Form):
    contact = RecordPickerField(object_type="contact", label="Contact")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].bind(user)

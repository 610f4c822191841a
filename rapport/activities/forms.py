"""Forms of the activity pages: the list's filter bar, the calendar's controls and the
activity form (create and edit). They validate the shape of the input only; the activity
services decide the rest, and their errors come back next to the field."""

import datetime

from django import forms
from django.utils import timezone

from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.activities.models import (
    ActivityKind,
    CallOutcome,
    Direction,
    InteractionChannel,
    Priority,
)
from rapport.identity.selectors import users_for
from rapport.leads.selectors import leads_visible_to
from rapport.notifications.forms import ReminderField, reminder_initial
from rapport.notifications.services import preferences_for
from rapport.sales.selectors import opportunities_visible_to
from rapport.web.forms import (
    DATE_INPUT,
    DATETIME_INPUT,
    ListFilterForm,
    UserChoiceField,
    UsersChoiceField,
)
from rapport.web.pickers import RecordPickerField


class LinkedRecordField(forms.ModelChoiceField):
    """`?account_id=` and friends: a visible record, kept as a hidden input and shown by
    its name in the filter chips."""

    widget = forms.HiddenInput

    def label_from_instance(self, obj) -> str:
        return str(obj)


def _bool_choice(value: str) -> bool:
    return value == "true"


class ActivityFilterForm(ListFilterForm):
    """The activity list's filters, under the API's query parameter names."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(
        required=False, label="Kind", choices=[("", "Any kind"), *ActivityKind.choices]
    )
    owner_id = UserChoiceField(queryset=None, required=False, label="Owner", empty_label="Anyone")
    done = forms.TypedChoiceField(
        required=False,
        label="Done",
        choices=[("", "Any"), ("false", "Not done"), ("true", "Done")],
        coerce=_bool_choice,
        empty_value=None,
    )
    due_from = forms.DateField(required=False, label="Due from", widget=DATE_INPUT)
    due_to = forms.DateField(required=False, label="Due to", widget=DATE_INPUT)
    occurred_from = forms.DateField(required=False, label="When from", widget=DATE_INPUT)
    occurred_to = forms.DateField(required=False, label="When to", widget=DATE_INPUT)
    account_id = LinkedRecordField(queryset=None, required=False, label="Account")
    contact_id = LinkedRecordField(queryset=None, required=False, label="Contact")
    lead_id = LinkedRecordField(queryset=None, required=False, label="Lead")
    opportunity_id = LinkedRecordField(queryset=None, required=False, label="Opportunity")

    LINKED = ("account_id", "contact_id", "lead_id", "opportunity_id")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["owner_id"].queryset = users_for(user).filter(is_active=True)
        self.fields["account_id"].queryset = accounts_visible_to(user)
        self.fields["contact_id"].queryset = contacts_visible_to(user)
        self.fields["lead_id"].queryset = leads_visible_to(user)
        self.fields["opportunity_id"].queryset = opportunities_visible_to(user)

    def selector_kwargs(self) -> dict:
        kwargs = super().selector_kwargs()
        if "kind" in kwargs:
            kwargs["kind"] = [kwargs["kind"]]
        return kwargs

    def linked_fields(self) -> list:
        return [self[name] for name in self.LINKED]


class CalendarForm(forms.Form):
    """The calendar's controls: day, week or month, the day shown, and whose calendar."""

    view = forms.ChoiceField(
        required=False,
        choices=[("day", "Day"), ("week", "Week"), ("month", "Month")],
        label="View",
    )
    date = forms.DateField(required=False, label="Date", widget=DATE_INPUT)
    who = forms.ChoiceField(required=False, label="Calendar of")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        people = users_for(user).filter(is_active=True).exclude(pk=user.pk)
        self.fields["who"].choices = [
            ("me", "Me"),
            ("all", "Everyone I can see"),
            *((str(u.pk), u.get_full_name() or u.username) for u in people),
        ]

    def value(self, name: str, default):
        if self.is_bound and self.is_valid():
            return self.cleaned_data.get(name) or default
        return default


# ----- the activity form -----------------------------------------------------------------

# What the form asks for each kind (beyond subject, body and owner).
KIND_INPUTS: dict[str, tuple[str, ...]] = {
    ActivityKind.TASK: ("due_at", "reminder_minutes", "priority", "done"),
    ActivityKind.CALL: ("occurred_at", "direction", "outcome", "duration_minutes"),
    ActivityKind.MEETING: ("starts_at", "ends_at", "reminder_minutes", "location"),
    ActivityKind.EMAIL: ("occurred_at", "direction"),
    ActivityKind.NOTE: ("occurred_at",),
    ActivityKind.INTERACTION: ("occurred_at", "channel", "direction"),
}
CREATABLE_KINDS = [
    ActivityKind.TASK,
    ActivityKind.CALL,
    ActivityKind.MEETING,
    ActivityKind.EMAIL,
    ActivityKind.NOTE,
]
SERVICE_FIELD_MAP = {
    "duration_seconds": "duration_minutes",
    "owner_id": "owner",
    "account_id": "account",
    "contact_id": "contact",
    "lead_id": "lead",
    "opportunity_id": "opportunity",
    "attendee_contact_ids": "attendee_contacts",
    "attendee_user_ids": "attendee_users",
}
# The records an activity is about (form field → service link).
LINK_FIELDS = {
    "account": "account_id",
    "contact": "contact_id",
    "lead": "lead_id",
    "opportunity": "opportunity_id",
}


def _optional(choices) -> list:
    return [("", "—"), *choices]


class ActivityForm(forms.Form):
    """Create (with `kind`) or edit (with `record`) one activity."""

    subject = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        max_length=100_000,
        required=False,
        label="Notes",
        widget=forms.Textarea(attrs={"rows": 5, "data-mentions": "/notifications/mentions"}),
    )
    owner = UserChoiceField(queryset=None, empty_label=None)
    account = RecordPickerField(object_type="account", required=False)
    contact = RecordPickerField(object_type="contact", required=False)
    opportunity = RecordPickerField(object_type="opportunity", required=False)
    lead = RecordPickerField(object_type="lead", required=False)
    attendee_contacts = RecordPickerField(
        object_type="contact", multiple=True, required=False, label="Attending contacts"
    )
    attendee_users = UsersChoiceField(
        queryset=None,
        required=False,
        label="Attending colleagues",
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text="Ctrl/⌘-click to choose several",
    )
    occurred_at = forms.DateTimeField(
        required=False, label="When", widget=DATETIME_INPUT, help_text="Empty: now"
    )
    due_at = forms.DateTimeField(required=False, label="Due", widget=DATETIME_INPUT)
    reminder_minutes = ReminderField(help_text="You get a notification then")
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    done = forms.BooleanField(required=False, label="Done")
    direction = forms.ChoiceField(choices=_optional(Direction.choices), required=False)
    outcome = forms.ChoiceField(choices=_optional(CallOutcome.choices), required=False)
    duration_minutes = forms.IntegerField(
        min_value=0, max_value=24 * 60, required=False, label="Minutes"
    )
    starts_at = forms.DateTimeField(required=False, label="Starts", widget=DATETIME_INPUT)
    ends_at = forms.DateTimeField(required=False, label="Ends", widget=DATETIME_INPUT)
    location = forms.CharField(max_length=200, required=False)
    channel = forms.ChoiceField(choices=_optional(InteractionChannel.choices), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, user, kind: str, record=None, links: dict | None = None, **kw):
        super().__init__(*args, **kw)
        self.user = user
        self.kind = kind
        self.record = record
        self.fields["owner"].queryset = users_for(user).filter(is_active=True)
        keep = {"subject", "body", "owner", "version", *KIND_INPUTS[kind], *LINK_FIELDS}
        if kind == ActivityKind.MEETING:
            keep |= {"attendee_contacts", "attendee_users"}
            self.fields["attendee_users"].queryset = users_for(user).filter(is_active=True)
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
            elif isinstance(self.fields[name], RecordPickerField):
                self.fields[name].bind(user, keep=self._linked_ids(name))
        if kind == ActivityKind.TASK:
            self.fields["account"].help_text = "No link at all: a personal task"
        if kind in (ActivityKind.TASK, ActivityKind.MEETING):
            self.fields["subject"].required = True
        if kind == ActivityKind.NOTE:
            self.fields["body"].required = True
        if kind == ActivityKind.MEETING:
            # The reminder reads best after the meeting's times.
            names = [n for n in self.fields if n != "reminder_minutes"]
            names.insert(names.index("ends_at") + 1, "reminder_minutes")
            self.order_fields(names)
            self.fields["starts_at"].required = True
            self.fields["subject"].label = "Meeting"
        if kind == ActivityKind.TASK:
            self.fields["subject"].label = "Task"
        if kind == ActivityKind.INTERACTION:
            self.fields["channel"].required = True
        if "reminder_minutes" in self.fields:
            if record is not None:
                self.fields["reminder_minutes"].keep_value(record.reminder_minutes)
            else:
                default = preferences_for(user).default_reminder_minutes
                self.fields["reminder_minutes"].keep_value(default)
                self.initial["reminder_minutes"] = reminder_initial(default)
        if record is not None:
            self._initial_from(record)
            if "occurred_at" in self.fields:
                self.fields["occurred_at"].required = True
                self.fields["occurred_at"].help_text = ""
        else:
            self.initial["owner"] = user.pk
            if kind == ActivityKind.TASK:
                tomorrow = datetime.datetime.combine(
                    timezone.localdate() + datetime.timedelta(days=1), datetime.time(9)
                )
                self.initial["due_at"] = tomorrow
            if kind in (ActivityKind.CALL, ActivityKind.EMAIL):
                self.initial["direction"] = Direction.OUTBOUND
            for name, link in LINK_FIELDS.items():
                self.initial[name] = (links or {}).get(link)

    def _linked_ids(self, name: str) -> list[int]:
        """What the activity links to now: kept even where the editor may not see it."""
        if self.record is None:
            return []
        if name == "attendee_contacts":
            return list(self.record.attendee_contacts.values_list("pk", flat=True))
        return [getattr(self.record, LINK_FIELDS[name])]

    def _initial_from(self, record) -> None:
        for name in self.fields:
            if name in ("owner", "version", "duration_minutes", *LINK_FIELDS):
                continue
            if name in ("attendee_contacts", "attendee_users"):
                self.initial[name] = list(getattr(record, name).values_list("pk", flat=True))
                continue
            self.initial[name] = getattr(record, name)
        for name, link in LINK_FIELDS.items():
            self.initial[name] = getattr(record, link)
        self.initial["owner"] = record.owner_id
        self.initial["version"] = record.version
        if "reminder_minutes" in self.fields:
            self.initial["reminder_minutes"] = reminder_initial(record.reminder_minutes)
        if "duration_minutes" in self.fields and record.duration_seconds is not None:
            self.initial["duration_minutes"] = round(record.duration_seconds / 60)
        for name in ("occurred_at", "due_at", "starts_at", "ends_at"):
            value = self.initial.get(name)
            if isinstance(value, datetime.datetime):
                self.initial[name] = timezone.localtime(value).replace(tzinfo=None)

    def activity_fields(self) -> dict:
        """The service's `fields`: on create only what was given (the rest takes the
        kind's defaults), on edit every field of the kind (empty clears)."""
        data = self.cleaned_data
        fields = {}
        for name in self.fields:
            if name in ("owner", "version", "attendee_contacts", "attendee_users", *LINK_FIELDS):
                continue
            value = data.get(name)
            if name == "duration_minutes":
                name, value = "duration_seconds", (None if value is None else value * 60)
            if name == "reminder_minutes":
                if value != "":  # None: no reminder (an explicit choice, also on create)
                    fields[name] = value
                continue
            if self.record is None and value in (None, "", False):
                continue
            fields[name] = value
        return fields

    def links(self) -> dict:
        """The service's `links`: on create the given ones; on edit each link the form sent
        (an emptied picker clears it; one the request left out stays as it is)."""
        links = {link: self.cleaned_data.get(name) for name, link in LINK_FIELDS.items()}
        if self.record is None:
            return {link: pk for link, pk in links.items() if pk}
        sent = {n for n in LINK_FIELDS if n in self.data or f"{n}__q" in self.data}
        return {LINK_FIELDS[n]: links[LINK_FIELDS[n]] for n in sent}

    def attendees(self) -> dict:
        """The service's attendee lists (meetings only)."""
        if "attendee_contacts" not in self.fields:
            return {}
        if self.record is not None and not {
            "attendee_contacts",
            "attendee_contacts__q",
            "attendee_users",
        } & set(self.data):
            return {}
        return {
            "attendee_contact_ids": self.cleaned_data.get("attendee_contacts") or [],
            "attendee_user_ids": [u.pk for u in self.cleaned_data.get("attendee_users") or []],
        }

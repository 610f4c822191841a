"""Forms: the reminder picker (activity form and composer) and notification preferences."""

from django import forms

from rapport.notifications.models import EmailDelivery, NotificationKind
from rapport.notifications.services import MAX_REMINDER_MINUTES, TIME_ZONES

NO_REMINDER = "none"
REMINDER_CHOICES = [
    ("0", "At the time"),
    ("5", "5 minutes before"),
    ("10", "10 minutes before"),
    ("15", "15 minutes before"),
    ("30", "30 minutes before"),
    ("60", "1 hour before"),
    ("120", "2 hours before"),
    ("1440", "1 day before"),
    ("2880", "2 days before"),
    ("10080", "1 week before"),
]


def _reminder(value: str) -> int | None:
    if value == NO_REMINDER:
        return None
    minutes = int(value)
    if not 0 <= minutes <= MAX_REMINDER_MINUTES:
        raise forms.ValidationError("Not a reminder time")
    return minutes


def reminder_initial(minutes: int | None) -> str:
    return NO_REMINDER if minutes is None else str(minutes)


def reminder_label(minutes: int | None) -> str:
    """ "1 hour before", "No reminder" … (the picker's words; others in minutes)."""
    if minutes is None:
        return "No reminder"
    return dict(REMINDER_CHOICES).get(str(minutes), f"{minutes} minutes before")


class ReminderField(forms.TypedChoiceField):
    """Minutes before due/start: an int, None for "No reminder", or "" for "My default"
    (only where `with_default`, i.e. the composer, where the user's default applies)."""

    def __init__(self, *, with_default: bool = False, **kwargs):
        choices = [(NO_REMINDER, "No reminder"), *REMINDER_CHOICES]
        if with_default:
            choices.insert(0, ("", "My default"))
        kwargs.setdefault("label", "Reminder")
        super().__init__(
            choices=choices, coerce=_reminder, empty_value="", required=False, **kwargs
        )

    def keep_value(self, minutes: int | None) -> None:
        """Offer a stored value that is not in the list (set through the API)."""
        if minutes is not None and str(minutes) not in {c for c, _ in self.choices}:
            self.choices = [*self.choices, (str(minutes), f"{minutes} minutes before")]


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PreferencesForm(forms.Form):
    email_delivery = forms.ChoiceField(
        choices=EmailDelivery.choices,
        label="Email me",
        widget=forms.RadioSelect,
        help_text="A digest is one email listing what you have not read yet, sent in your "
        "working hours: at most once an hour, or once a working day.",
    )
    email_kinds = forms.MultipleChoiceField(
        choices=NotificationKind.choices,
        required=False,
        label="Also email me about",
        widget=forms.CheckboxSelectMultiple,
        help_text="In-app notifications always arrive; these also come by email.",
    )
    time_zone = forms.ChoiceField(
        choices=[("", "The server's time zone"), *((z, z.replace("_", " ")) for z in TIME_ZONES)],
        required=False,
        label="Time zone",
    )
    work_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        label="Working days",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one working day"},
    )
    work_start = forms.TimeField(label="Working hours from", widget=TIME_INPUT)
    work_end = forms.TimeField(
        label="to",
        widget=TIME_INPUT,
        help_text="Emails outside these hours wait for the start of your next working day.",
    )
    default_reminder_minutes = ReminderField(label="Default reminder for tasks and meetings")

    def __init__(self, *args, preference, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_reminder_minutes"].keep_value(preference.default_reminder_minutes)
        if not self.is_bound:
            self.initial = {
                "email_delivery": preference.email_delivery,
                "email_kinds": preference.email_kinds,
                "time_zone": preference.time_zone,
                "work_days": preference.work_days,
                "work_start": preference.work_start,
                "work_end": preference.work_end,
                "default_reminder_minutes": reminder_initial(preference.default_reminder_minutes),
            }

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        if data["default_reminder_minutes"] == "":
            data["default_reminder_minutes"] = None
        return data

"""The SLA policy form of Settings → SLA policies (conditions, targets, escalations)."""

from django import forms

from rapport.calendars.models import BusinessCalendar
from rapport.cases.models import CaseCategory, CaseChannel, CasePriority, Queue, ServiceTier
from rapport.identity.models import User
from rapport.sla.models import EscalationLevel
from rapport.sla.policies import PAUSABLE

STATUS_LABELS = dict(
    [
        ("new", "New"),
        ("open", "Open"),
        ("pending_customer", "Pending customer"),
        ("on_hold", "On hold"),
    ]
)
LEVELS = [(level.value, level.label) for level in EscalationLevel]
ACTION_LABELS = {
    "notify_owner": "Notify the owner",
    "notify_queue": "Notify the queue's members",
    "notify_user": "Notify this user",
    "reassign_user": "Reassign to user",
    "reassign_queue": "Move to queue",
    "raise_priority": "Raise the priority one step",
}


def _multi(choices, label, help_text="None ticked: any."):
    return forms.MultipleChoiceField(
        choices=choices,
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.CheckboxSelectMultiple,
    )


def _minutes(label, help_text=""):
    return forms.IntegerField(min_value=1, required=False, label=label, help_text=help_text)


class SlaPolicyForm(forms.Form):
    name = forms.CharField(max_length=120)
    position = forms.IntegerField(
        min_value=0, initial=0, help_text="The first matching policy applies."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    priorities = _multi(CasePriority.choices, "Priorities")
    tiers = _multi(ServiceTier.choices, "Customer tiers")
    channels = _multi(CaseChannel.choices, "Channels")
    categories = forms.ModelMultipleChoiceField(
        queryset=CaseCategory.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any.",
    )
    first_response_minutes = _minutes("First response (minutes)", "Business minutes.")
    next_response_minutes = _minutes("Every next response (minutes)")
    resolution_minutes = _minutes("Resolution (minutes)")
    calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(), required=False, empty_label="24×7 (no calendar)"
    )
    pause_statuses = forms.MultipleChoiceField(
        choices=[(s, STATUS_LABELS[s]) for s in PAUSABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        initial=["pending_customer", "on_hold"],
        label="Statuses that pause the clock",
    )
    warn_minutes_before = _minutes("Warn minutes before a target")
    warn_percent_before = forms.IntegerField(
        min_value=1, max_value=99, required=False, label="…or warn % before a target"
    )
    second_level_after_minutes = _minutes("Second level after a breach (minutes)")
    escalate_in_business_hours_only = forms.BooleanField(
        required=False, label="Send escalations only within business hours"
    )
    escalation_calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.all(),
        required=False,
        empty_label="The policy's calendar",
        label="Business hours of escalations",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        users = User.objects.filter(is_active=True).order_by("username")
        queues = Queue.objects.filter(is_active=True)
        for level, _label in LEVELS:
            for flag in ("notify_owner", "notify_queue", "raise_priority"):
                self.fields[f"{level}_{flag}"] = forms.BooleanField(
                    required=False, label=ACTION_LABELS[flag]
                )
            for name in ("notify_user", "reassign_user"):
                self.fields[f"{level}_{name}"] = forms.ModelChoiceField(
                    queryset=users, required=False, label=ACTION_LABELS[name]
                )
            self.fields[f"{level}_reassign_queue"] = forms.ModelChoiceField(
                queryset=queues, required=False, label=ACTION_LABELS["reassign_queue"]
            )

    def level_fields(self):
        """[(label, [bound fields])] for the template."""
        return [(label, [self[f"{level}_{a}"] for a in ACTION_LABELS]) for level, label in LEVELS]

    def escalations(self) -> dict[str, dict]:
        data = self.cleaned_data
        out = {}
        for level, _label in LEVELS:
            actions = {a: data.get(f"{level}_{a}") for a in ACTION_LABELS}
            if any(actions.values()):
                out[level] = actions
        return out

    def policy_data(self) -> dict:
        data = dict(self.cleaned_data)
        return {
            k: data[k]
            for k in data
            if k != "categories" and not k.startswith(tuple(f"{level}_" for level, _ in LEVELS))
        }

    @classmethod
    def initial_for(cls, policy) -> dict:
        initial = {
            name: getattr(policy, name)
            for name in (
                "name",
                "position",
                "is_active",
                "priorities",
                "tiers",
                "channels",
                "first_response_minutes",
                "next_response_minutes",
                "resolution_minutes",
                "calendar",
                "pause_statuses",
                "warn_minutes_before",
                "warn_percent_before",
                "second_level_after_minutes",
                "escalate_in_business_hours_only",
                "escalation_calendar",
            )
        }
        initial["categories"] = list(policy.categories.all())
        for escalation in policy.escalations.all():
            for action in ACTION_LABELS:
                initial[f"{escalation.level}_{action}"] = getattr(escalation, action)
        return initial

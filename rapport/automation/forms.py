"""The rule builder as plain forms: the rule, a formset of condition rows and a formset of
action rows (no JSON to write). Rows are numbered ("Step 3"); a row placed "if yes of step 2"
goes into the `then` list of the if/else on step 2, which may itself sit inside another
if/else, so branches nest to any depth the service allows. "If yes / if no of the last if/else
above" is the short form for the common case."""

from django import forms

from rapport.automation.actions import registry
from rapport.automation.conditions import OPERATORS
from rapport.automation.models import SubjectType, TriggerType
from rapport.calendars.models import BusinessCalendar
from rapport.identity.models import Team, User

PARAM_NAMES = (
    "fields",
    "mode",
    "user_id",
    "team_id",
    "subject",
    "kind",
    "due_in_days",
    "assign_to",
    "tag",
    "hours",
    "business_days",
    "business_hours",
    "calendar_id",
    "template",
    "purpose",
    "subscription_id",
    "segment_id",
)


class RuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    trigger_type = forms.ChoiceField(choices=TriggerType.choices, label="When")
    object_type = forms.ChoiceField(choices=SubjectType.choices, required=False, label="Object")
    cron = forms.CharField(
        required=False, max_length=100, label="Schedule (cron)", help_text="e.g. 0 9 * * 1-5"
    )
    date_field = forms.CharField(
        required=False, max_length=60, label="Date field", help_text="e.g. expected_close_date"
    )
    offset_days = forms.IntegerField(
        required=False,
        label="Days after the date",
        help_text="negative: before (-3 = 3 days before)",
    )
    yearly = forms.BooleanField(
        required=False,
        label="Every year (anniversary)",
        help_text="fire on the date's month and day each year, e.g. a birthday or first order",
    )
    at = forms.TimeField(required=False, label="At (time of day)", initial="09:00")
    match = forms.CharField(
        required=False,
        max_length=300,
        label="Only events with",
        help_text="payload key=value, comma separated (e.g. source=pos)",
    )
    match_all = forms.ChoiceField(
        choices=[("and", "all conditions"), ("or", "any condition")], label="Run when"
    )
    max_runs_per_hour = forms.IntegerField(min_value=1, max_value=1_000_000, initial=10_000)
    max_attempts = forms.IntegerField(
        min_value=1, max_value=10, initial=3, label="Attempts per step"
    )


class ConditionRow(forms.Form):
    field = forms.CharField(required=False, max_length=80, label="Field")
    operator = forms.ChoiceField(choices=list(OPERATORS.items()), required=False)
    value = forms.CharField(required=False, max_length=200)


def _action_choices():
    return [("", "—")] + [
        (spec.type, spec.label + ("" if spec.available else " (not available yet)"))
        for spec in registry().values()
    ]


def placement_choices(rows: int) -> list[tuple[str, str]]:
    """Where a row goes: the top level, the last if/else above it, or a numbered step's side."""
    out = [
        ("", "always (top level)"),
        ("then", "if yes of the last if/else above"),
        ("else", "if no of the last if/else above"),
    ]
    for n in range(1, rows + 1):
        out += [(f"{n}.then", f"if yes of step {n}"), (f"{n}.else", f"if no of step {n}")]
    return out


class ActionRow(forms.Form):
    type = forms.ChoiceField(required=False, label="Action")
    in_branch = forms.ChoiceField(choices=placement_choices(0), required=False, label="Runs")
    # Branch condition
    cond_field = forms.CharField(required=False, max_length=80, label="If field")
    cond_operator = forms.ChoiceField(choices=list(OPERATORS.items()), required=False, label="is")
    cond_value = forms.CharField(required=False, max_length=200, label="Value")
    fields = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Fields to set",
        help_text="one per line: name=value (custom.tier=gold)",
    )
    mode = forms.ChoiceField(
        required=False,
        choices=[
            ("user", "to a user"),
            ("round_robin", "round robin in a team"),
            ("least_loaded", "least loaded in a team"),
        ],
        label="Assign",
    )
    user_id = forms.ModelChoiceField(queryset=User.objects.none(), required=False, label="User")
    team_id = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label="Team")
    subject = forms.CharField(required=False, max_length=200, label="Subject")
    kind = forms.ChoiceField(
        required=False, choices=[("task", "Task"), ("note", "Note"), ("call", "Call")], label="Kind"
    )
    due_in_days = forms.DecimalField(
        required=False, min_value=0, max_value=3660, label="Due in days"
    )
    assign_to = forms.ChoiceField(
        required=False,
        choices=[("record_owner", "the record's owner"), ("rule_user", "the rule's user")],
        label="Task for",
    )
    tag = forms.CharField(required=False, max_length=60, label="Tag")
    hours = forms.DecimalField(required=False, min_value=0, max_value=24 * 366, label="Hours")
    business_days = forms.IntegerField(
        required=False, min_value=0, max_value=366, label="Business days"
    )
    business_hours = forms.DecimalField(
        required=False, min_value=0, max_value=24 * 366, label="Business hours"
    )
    calendar_id = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.none(), required=False, label="Calendar"
    )
    template = forms.CharField(required=False, max_length=120, label="Email template")
    purpose = forms.ChoiceField(
        required=False,
        choices=[("transactional", "transactional"), ("marketing", "marketing")],
        label="Purpose",
    )
    subscription_id = forms.IntegerField(required=False, label="Webhook id")
    segment_id = forms.IntegerField(required=False, label="Segment id")

    def __init__(self, *args, rows: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["in_branch"].choices = placement_choices(rows)
        self.fields["type"].choices = _action_choices()
        self.fields["user_id"].queryset = User.objects.filter(is_active=True).order_by("username")
        self.fields["team_id"].queryset = Team.objects.order_by("name")
        self.fields["calendar_id"].queryset = BusinessCalendar.objects.all()

    def params(self) -> dict:
        data = self.cleaned_data
        kind = data.get("type")
        if kind == "branch":
            item = {
                "field": data.get("cond_field") or "",
                "operator": data.get("cond_operator") or "equals",
                "value": data.get("cond_value") or "",
            }
            return {"conditions": {"op": "and", "items": [item] if item["field"] else []}}
        spec = registry().get(kind)
        wanted = {p.name for p in spec.params} if spec else set()
        out = {}
        for name in wanted & set(PARAM_NAMES):
            value = data.get(name)
            if value in (None, ""):
                continue
            if name == "fields":
                pairs = {}
                for line in value.splitlines():
                    if "=" in line:
                        key, _, val = line.partition("=")
                        pairs[key.strip()] = val.strip()
                value = pairs
            elif hasattr(value, "pk"):
                value = value.pk
            elif name in ("hours", "business_hours", "due_in_days"):
                value = float(value)
            out[name] = value
        return out


class BaseActionFormSet(forms.BaseFormSet):
    """Builds the action tree from the numbered rows (`self.tree`), with errors on the row
    whose placement names no if/else above it."""

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "rows": self.total_form_count()}

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        self.tree: list[dict] = []
        branches: dict[int, dict] = {}  # step number -> its branch action
        last_branch: int | None = None
        for number, row in enumerate(self.forms, start=1):
            data = getattr(row, "cleaned_data", None) or {}
            kind = data.get("type")
            if not kind:
                continue
            action = {"type": kind, "params": row.params()}
            if kind == "branch":
                action.update({"then": [], "else": []})
            where = data.get("in_branch") or ""
            if not where:
                self.tree.append(action)
            else:
                target, _, side = where.rpartition(".")
                parent_number = int(target) if target else last_branch
                if side not in ("then", "else") or parent_number not in branches:
                    row.add_error(
                        "in_branch",
                        f"Step {parent_number} is not an if/else above this step"
                        if parent_number
                        else "There is no if/else above this step",
                    )
                    continue
                branches[parent_number][side].append(action)
            if kind == "branch":
                branches[number] = action
                last_branch = number


ConditionFormSet = forms.formset_factory(ConditionRow, extra=2, max_num=50)
ActionFormSet = forms.formset_factory(ActionRow, formset=BaseActionFormSet, extra=2, max_num=50)


def rule_data(form: RuleForm, conditions: forms.BaseFormSet, actions: forms.BaseFormSet) -> dict:
    """The service's input from the three forms (all valid)."""
    data = form.cleaned_data
    trigger = data["trigger_type"]
    config: dict = {}
    if trigger == TriggerType.SCHEDULE:
        config["cron"] = data.get("cron") or ""
    if trigger == TriggerType.DATE_RELATIVE:
        config.update(
            field=data.get("date_field") or "",
            offset_days=data.get("offset_days") or 0,
            at=(data.get("at").strftime("%H:%M") if data.get("at") else "09:00"),
        )
        if data.get("yearly"):
            config["yearly"] = True
    if data.get("match"):
        config["match"] = dict(
            part.split("=", 1) for part in data["match"].split(",") if "=" in part
        )
    items = [
        {
            "field": c.cleaned_data["field"].strip(),
            "operator": c.cleaned_data["operator"] or "equals",
            "value": c.cleaned_data.get("value") or "",
        }
        for c in conditions
        if c.cleaned_data.get("field")
    ]
    return {
        "name": data["name"],
        "description": data.get("description") or "",
        "is_active": data.get("is_active", False),
        "trigger_type": trigger,
        "object_type": data.get("object_type") or "",
        "trigger_config": config,
        "conditions": {"op": data.get("match_all") or "and", "items": items} if items else {},
        "actions": actions.tree,
        "max_runs_per_hour": data.get("max_runs_per_hour") or 10_000,
        "max_attempts": data.get("max_attempts") or 3,
    }


def _nested(conditions: dict) -> bool:
    return any("items" in item for item in (conditions or {}).get("items", []))


def _branches(actions: list[dict]):
    for action in actions or []:
        if action["type"] == "branch":
            yield action
            yield from _branches(action.get("then"))
            yield from _branches(action.get("else"))


def editable_in_forms(rule) -> bool:
    """Whether the builder can show the rule without losing anything (one condition group,
    one condition per if/else; branches may nest)."""
    if _nested(rule.conditions):
        return False
    for action in _branches(rule.actions):
        conditions = action["params"].get("conditions") or {}
        if len(conditions.get("items", [])) > 1 or _nested(conditions):
            return False
    return True


def initial_for(rule) -> tuple[dict, list[dict], list[dict]]:
    config = rule.trigger_config or {}
    head = {
        "name": rule.name,
        "description": rule.description,
        "is_active": rule.is_active,
        "trigger_type": rule.trigger_type,
        "object_type": rule.object_type,
        "cron": config.get("cron", ""),
        "date_field": config.get("field", ""),
        "offset_days": config.get("offset_days"),
        "at": config.get("at", "09:00"),
        "yearly": bool(config.get("yearly")),
        "match": ", ".join(f"{k}={v}" for k, v in (config.get("match") or {}).items()),
        "match_all": (rule.conditions or {}).get("op", "and"),
        "max_runs_per_hour": rule.max_runs_per_hour,
        "max_attempts": rule.max_attempts,
    }
    conds = [
        {"field": c["field"], "operator": c["operator"], "value": c.get("value", "")}
        for c in (rule.conditions or {}).get("items", [])
        if "field" in c
    ]

    def row(action, where=""):
        params = action.get("params") or {}
        out = {"type": action["type"], "in_branch": where}
        if action["type"] == "branch":
            items = (params.get("conditions") or {}).get("items") or [{}]
            out.update(
                cond_field=items[0].get("field", ""),
                cond_operator=items[0].get("operator", "equals"),
                cond_value=items[0].get("value", ""),
            )
            return out
        for name, value in params.items():
            if name == "fields" and isinstance(value, dict):
                value = "\n".join(f"{k}={v}" for k, v in value.items())
            out[name] = value
        return out

    rows: list[dict] = []

    def flatten(actions: list[dict], where: str = "") -> None:
        for action in actions or []:
            rows.append(row(action, where))
            if action["type"] == "branch":
                number = len(rows)
                flatten(action.get("then"), f"{number}.then")
                flatten(action.get("else"), f"{number}.else")

    flatten(rule.actions)
    return head, conds, rows

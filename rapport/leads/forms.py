"""Forms of the lead pages: the list's filters, the create/edit form and the conversion
dialog. They validate the shape of the input only; the lead services decide the rest and
their errors come back next to the field they name."""

from django import forms

from rapport.accounts.forms import OwnedRecordForm
from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.identity.selectors import users_for
from rapport.leads.models import Lead, LeadStatus
from rapport.sales.selectors import default_pipeline, pipeline_list
from rapport.web.forms import (
    DATE_INPUT,
    RecordFilterForm,
    UserChoiceField,
    country_field,
    currency_field,
)
from rapport.web.pickers import RecordPickerField

# How many records like the lead the dialog offers under each picker.
SIMILAR_LIMIT = 5
# A lead becomes converted only by converting it: the form never offers that status.
EDITABLE_STATUSES = [(v, label) for v, label in LeadStatus.choices if v != LeadStatus.CONVERTED]
NEW, NONE, EXISTING = "new", "none", "existing"


def _text(max_length: int, label: str | None = None, **kwargs) -> forms.CharField:
    return forms.CharField(max_length=max_length, required=False, label=label, **kwargs)


class LeadForm(OwnedRecordForm):
    object_type = "lead"
    first_name = _text(100)
    last_name = forms.CharField(max_length=100)
    title = _text(120)
    company = _text(200)
    email = _text(254)
    phone = _text(40, help_text="Any format; stored as +country number")
    website = forms.URLField(max_length=300, required=False, assume_scheme="https")
    industry = _text(100)
    source = _text(60, help_text="web, referral, event, …")
    campaign = _text(120)
    status = forms.ChoiceField(choices=EDITABLE_STATUSES, initial=LeadStatus.NEW)
    disqualified_reason = _text(
        200, label="Reason for disqualifying", help_text="Needed when the status is Disqualified"
    )
    street = _text(200)
    city = _text(100)
    region = _text(100)
    postal_code = _text(20)
    country = country_field()
    description = _text(10000, widget=forms.Textarea(attrs={"rows": 4}))

    FIELDS = [
        "first_name",
        "last_name",
        "title",
        "company",
        "email",
        "phone",
        "website",
        "industry",
        "source",
        "campaign",
        "status",
        "disqualified_reason",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
    ]

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        if record is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(record, name)

    def service_kwargs(self) -> dict:
        fields = {name: self.cleaned_data[name] for name in self.FIELDS}
        return {"fields": fields, **self.owned_kwargs()}


class StatusFilterField(forms.MultipleChoiceField):
    """`?status=new&status=working`: any of these statuses (hidden in the filter bar: the
    status chips above it set them)."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs):
        super().__init__(choices=LeadStatus.choices, required=False, label="Status", **kwargs)


class LeadFilterForm(RecordFilterForm):
    status = StatusFilterField()
    source = forms.CharField(required=False, max_length=60, label="Source")
    campaign = forms.CharField(required=False, max_length=120, label="Campaign")
    extra_filters = {"status": "status", "source": "source", "campaign": "campaign"}

    def selector_kwargs(self) -> dict:
        kwargs = super().selector_kwargs()
        kwargs["status"] = kwargs.get("status") or None
        return kwargs

    def chips(self) -> list[dict]:
        chips = [c for c in super().chips() if c["param"] != "status"]
        if self.is_bound and self.is_valid():
            labels = dict(LeadStatus.choices)
            chips[:0] = [
                {"label": "Status", "value": labels[v], "param": "status", "raw": v}
                for v in self.cleaned_data["status"]
            ]
        return chips

    def current_status(self) -> list[str]:
        return self.current("status")

    def status_choices(self) -> list[tuple[str, str]]:
        return list(LeadStatus.choices)


# ----- conversion ------------------------------------------------------------------------


class LeadConvertForm(forms.Form):
    """Choose or create the account and the contact, optionally create an opportunity.

    Each of account and contact is a choice — create a new one, link an existing one (a
    record picker: the search service, visible records only, never a full list), or none —
    with the records like the lead's company or email offered under the picker."""

    account = forms.ChoiceField(label="Account", widget=forms.RadioSelect)
    account_record = RecordPickerField(
        object_type="account", required=False, label="Existing account"
    )
    contact = forms.ChoiceField(label="Contact", widget=forms.RadioSelect)
    contact_record = RecordPickerField(
        object_type="contact", required=False, label="Existing contact"
    )
    owner = UserChoiceField(queryset=None, label="Owner of the new records", empty_label=None)
    create_opportunity = forms.BooleanField(required=False, label="Create an opportunity")
    opportunity_name = _text(200, label="Opportunity name")
    amount = forms.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, label="Amount"
    )
    currency = currency_field(initial="EUR", required=False, label="Currency")
    expected_close_date = forms.DateField(required=False, label="Close date", widget=DATE_INPUT)
    pipeline = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Pipeline"
    )
    stage = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Stage")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, lead: Lead, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead
        self.user = user
        name = f"{lead.first_name} {lead.last_name}".strip()
        self.fields["account"].choices = [
            (
                NEW,
                f"Create a new account “{lead.company}”"
                if lead.company
                else "Create a new account (the lead has no company)",
            ),
            (EXISTING, "Link an existing account"),
            (NONE, "No account"),
        ]
        self.fields["contact"].choices = [
            (NEW, f"Create a new contact “{name}”"),
            (EXISTING, "Link an existing contact"),
            (NONE, "No contact"),
        ]
        for field_name in ("account_record", "contact_record"):
            self.fields[field_name].bind(user)
        self.fields["account_record"].widget.candidates = self._similar_accounts()
        self.fields["contact_record"].widget.candidates = self._similar_contacts()
        self.fields["owner"].queryset = users_for(user).filter(is_active=True)
        owner_id = lead.owner_id if lead.owner.is_active else user.pk
        pipelines = list(pipeline_list())
        self.fields["pipeline"].choices = [(p.pk, p.name) for p in pipelines]
        self.fields["stage"].choices = [("", "First open stage")] + [
            (p.name, [(s.pk, f"{s.name} ({s.probability}%)") for s in p.stages.all()])
            for p in pipelines
        ]
        default = default_pipeline()
        self.initial.update(
            {
                "account": NEW if lead.company else NONE,
                "contact": NEW,
                "owner": owner_id,
                "opportunity_name": lead.company or str(lead),
                "pipeline": default.pk if default else None,
                "version": lead.version,
            }
        )

    def _similar_accounts(self) -> list[dict]:
        """Visible accounts whose name holds the lead's company (a few, by name)."""
        if not self.lead.company:
            return []
        rows = (
            accounts_visible_to(self.user)
            .filter(name__icontains=self.lead.company)
            .order_by("name", "id")
            .values_list("id", "name", "city")[:SIMILAR_LIMIT]
        )
        return [{"id": pk, "title": name, "subtitle": city} for pk, name, city in rows]

    def _similar_contacts(self) -> list[dict]:
        """Visible contacts with the lead's email, else with its last name (a few)."""
        lead = self.lead
        visible = contacts_visible_to(self.user).order_by("last_name", "first_name", "id")
        rows = []
        if lead.email:
            rows = list(visible.filter(emails__email=lead.email).distinct()[:SIMILAR_LIMIT])
        if not rows and lead.last_name:
            rows = list(visible.filter(last_name__iexact=lead.last_name)[:SIMILAR_LIMIT])
        return [
            {"id": c.pk, "title": f"{c.first_name} {c.last_name}".strip(), "subtitle": c.email}
            for c in rows
        ]

    def clean_account(self):
        return self._choice("account", accounts_visible_to, "No such account")

    def clean_contact(self):
        return self._choice("contact", contacts_visible_to, "No such contact")

    def _choice(self, name: str, visible_to, message: str):
        """NEW, NONE, EXISTING (the picker says which), or — as a client may post — the id
        of a visible record."""
        value = self.data.get(name, "")
        if value in (NEW, NONE, EXISTING):
            return value
        if not str(value).isdigit():
            raise forms.ValidationError(message, code=f"invalid_{name}")
        record = visible_to(self.user).filter(pk=int(value)).first()
        if record is None:
            raise forms.ValidationError(message, code=f"invalid_{name}")
        return record

    def full_clean(self):
        # A posted id (rather than "existing" + the picker) is a valid choice too.
        for name in ("account", "contact"):
            value = self.data.get(name, "") if self.is_bound else ""
            if str(value).isdigit():
                self.fields[name].choices = [*self.fields[name].choices, (value, value)]
        super().full_clean()

    def clean(self):
        data = super().clean()
        for name, visible_to, noun in (
            ("account", accounts_visible_to, "account"),
            ("contact", contacts_visible_to, "contact"),
        ):
            if data.get(name) != EXISTING or f"{name}_record" in self.errors:
                continue
            pk = data.get(f"{name}_record")
            record = visible_to(self.user).filter(pk=pk).first() if pk else None
            if record is None:
                self.add_error(f"{name}_record", f"Choose the existing {noun}, or create a new one")
            else:
                data[name] = record
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        account, contact = data["account"], data["contact"]
        kwargs = {
            "account": account if account not in (NEW, NONE, EXISTING) else None,
            "create_account": account == NEW,
            "contact": contact if contact not in (NEW, NONE, EXISTING) else None,
            "create_contact": contact == NEW,
            "create_opportunity": data["create_opportunity"],
            "owner": data["owner"],
            "expected_version": data.get("version"),
        }
        if data["create_opportunity"]:
            kwargs["opportunity_fields"] = {
                "name": data["opportunity_name"] or None,
                "amount": data["amount"],
                "currency": data["currency"] or None,
                "expected_close_date": data["expected_close_date"],
                "pipeline_id": data["pipeline"],
                "stage_id": data["stage"],
            }
        return kwargs

    # Where the conversion's error fields ("opportunity.stage_id", "account.name") go.
    SERVICE_FIELDS = {
        "account_id": "account",
        "contact_id": "contact",
        "opportunity": "create_opportunity",
        "opportunity.name": "opportunity_name",
        "opportunity.amount": "amount",
        "opportunity.currency": "currency",
        "opportunity.expected_close_date": "expected_close_date",
        "opportunity.pipeline_id": "pipeline",
        "opportunity.pipeline": "pipeline",
        "opportunity.stage_id": "stage",
        "opportunity.stage": "stage",
        "owner_id": "owner",
    }

    def service_field(self, name: str) -> str:
        if name in self.SERVICE_FIELDS:
            return self.SERVICE_FIELDS[name]
        for prefix in ("account", "contact"):
            if name == prefix or name.startswith(prefix + "."):
                return prefix
        if name.startswith("opportunity."):
            return "create_opportunity"
        return name

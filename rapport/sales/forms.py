"""Forms of the opportunity pages and the pipeline board. They validate the shape of the
input only; the sales services decide the rest and their errors come back next to the
field they name."""

from django import forms

from rapport.accounts.forms import AccountFilterField, OwnedRecordForm
from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.identity.selectors import teams_for, users_for
from rapport.sales.models import Pipeline, Stage, StageKind
from rapport.sales.selectors import default_pipeline, pipeline_list, product_list
from rapport.sales.services.lost_reasons import lost_reasons_active
from rapport.web.forms import DATE_INPUT, RecordFilterForm, UserChoiceField, currency_field
from rapport.web.pickers import RecordPickerField

CHOICES_LIMIT = 500


def _text(max_length: int, label: str | None = None, **kwargs) -> forms.CharField:
    return forms.CharField(max_length=max_length, required=False, label=label, **kwargs)


def stage_choices(pipelines) -> list:
    """Stages grouped by pipeline, for a <select> with one <optgroup> per pipeline."""
    return [
        (p.name, [(s.pk, f"{s.name} ({s.probability}%)") for s in p.stages.all()])
        for p in pipelines
    ]


class OpportunityForm(OwnedRecordForm):
    object_type = "opportunity"
    name = forms.CharField(max_length=200)
    account = RecordPickerField(object_type="account", required=False, label="Account")
    primary_contact = RecordPickerField(
        object_type="contact", required=False, label="Primary contact"
    )
    stage = forms.TypedChoiceField(coerce=int, empty_value=None, label="Pipeline and stage")
    amount = forms.DecimalField(
        max_digits=16,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="The products' sum once the opportunity has products",
    )
    currency = currency_field(initial="EUR")
    probability = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        label="Probability %",
        help_text="Empty: the stage's",
    )
    expected_close_date = forms.DateField(required=False, label="Close date", widget=DATE_INPUT)
    lost_reason = _text(200, label="Lost reason", help_text="Needed in a lost stage")
    source = _text(60)
    description = _text(10000, widget=forms.Textarea(attrs={"rows": 4}))

    FIELDS = [
        "name",
        "amount",
        "currency",
        "probability",
        "expected_close_date",
        "lost_reason",
        "source",
        "description",
    ]

    def __init__(self, *args, record=None, account_id=None, **kwargs):
        super().__init__(*args, record=record, **kwargs)
        self.fields["account"].bind(self.user, keep=[record.account_id] if record else ())
        self.fields["primary_contact"].bind(
            self.user, keep=[record.primary_contact_id] if record else ()
        )
        wanted_account = record.account_id if record is not None else account_id
        pipelines = list(pipeline_list())
        self.fields["stage"].choices = [("", "—"), *stage_choices(pipelines)]
        self._stages = {s.pk: s for p in pipelines for s in p.stages.all()}
        reasons = [r.name for r in lost_reasons_active()]
        if reasons:  # the admin's picklist (a deal lost for an older reason keeps it offered)
            current = record.lost_reason if record is not None else ""
            names = reasons + ([current] if current and current not in reasons else [])
            self.fields["lost_reason"].widget = forms.Select(
                choices=[("", "—"), *((n, n) for n in names)]
            )
        if record is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(record, name)
            self.initial["account"] = record.account_id
            self.initial["primary_contact"] = record.primary_contact_id
            self.initial["stage"] = record.stage_id
        else:
            self.initial["account"] = wanted_account
            default = next((p for p in pipelines if p.is_default), None) or default_pipeline()
            first_open = next(
                (s for s in (default.stages.all() if default else []) if s.kind == StageKind.OPEN),
                None,
            )
            self.initial["stage"] = first_open.pk if first_open else None
            self.initial["amount"] = 0

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

    def clean_primary_contact(self):
        pk = self.cleaned_data.get("primary_contact")
        if pk is None:
            return None
        if self.record is not None and pk == self.record.primary_contact_id:
            return self.record.primary_contact  # unchanged (the editor may not see it)
        contact = contacts_visible_to(self.user).filter(pk=pk).first()
        if contact is None:
            raise forms.ValidationError("No such contact", code="invalid_contact")
        return contact

    def clean_stage(self):
        stage = self._stages.get(self.cleaned_data.get("stage"))
        if stage is None:
            raise forms.ValidationError("Choose a stage", code="invalid_stage")
        return stage

    def service_kwargs(self) -> dict:
        """Model fields for the services. Editing sends only what changed, so that an
        untouched amount or probability does not override the stage's or the products'."""
        data = self.cleaned_data
        fields = {name: data[name] for name in self.FIELDS}
        fields["account"] = data.get("account")
        fields["primary_contact"] = data.get("primary_contact")
        fields["stage"] = data["stage"]
        fields["pipeline"] = data["stage"].pipeline
        if fields["amount"] is None:
            fields.pop("amount")
        if self.record is not None:
            changed = set(self.changed_data)
            keep = {n for n in fields if n in changed}
            if "stage" in changed:
                keep |= {"stage", "pipeline", "lost_reason"}
            if "lost_reason" in changed:
                keep.add("lost_reason")
            fields = {k: v for k, v in fields.items() if k in keep}
        return {"fields": fields, **self.owned_kwargs()}

    def service_error_map(self) -> dict[str, str]:
        return self.SERVICE_FIELDS

    SERVICE_FIELDS = {
        "owner_id": "owner",
        "account_id": "account",
        "primary_contact_id": "primary_contact",
        "pipeline_id": "stage",
        "stage_id": "stage",
    }


class StageFilterField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.pipeline.name}: {obj.name}"


class OpportunityFilterForm(RecordFilterForm):
    pipeline_id = forms.ModelChoiceField(
        queryset=Pipeline.objects.all(), required=False, label="Pipeline", empty_label="Any"
    )
    stage_id = StageFilterField(
        queryset=Stage.objects.select_related("pipeline"),
        required=False,
        label="Stage",
        empty_label="Any",
    )
    stage_kind = forms.ChoiceField(
        choices=[("", "Any"), *StageKind.choices], required=False, label="Open/closed"
    )
    account_id = AccountFilterField(queryset=None, required=False, label="Account")
    close_from = forms.DateField(required=False, label="Closes from", widget=DATE_INPUT)
    close_to = forms.DateField(required=False, label="Closes by", widget=DATE_INPUT)
    amount_min = forms.DecimalField(
        required=False, min_value=0, max_digits=16, decimal_places=2, label="Amount from"
    )
    amount_max = forms.DecimalField(
        required=False, min_value=0, max_digits=16, decimal_places=2, label="Amount to"
    )
    extra_filters = {
        "pipeline_id": "pipeline_id",
        "stage_id": "stage_id",
        "stage_kind": "stage_kind",
        "account_id": "account_id",
        "close_from": "close_from",
        "close_to": "close_to",
        "amount_min": "amount_min",
        "amount_max": "amount_max",
    }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["account_id"].queryset = accounts_visible_to(user)
        for name in ("amount_min", "amount_max"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})

    def chips(self) -> list[dict]:
        labels = dict(StageKind.choices)
        chips = super().chips()
        for chip in chips:
            if chip["param"] == "stage_kind":
                chip["value"] = labels.get(chip["raw"], chip["value"])
        return chips

    def stage_kind_choices(self) -> list:
        return list(StageKind.choices)


class MoveStageForm(forms.Form):
    """A stage move from the board or the record page, with the version the page showed."""

    stage_id = forms.ModelChoiceField(queryset=None, label="Stage")
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    lost_reason = forms.CharField(
        max_length=200, required=False, label="Why was it lost?", strip=True
    )
    lost_note = forms.CharField(
        max_length=2000, required=False, label="Note (optional)", strip=True, widget=forms.Textarea
    )

    def __init__(self, *args, opportunity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage_id"].queryset = Stage.objects.filter(pipeline_id=opportunity.pipeline_id)


class LineItemForm(forms.Form):
    """Add a product to an opportunity (the price defaults to the price book's)."""

    product = forms.TypedChoiceField(coerce=int, empty_value=None, label="Product")
    quantity = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0.01, initial=1, label="Quantity"
    )
    unit_price = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        label="Unit price",
        widget=forms.NumberInput(attrs={"placeholder": "Price book"}),
    )
    discount_percent = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, initial=0, label="Discount %"
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "line-item-%s")
        super().__init__(*args, **kwargs)
        products = product_list(is_active=True).order_by("name", "id")
        self._products = {p.pk: p for p in products[:CHOICES_LIMIT]}
        self.fields["product"].choices = [("", "Choose a product…")] + [
            (p.pk, f"{p.name} ({p.sku})") for p in self._products.values()
        ]

    def clean_product(self):
        product = self._products.get(self.cleaned_data.get("product"))
        if product is None:
            raise forms.ValidationError("Choose a product", code="invalid_product")
        return product


class LineItemEditForm(forms.Form):
    quantity = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0.01, label="Quantity")
    unit_price = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, label="Unit price"
    )
    discount_percent = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, label="Discount %"
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, item, **kwargs):
        kwargs.setdefault("auto_id", f"line-item-{item.pk}-%s")
        super().__init__(*args, **kwargs)
        self.item = item
        self.form_id = f"line-item-{item.pk}-form"
        self.initial.update(
            {
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "discount_percent": item.discount_percent,
                "version": item.version,
            }
        )

    def changes(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("quantity", "unit_price", "discount_percent")}


class BoardFilterForm(forms.Form):
    """The board's filters: which pipeline, and whose opportunities."""

    pipeline = forms.ChoiceField(
        required=False, label="Pipeline", error_messages={"invalid_choice": "No such pipeline"}
    )
    owner_id = UserChoiceField(queryset=None, required=False, label="Owner", empty_label="Anyone")
    team_id = forms.ModelChoiceField(
        queryset=None, required=False, label="Team", empty_label="Any team"
    )

    def __init__(self, *args, user, pipelines, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipelines = pipelines
        # The pipelines are already loaded (with their stages): no query for the choices.
        self.fields["pipeline"].choices = [(p.pk, p.name) for p in pipelines]
        self.fields["owner_id"].queryset = users_for(user).filter(is_active=True)
        self.fields["team_id"].queryset = teams_for(user)
        self.default_pipeline = next((p for p in pipelines if p.is_default), None) or next(
            iter(pipelines), None
        )
        if self.default_pipeline is not None:
            # Filters without a pipeline show (and keep) the default one.
            self.initial["pipeline"] = self.default_pipeline.pk
            if self.is_bound and not self.data.get("pipeline"):
                self.data = self.data.copy()
                self.data["pipeline"] = str(self.default_pipeline.pk)

    def clean_pipeline(self):
        value = self.data.get("pipeline") if self.is_bound else None
        by_id = {str(p.pk): p for p in self.pipelines}
        if value in (None, ""):
            return None
        if value not in by_id:
            raise forms.ValidationError("No such pipeline", code="invalid_pipeline")
        return by_id[value]

    def chosen_pipeline(self) -> Pipeline | None:
        chosen = self.cleaned_data.get("pipeline") if self.is_bound and self.is_valid() else None
        return chosen or self.default_pipeline

    def selector_kwargs(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "owner_id": data["owner_id"].pk if data.get("owner_id") else None,
            "team_id": data["team_id"].pk if data.get("team_id") else None,
        }

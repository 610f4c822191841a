"""Forms of the product and price book pages. Shape only: the catalogue services decide
(unique SKU and names, who may write) and their errors come back next to the field."""

from django import forms
from django.core.validators import RegexValidator

from rapport.sales.selectors import product_list
from rapport.web.forms import ListFilterForm, currency_field

SKU = RegexValidator(r"^\S(.*\S)?$", "No spaces at the start or the end")
CHOICES_LIMIT = 500


def _bool_choice(value: str) -> bool:
    return value == "true"


class ProductFilterForm(ListFilterForm):
    """The product list's filters, under the API's query parameter names."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.ChoiceField(required=False, label="Category")
    is_active = forms.TypedChoiceField(
        required=False,
        label="Status",
        choices=[("", "Any"), ("true", "Active"), ("false", "Inactive")],
        coerce=_bool_choice,
        empty_value=None,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        categories = (
            product_list()
            .exclude(category="")
            .order_by("category")
            .values_list("category", flat=True)
            .distinct()[:CHOICES_LIMIT]
        )
        self.fields["category"].choices = [("", "Any category"), *((c, c) for c in categories)]


class ProductForm(forms.Form):
    sku = forms.CharField(max_length=64, label="SKU", validators=[SKU])
    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False)
    unit_price = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, label="List price", initial=0
    )
    unit_cost = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        label="Unit cost",
        help_text="For margins; never shown to customers",
    )
    currency = currency_field(initial="EUR")
    is_active = forms.BooleanField(required=False, initial=True, label="Active (can be sold)")
    is_tracked = forms.BooleanField(
        required=False,
        label="Tracked (installed base)",
        help_text="Each unit sold becomes an installed product with its warranty",
    )
    warranty_months = forms.IntegerField(
        min_value=0, max_value=600, initial=0, required=False, label="Warranty (months)"
    )
    description = forms.CharField(
        max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    FIELDS = (
        "sku",
        "name",
        "category",
        "unit_price",
        "unit_cost",
        "currency",
        "is_active",
        "is_tracked",
        "warranty_months",
    )

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.record = record
        if record is not None:
            for name in (*self.FIELDS, "description"):
                self.initial[name] = getattr(record, name)
            self.initial["version"] = record.version

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data.get(name) for name in (*self.FIELDS, "description")}
        fields["category"] = (fields["category"] or "").strip()
        fields["description"] = fields["description"] or ""
        fields["warranty_months"] = fields["warranty_months"] or 0
        return fields


class PriceBookForm(forms.Form):
    name = forms.CharField(max_length=100)
    currency = currency_field(initial="EUR")
    is_default = forms.BooleanField(
        required=False, label="Default", help_text="Line items take their prices from it"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    FIELDS = ("name", "currency", "is_default", "is_active")

    def __init__(self, *args, record=None, **kwargs):
        super().__init__(*args, **kwargs)
        if record is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(record, name)
            self.initial["version"] = record.version

    def service_fields(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.FIELDS}


class EntryForm(forms.Form):
    """A product's price in a price book (a new entry, or a changed price)."""

    product = forms.TypedChoiceField(coerce=int, label="Product")
    unit_price = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, label="Price")

    def __init__(self, *args, product_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "Choose a product…"), *(product_choices or [])]

"""Forms of the order pages: the list's filter bar, the order form and its line rows.

They validate the shape of the input only. The total is never taken from the browser:
the order service sums the lines, and its errors (`lines[1].quantity`) come back next to
the row and field they name.
"""

from decimal import Decimal

from django import forms
from django.utils import timezone

from rapport.accounts.form_fields import CustomerFieldsMixin
from rapport.accounts.selectors import accounts_visible_to, contacts_visible_to
from rapport.orders.models import Channel, OrderStatus
from rapport.sales.selectors import default_unit_price, product_list
from rapport.web.forms import DATE_INPUT, DATETIME_INPUT, ListFilterForm, currency_field
from rapport.web.pickers import RecordPickerField

CHOICES_LIMIT = 500
MAX_LINES = 200
LINE_INPUTS = (
    "product",
    "description",
    "quantity",
    "unit_price",
    "quantity_delivered",
    "quantity_damaged",
    "quantity_returned",
)


def _capped_choices(qs, label, wanted=None, limit=CHOICES_LIMIT) -> list:
    """(id, label) of the first `limit` rows, plus `wanted` when it is further down."""
    rows = list(qs[:limit])
    if wanted and wanted not in {r.pk for r in rows}:
        rows += list(qs.filter(pk=wanted))
    return [(r.pk, label(r)) for r in rows]


def _plain(qs):
    # A choice list needs names only: none of the selector's joins and prefetches.
    return qs.select_related(None).prefetch_related(None)


def account_choices(user, wanted=None) -> list:
    qs = _plain(accounts_visible_to(user)).order_by("name", "id").only("id", "name")
    return _capped_choices(qs, lambda a: a.name, wanted)


class ContactFilterField(forms.ModelChoiceField):
    """`?contact_id=` (from a contact's page): a visible contact, shown by name in the chips."""

    widget = forms.HiddenInput

    def label_from_instance(self, obj) -> str:
        return obj.full_name


class OrderFilterForm(ListFilterForm):
    """The order list's filters, under the API's query parameter names."""

    account_id = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Account"
    )
    contact_id = ContactFilterField(queryset=None, required=False, label="Contact")
    channel = forms.ChoiceField(
        required=False, label="Channel", choices=[("", "Any channel"), *Channel.choices]
    )
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "Any status"), *OrderStatus.choices]
    )
    ordered_from = forms.DateField(required=False, label="Ordered from", widget=DATE_INPUT)
    ordered_to = forms.DateField(required=False, label="to", widget=DATE_INPUT)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        raw = self.data.get("account_id") if self.is_bound else None
        wanted = int(raw) if raw and str(raw).isdigit() and len(str(raw)) < 19 else None
        self.fields["account_id"].choices = [("", "Any account"), *account_choices(user, wanted)]
        self.fields["contact_id"].queryset = contacts_visible_to(user)

    def selector_kwargs(self) -> dict:
        kwargs = super().selector_kwargs()
        for name in ("channel", "status"):
            if name in kwargs:
                kwargs[name] = [kwargs[name]]
        return kwargs


class OrderForm(CustomerFieldsMixin, forms.Form):
    """The order itself. On edit only what the service lets change: time, channel, status."""

    account = RecordPickerField(object_type="account", required=False)
    contact = RecordPickerField(object_type="contact", required=False)
    ordered_at = forms.DateTimeField(label="Ordered at", widget=DATETIME_INPUT)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.WEB)
    status = forms.ChoiceField(choices=OrderStatus.choices, initial=OrderStatus.PAID)
    currency = currency_field(
        empty="The account's currency", required=False, help_text="Empty: the account's currency"
    )
    external_id = forms.CharField(
        max_length=100, required=False, label="External id", help_text="Your shop's order number"
    )
    promised_date = forms.DateField(required=False, label="Promised for", widget=DATE_INPUT)
    shipped_date = forms.DateField(required=False, label="Shipped on", widget=DATE_INPUT)
    delivered_date = forms.DateField(required=False, label="Delivered on", widget=DATE_INPUT)
    documentation_complete = forms.BooleanField(
        required=False,
        label="Documentation complete",
        help_text="Invoice, delivery note and certificates were right",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    DELIVERY = ("promised_date", "shipped_date", "delivered_date", "documentation_complete")
    EDITABLE = ("ordered_at", "channel", "status", "version", *DELIVERY)

    def __init__(self, *args, user, record=None, account_id=None, contact_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.record = record
        if record is not None:
            for name in list(self.fields):
                if name not in self.EDITABLE:
                    del self.fields[name]
            current = {
                "ordered_at": timezone.localtime(record.ordered_at).replace(tzinfo=None),
                "channel": record.channel,
                "status": record.status,
                "version": record.version,
                **{name: getattr(record, name) for name in self.DELIVERY},
            }
            for name, value in current.items():
                self.initial.setdefault(name, value)  # a redrawn form keeps what was typed
            return
        now = timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)
        self.initial.setdefault("ordered_at", now)
        self.initial.setdefault("account", account_id)
        self.initial.setdefault("contact", contact_id)
        self.fields["account"].bind(user)
        self.fields["contact"].bind(user)

    def clean_currency(self):
        return (self.cleaned_data.get("currency") or "").upper() or None

    def service_fields(self) -> dict:
        data = self.cleaned_data
        names = ("ordered_at", "channel", "status", "currency", "external_id")
        fields = {k: data[k] for k in names if k in self.fields and data.get(k) not in ("", None)}
        fields.update({k: data.get(k) for k in self.DELIVERY})
        return fields


class OrderLineForm(forms.Form):
    """One line row: a product (or just a description), quantity and unit price. An empty
    price takes the product's price (its default price book entry, else its list price)."""

    product = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    description = forms.CharField(max_length=200, required=False)
    quantity = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), initial=Decimal("1")
    )
    unit_price = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, label="Unit price"
    )
    quantity_delivered = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, label="Delivered"
    )
    quantity_damaged = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, label="Damaged"
    )
    quantity_returned = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, label="Returned"
    )

    def __init__(self, *args, product_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "— no product —"), *product_choices]

    def clean(self):
        data = super().clean()
        product_id = data.get("product")
        product = None
        if product_id is not None:
            product = product_list().filter(pk=product_id).first()
            if product is None:
                self.add_error("product", "No such product")
        if data.get("unit_price") is None and "unit_price" not in self.errors:
            if product is None:
                self.add_error("unit_price", "Give a price, or choose a product")
            else:
                data["unit_price"] = default_unit_price(product)
        described = (data.get("description") or "").strip()
        if product is None and not described and "product" not in self.errors:
            self.add_error("description", "Describe the line, or choose a product")
        return data

    def line(self) -> dict:
        data = self.cleaned_data
        return {
            "product_id": data.get("product"),
            "description": data.get("description") or "",
            "quantity": data["quantity"],
            "unit_price": data["unit_price"],
            "quantity_delivered": data.get("quantity_delivered"),
            "quantity_damaged": data.get("quantity_damaged") or Decimal("0"),
            "quantity_returned": data.get("quantity_returned") or Decimal("0"),
        }


def product_choices(extra_ids=()) -> list:
    """Active products (capped), plus any already on the order's lines."""
    active = product_list(is_active=True).order_by("name", "id")
    rows = list(active[:CHOICES_LIMIT])
    missing = set(extra_ids) - {p.pk for p in rows}
    if missing:
        rows += list(product_list().filter(pk__in=missing))
    return [(p.pk, f"{p.name} ({p.sku})") for p in rows]


class LineRows:
    """The order's line rows: bound to a POST (`line_count` rows named line<i>-<field>),
    or built from initial values. A row left empty is no line."""

    def __init__(self, *, data=None, initial=None, choices):
        self.choices = choices
        if data is not None:
            count = _count(data.get("line_count"))
            self.forms = [
                OrderLineForm(data, prefix=f"line{i}", product_choices=choices)
                for i in range(count)
            ]
        else:
            rows = list(initial or [])
            self.forms = [
                OrderLineForm(initial=row, prefix=f"line{i}", product_choices=choices)
                for i, row in enumerate(rows)
            ]
        self.errors: list[str] = []
        self._used: list[int] = []

    def __iter__(self):
        return iter(self.forms)

    def __len__(self):
        return len(self.forms)

    @staticmethod
    def _blank(form) -> bool:
        def raw(name):
            return str(form.data.get(form.add_prefix(name), "")).strip()

        return not any(raw(n) for n in ("product", "description", "unit_price"))

    def is_valid(self) -> bool:
        ok = True
        self._used = []
        for i, form in enumerate(self.forms):
            if self._blank(form):
                continue
            self._used.append(i)
            ok = form.is_valid() and ok
        return ok

    def lines(self) -> list[dict]:
        return [self.forms[i].line() for i in self._used]

    def add_service_error(self, index: int, field: str, message: str) -> bool:
        """Put the service's `lines[<index>].<field>` error on its row; False if unknown."""
        if index >= len(self._used):
            return False
        form = self.forms[self._used[index]]
        target = {"product_id": "product"}.get(field, field)
        form.add_error(target if target in form.fields else None, message)
        return True


def _count(raw) -> int:
    try:
        count = int(raw)
    except (TypeError, ValueError):
        return 1
    return max(0, min(count, MAX_LINES))


def rows_from_post(data) -> list[dict]:
    """The raw values of the posted rows (to redraw them after adding or removing one)."""
    rows = []
    for i in range(_count(data.get("line_count"))):
        rows.append({name: data.get(f"line{i}-{name}", "") for name in LINE_INPUTS})
    return rows

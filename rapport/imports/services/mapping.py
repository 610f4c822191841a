"""The fields a file's columns can map to, per object, and the guess of a mapping from
the header: labels are compared without case, accents, spaces or punctuation against each
field's key, label and synonyms ("E-mail", "Email Address" → email; "Company" → the
account's name), then against custom field keys and labels."""

import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from rapport.imports.models import ImportObject, ImportPolicy
from rapport.records.models import CustomFieldDefinition


@dataclass(frozen=True)
class Target:
    """A field a column can fill. `kind` says how a cell is read (see cleaning.py)."""

    key: str
    label: str
    kind: str = "text"
    max_length: int | None = None
    synonyms: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    required: bool = False  # needed to create a record
    custom: CustomFieldDefinition | None = None


def _t(key, label, kind="text", max_length=None, synonyms=(), **kw) -> Target:
    return Target(key, label, kind, max_length, tuple(synonyms), **kw)


_FIRST = ("first name", "firstname", "given name", "forename", "prenom", "vorname", "nombre")
_LAST = ("last name", "lastname", "surname", "family name", "nom", "nachname", "apellido")
_FULL = ("name", "full name", "contact name", "contact", "person")
_EMAIL = ("email", "e-mail", "email address", "e-mail address", "mail", "courriel")
_PHONE = ("phone", "tel", "telephone", "phone number", "telephone number", "mobile", "cell")
_OWNER = ("owner", "assigned to", "owner email", "owner username", "sales rep", "account owner")
_ADDRESS = (
    _t("street", "Street", max_length=200, synonyms=("address", "street address", "address 1")),
    _t("city", "City", max_length=100, synonyms=("town", "ville", "stadt")),
    _t("region", "Region", max_length=100, synonyms=("state", "province", "county")),
    _t("postal_code", "Postal code", max_length=20, synonyms=("zip", "zip code", "postcode")),
    _t("country", "Country", "country", synonyms=("country code", "pays", "land")),
)
_OWNED = (
    _t("owner", "Owner (username or email)", "owner", synonyms=_OWNER),
    _t("tags", "Tags", "tags", synonyms=("labels", "tag")),
)
_DESCRIPTION = _t(
    "description", "Description", max_length=10000, synonyms=("notes", "note", "comments")
)

TARGETS: dict[str, tuple[Target, ...]] = {
    ImportObject.CONTACTS: (
        _t("first_name", "First name", max_length=100, synonyms=_FIRST),
        _t("last_name", "Last name", max_length=100, synonyms=_LAST, required=True),
        _t("full_name", "Full name (split into first and last)", "full_name", synonyms=_FULL),
        _t("title", "Title", max_length=120, synonyms=("job title", "position", "role")),
        _t("email", "Email", "email", synonyms=_EMAIL),
        _t("phone", "Phone", "phone", synonyms=_PHONE),
        _t(
            "account",
            "Account name",
            max_length=200,
            synonyms=(
                "company",
                "account name",
                "company name",
                "organisation",
                "organization",
                "employer",
            ),
        ),
        *_ADDRESS,
        _DESCRIPTION,
        *_OWNED,
        _t(
            "consent",
            "Consent (purpose:in or purpose:out; several with ;)",
            "consent",
            synonyms=("consent", "opt in", "opt-in", "subscription", "subscriptions", "permission"),
        ),
    ),
    ImportObject.LEADS: (
        _t("first_name", "First name", max_length=100, synonyms=_FIRST),
        _t("last_name", "Last name", max_length=100, synonyms=_LAST, required=True),
        _t("full_name", "Full name (split into first and last)", "full_name", synonyms=_FULL),
        _t("title", "Title", max_length=120, synonyms=("job title", "position", "role")),
        _t("email", "Email", "email", synonyms=_EMAIL),
        _t("phone", "Phone", "phone", synonyms=_PHONE),
        _t(
            "company",
            "Company",
            max_length=200,
            synonyms=("company name", "account", "organisation", "organization"),
        ),
        _t("website", "Website", "url", max_length=300, synonyms=("web site", "url", "web")),
        _t("industry", "Industry", max_length=100, synonyms=("sector",)),
        _t("source", "Source", max_length=60, synonyms=("lead source", "origin")),
        _t("campaign", "Campaign", max_length=120),
        _t(
            "status",
            "Status",
            "choice",
            synonyms=("lead status",),
            choices=("new", "working", "qualified", "disqualified"),
        ),
        _t("disqualified_reason", "Disqualified reason", max_length=200),
        *_ADDRESS,
        _DESCRIPTION,
        *_OWNED,
    ),
    ImportObject.ACCOUNTS: (
        _t(
            "name",
            "Name",
            max_length=200,
            synonyms=(
                "account",
                "account name",
                "company",
                "company name",
                "organisation",
                "organization",
            ),
            required=True,
        ),
        _t("website", "Website", "url", max_length=300, synonyms=("web site", "url", "homepage")),
        _t("domain", "Domain", max_length=200, synonyms=("email domain", "domain name")),
        _t("industry", "Industry", max_length=100, synonyms=("sector",)),
        _t(
            "size",
            "Size",
            "choice",
            synonyms=("company size", "employees"),
            choices=("1-9", "10-49", "50-249", "250-999", "1000+"),
        ),
        _t("annual_revenue", "Annual revenue", "money", synonyms=("revenue",)),
        _t("currency", "Currency", "currency"),
        *_ADDRESS,
        _t("shipping_street", "Shipping street", max_length=200),
        _t("shipping_city", "Shipping city", max_length=100),
        _t("shipping_region", "Shipping region", max_length=100),
        _t("shipping_postal_code", "Shipping postal code", max_length=20),
        _t("shipping_country", "Shipping country", "country"),
        _t(
            "parent",
            "Parent account name",
            max_length=200,
            synonyms=("parent account", "parent company"),
        ),
        _DESCRIPTION,
        *_OWNED,
    ),
    ImportObject.OPPORTUNITIES: (
        _t(
            "name",
            "Name",
            max_length=200,
            synonyms=("opportunity", "opportunity name", "deal", "deal name"),
            required=True,
        ),
        _t(
            "account",
            "Account name",
            max_length=200,
            synonyms=("account name", "company", "company name", "organisation", "organization"),
        ),
        _t(
            "primary_contact",
            "Primary contact email",
            "email",
            synonyms=("contact email", "primary contact", "contact", "email"),
        ),
        _t("pipeline", "Pipeline name", max_length=100, synonyms=("sales pipeline",)),
        _t("stage", "Stage name", max_length=100, synonyms=("deal stage", "sales stage")),
        _t("amount", "Amount", "money", synonyms=("value", "deal value", "deal amount")),
        _t("currency", "Currency", "currency"),
        _t("probability", "Probability (%)", "percent", synonyms=("win probability",)),
        _t(
            "expected_close_date",
            "Expected close date",
            "date",
            synonyms=("close date", "closing date", "expected close"),
        ),
        _t("source", "Source", max_length=60, synonyms=("lead source",)),
        _t("lost_reason", "Lost reason", max_length=200),
        _DESCRIPTION,
        *_OWNED,
    ),
    ImportObject.PRODUCTS: (
        _t(
            "sku",
            "SKU",
            max_length=64,
            synonyms=("product code", "code", "item code", "reference", "ref", "article"),
            required=True,
        ),
        _t(
            "name",
            "Name",
            max_length=200,
            synonyms=("product", "product name", "item"),
            required=True,
        ),
        _t("category", "Category", max_length=100, synonyms=("product category", "family")),
        _t("description", "Description", max_length=10000),
        _t("unit_price", "Unit price", "money", synonyms=("price", "list price")),
        _t("unit_cost", "Unit cost", "money", synonyms=("cost",)),
        _t("currency", "Currency", "currency"),
        _t("is_active", "Active", "bool", synonyms=("is active", "enabled")),
    ),
    ImportObject.ORDERS: (
        _t(
            "external_id",
            "Order id (external)",
            max_length=100,
            synonyms=(
                "order id",
                "order number",
                "order no",
                "order",
                "order ref",
                "external id",
                "transaction id",
                "transaction",
                "invoice",
                "invoice id",
                "invoice number",
                "receipt",
            ),
            required=True,
        ),
        _t(
            "ordered_at",
            "Ordered at",
            "datetime",
            synonyms=("order date", "date", "purchase date", "ordered"),
            required=True,
        ),
        _t(
            "channel",
            "Channel",
            "choice",
            choices=("web", "store", "phone", "partner", "email", "other"),
        ),
        _t(
            "status",
            "Status",
            "choice",
            synonyms=("order status",),
            choices=("placed", "paid", "shipped", "cancelled", "refunded"),
        ),
        _t("currency", "Currency", "currency"),
        _t("account", "Account name", max_length=200, synonyms=("company", "customer")),
        _t("account_id", "Account id", "id"),
        _t(
            "contact_email",
            "Contact email",
            "email",
            synonyms=("email", "customer email", "e-mail"),
        ),
        _t("contact_id", "Contact id", "id"),
        _t("product_sku", "Product SKU", max_length=64, synonyms=("sku", "product code")),
        _t(
            "line_description",
            "Line description",
            max_length=200,
            synonyms=("description", "item", "product", "product name"),
        ),
        _t("quantity", "Quantity", "quantity", synonyms=("qty", "units")),
        _t("unit_price", "Unit price", "money", synonyms=("price", "item price", "unit cost")),
        # A transaction log's amount: the line's total (the unit price is derived from it).
        _t(
            "line_total",
            "Line total (amount)",
            "money",
            synonyms=(
                "amount",
                "total",
                "line total",
                "line amount",
                "line price",
                "sales",
                "revenue",
                "value",
                "order total",
            ),
        ),
        # Perfect order (the Seven R's): the delivery, per order (first row) and per line.
        _t("promised_date", "Promised date", "date", synonyms=("promised", "due date")),
        _t("shipped_date", "Shipped date", "date", synonyms=("shipped", "ship date")),
        _t("delivered_date", "Delivered date", "date", synonyms=("delivered", "delivery date")),
        _t(
            "documentation_complete",
            "Documentation complete",
            "bool",
            synonyms=("documentation ok", "docs complete"),
        ),
        _t("quantity_delivered", "Quantity delivered", "money", synonyms=("qty delivered",)),
        _t("quantity_damaged", "Quantity damaged", "money", synonyms=("qty damaged",)),
        _t("quantity_returned", "Quantity returned", "money", synonyms=("qty returned",)),
        # With "create the customers": the name of a contact created for an unknown email.
        _t(
            "customer_name",
            "Customer name",
            "full_name",
            synonyms=("customer name", "contact name", "buyer", "buyer name", "client name"),
        ),
    ),
    ImportObject.ASSETS: (
        _t(
            "serial_number",
            "Serial number",
            max_length=100,
            synonyms=("serial", "serial no", "sn", "s/n", "serial number", "unit id"),
        ),
        _t(
            "product_sku",
            "Product SKU",
            max_length=64,
            synonyms=("sku", "product code", "item code", "product", "model"),
            required=True,
        ),
        _t("account", "Account name", max_length=200, synonyms=("company", "customer")),
        _t("account_id", "Account id", "id"),
        _t("contact_email", "Contact email", "email", synonyms=("email", "e-mail")),
        _t("contact_id", "Contact id", "id"),
        _t(
            "install_date",
            "Install date",
            "date",
            synonyms=("installed", "installation date", "installed on"),
        ),
        _t(
            "warranty_end",
            "Warranty end",
            "date",
            synonyms=("warranty", "warranty until", "warranty end date", "warranty expires"),
        ),
        _t("location", "Location", max_length=300, synonyms=("site", "address", "where")),
        _t(
            "status",
            "Status",
            "choice",
            choices=("active", "in_repair", "returned", "replaced", "retired"),
        ),
        _t("notes", "Notes", max_length=10000, synonyms=("note", "comments", "description")),
    ),
}

# Records with custom fields, by import object.
CUSTOM_OBJECT = {
    ImportObject.ACCOUNTS: "account",
    ImportObject.CONTACTS: "contact",
    ImportObject.LEADS: "lead",
    ImportObject.OPPORTUNITIES: "opportunity",
}
# Columns that find an existing record (matching); a file with one of them can update
# records without the fields a creation needs.
MATCH_KEYS = {
    ImportObject.CONTACTS: ("email", "phone"),
    ImportObject.LEADS: ("email", "phone"),
    ImportObject.ACCOUNTS: ("domain", "website", "name"),
    ImportObject.PRODUCTS: ("sku",),
    ImportObject.ORDERS: ("external_id",),
    ImportObject.OPPORTUNITIES: ("name",),
    ImportObject.ASSETS: ("serial_number",),
}


def squash(text: str) -> str:
    """Compare form of a label: no accents, no case, no spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", plain.casefold())


def targets_for(object_type: str) -> dict[str, Target]:
    """Every field of the object a column can map to: built-in, then custom (`custom.<key>`)."""
    targets = {t.key: t for t in TARGETS[object_type]}
    custom_type = CUSTOM_OBJECT.get(object_type)
    if custom_type:
        for definition in CustomFieldDefinition.objects.filter(object_type=custom_type):
            targets[f"custom.{definition.key}"] = Target(
                key=f"custom.{definition.key}",
                label=definition.label,
                kind="custom",
                required=definition.required,
                choices=tuple(map(str, definition.choices or ())),
                custom=definition,
            )
    return targets


def guess_mapping(object_type: str, headers: list[str]) -> dict[str, str | None]:
    """Header → field key (None: ignored). Each field is used once, by the first column
    whose label matches its key, label or a synonym; custom fields by key or label."""
    targets = targets_for(object_type)
    lookup: dict[str, str] = {}
    for target in targets.values():
        if target.custom is not None:
            continue
        for name in (target.key, target.label, *target.synonyms):
            lookup.setdefault(squash(name), target.key)
    custom_lookup: dict[str, str] = {}
    for target in targets.values():
        if target.custom is not None:
            for name in (target.custom.key, target.custom.label, target.key):
                custom_lookup.setdefault(squash(name), target.key)
    mapping: dict[str, str | None] = {}
    used: set[str] = set()
    for header in headers:
        key = squash(header)
        found = lookup.get(key) or custom_lookup.get(key)
        if found and found not in used:
            used.add(found)
            mapping[header] = found
        else:
            mapping[header] = None
    return mapping


def _mapping_error(message: str, code: str) -> ValidationError:
    return ValidationError({"mapping": [ValidationError(message, code=code)]})


def mapping_clean(
    *, object_type: str, headers: list[str], mapping: dict, policy: str
) -> dict[str, str | None]:
    """A complete, valid mapping for these headers: every header present (unknown ones
    ignored), known fields only, each at most once, and enough to create or match a record."""
    if not isinstance(mapping, dict):
        raise _mapping_error("The mapping must be an object {column: field}", "invalid")
    targets = targets_for(object_type)
    unknown_columns = [c for c in mapping if c not in headers]
    if unknown_columns:
        raise _mapping_error(
            f"No column named {unknown_columns[0]!r} in the file (columns: "
            + ", ".join(headers[:20])
            + ")",
            "unknown_column",
        )
    clean: dict[str, str | None] = {}
    used: dict[str, str] = {}
    for header in headers:
        value = mapping.get(header)
        if value in (None, ""):
            clean[header] = None
            continue
        if not isinstance(value, str) or value not in targets:
            raise _mapping_error(
                f"Column {header!r}: {value!r} is not a field of {object_type}", "unknown_field"
            )
        if value in used:
            raise _mapping_error(
                f"Columns {used[value]!r} and {header!r} both map to {value}", "duplicate_field"
            )
        used[value] = header
        clean[header] = value
    mapping_check(object_type=object_type, mapping=clean, policy=policy)
    return clean


def mapping_check(*, object_type: str, mapping: dict, policy: str) -> None:
    """Enough columns are mapped to create records (or, unless the policy is create, to
    match them)."""
    fields = {v for v in mapping.values() if v}
    if not fields:
        raise _mapping_error(
            "No column is mapped to a field: map at least one column (is the first row a "
            "header row?)",
            "nothing_mapped",
        )
    required = {t.key for t in TARGETS[object_type] if t.required}
    if object_type in (ImportObject.CONTACTS, ImportObject.LEADS) and "full_name" in fields:
        required.discard("last_name")
    missing = sorted(required - fields)
    if object_type == ImportObject.ORDERS:
        if not fields & {"account", "account_id", "contact_email", "contact_id"}:
            missing.append("account or contact_email")
        if not fields & {"unit_price", "line_total"}:
            missing.append("unit_price or line_total (amount)")
        if missing:
            raise _mapping_error(
                "Orders need columns for: " + ", ".join(missing), "required_columns"
            )
        return
    if object_type == ImportObject.ASSETS and not fields & {
        "account",
        "account_id",
        "contact_email",
        "contact_id",
    }:
        can_update = policy != ImportPolicy.CREATE and "serial_number" in fields
        if not can_update:
            missing.append("account or contact_email")
    if not missing:
        return
    can_match = policy != ImportPolicy.CREATE and fields & set(MATCH_KEYS[object_type])
    if not can_match:
        raise _mapping_error(
            f"Map a column to {', '.join(missing)} (needed to create {object_type})",
            "required_columns",
        )

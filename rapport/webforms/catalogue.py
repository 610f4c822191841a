"""Which record fields a form may ask for: the standard lead / contact fields and the
custom fields an administrator defined for that object type (key `custom.<key>`)."""

from dataclasses import dataclass

from rapport.records.custom_fields import definitions_for

# (key, label, kind) — kind picks the input: text, email, tel, url, textarea, country.
_LEAD = [
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("email", "Email", "email"),
    ("phone", "Phone", "tel"),
    ("company", "Company", "text"),
    ("title", "Job title", "text"),
    ("website", "Website", "url"),
    ("industry", "Industry", "text"),
    ("street", "Street", "text"),
    ("city", "City", "text"),
    ("postal_code", "Postal code", "text"),
    ("region", "Region", "text"),
    ("country", "Country", "country"),
    ("description", "Message", "textarea"),
]
_CONTACT = [
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("email", "Email", "email"),
    ("phone", "Phone", "tel"),
    ("title", "Job title", "text"),
    ("street", "Street", "text"),
    ("city", "City", "text"),
    ("postal_code", "Postal code", "text"),
    ("region", "Region", "text"),
    ("country", "Country", "country"),
    ("description", "Message", "textarea"),
]


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: str
    choices: tuple = ()

    @property
    def is_custom(self) -> bool:
        return self.key.startswith("custom.")


def catalogue(target: str) -> dict[str, FieldSpec]:
    """Field key → spec for a form whose target is "lead" or "contact"."""
    base = _LEAD if target == "lead" else _CONTACT
    out = {key: FieldSpec(key, label, kind) for key, label, kind in base}
    kinds = {"number": "number", "money": "number", "date": "date", "boolean": "checkbox"}
    for key, definition in definitions_for(target).items():
        kind = kinds.get(definition.field_type, "text")
        choices = tuple(definition.choices or ())
        if definition.field_type == "choice":
            kind = "choice"
        out[f"custom.{key}"] = FieldSpec(f"custom.{key}", definition.label, kind, choices)
    return out

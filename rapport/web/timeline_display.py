"""What a timeline event shows beyond its summary: the changed fields of an `updated`
event as "Label: old → new", with human labels and values (choice labels, country names,
dates in the user's format). Links to other records show as changed without their ids
(their names could belong to records the reader may not see)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db import models
from django.utils import formats
from django.utils.text import capfirst

from rapport.records.iso_codes import country_name
from rapport.timeline.models import EventKind
from rapport.web.dates import format_day, format_moment

MAX_VALUE = 80
EMPTY = "—"
# The subject of an event is its most specific record (a contact's event carries its account).
_SUBJECTS = (
    ("contact_id", "accounts.Contact"),
    ("opportunity_id", "sales.Opportunity"),
    ("lead_id", "leads.Lead"),
    ("account_id", "accounts.Account"),
)
_COUNTRY_FIELDS = {"country", "shipping_country"}


@dataclass(frozen=True)
class Change:
    label: str
    old: str = ""
    new: str = ""
    shows_values: bool = True


def _subject_model(event) -> type[models.Model] | None:
    for attname, label in _SUBJECTS:
        if getattr(event, attname, None):
            return apps.get_model(label)
    return None


def _field(model, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except Exception:
        return None


def _label(model, name: str) -> str:
    field = _field(model, name)
    if field is not None and getattr(field, "verbose_name", None):
        return capfirst(str(field.verbose_name))
    return capfirst(name.replace("_", " "))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _value(field, name: str, value) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return _shorten(", ".join(map(str, value)))
    if isinstance(field, models.DateTimeField):
        return format_moment(value) or str(value)
    if isinstance(field, models.DateField):
        return format_day(value) or str(value)
    if isinstance(field, models.DecimalField):
        try:
            return formats.number_format(Decimal(str(value)), decimal_pos=2, force_grouping=True)
        except (ArithmeticError, ValueError):
            return str(value)
    if name in _COUNTRY_FIELDS:
        return country_name(str(value))
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, dict):
        return _shorten(", ".join(f"{k}: {v}" for k, v in value.items()))
    if isinstance(value, str) and len(value) == 10 and value[4:5] == "-":
        try:
            return format_day(datetime.date.fromisoformat(value))
        except ValueError:
            pass
    return _shorten(str(value))


def event_changes(event) -> list[Change]:
    """The changes an `updated` event stores, one line per field, in a stable order."""
    if event.kind != EventKind.UPDATED:
        return []
    changes = (event.payload or {}).get("changes")
    if not isinstance(changes, dict):
        return []
    model = _subject_model(event)
    out = []
    for name in sorted(changes):
        diff = changes[name]
        if not isinstance(diff, dict):
            continue
        if name == "custom":
            out.extend(_custom_changes(diff))
            continue
        field = _field(model, name)
        label = _label(model, name)
        if isinstance(field, models.ForeignKey):
            out.append(Change(label, shows_values=False))
            continue
        out.append(
            Change(
                label, _value(field, name, diff.get("old")), _value(field, name, diff.get("new"))
            )
        )
    return out


def _custom_changes(diff: dict) -> list[Change]:
    old = diff.get("old") if isinstance(diff.get("old"), dict) else {}
    new = diff.get("new") if isinstance(diff.get("new"), dict) else {}
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            label = capfirst(key.replace("_", " "))
            out.append(
                Change(label, _value(None, key, old.get(key)), _value(None, key, new.get(key)))
            )
    return out


def event_summary(event) -> str:
    """The summary to show: an update names its fields by their labels ("Changed title,
    expected close date") instead of the stored column names."""
    changes = event_changes(event)
    if changes:
        return "Changed " + ", ".join(change.label.lower() for change in changes)
    return event.summary or event.get_kind_display()

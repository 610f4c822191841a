"""The compare page's view of a pair: every field with both values as a person reads them
(names instead of ids, choice labels instead of codes), which record's value is picked by
default, and the related rows a merge moves, with readable names."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist

from rapport.duplicates.forms import A, B
from rapport.duplicates.record_types import field_value, is_blank, model_for
from rapport.identity.models import User
from rapport.records.custom_fields import definitions_for
from rapport.records.visibility import visible

RELATION_LABELS = {
    "accounts.Contact.account": "Contacts",
    "accounts.Account.parent": "Child accounts",
    "activities.Activity.account": "Activities",
    "activities.Activity.contact": "Activities",
    "activities.Activity.lead": "Activities",
    "activities.Activity.attendee_contacts": "Meetings attended",
    "orders.Order.account": "Orders",
    "orders.Order.contact": "Orders",
    "sales.Opportunity.account": "Opportunities",
    "sales.Opportunity.primary_contact": "Opportunities (as primary contact)",
    "leads.Lead.converted_account": "Leads converted to it",
    "leads.Lead.converted_contact": "Leads converted to it",
    "timeline.TimelineEvent.account": "Timeline events",
    "timeline.TimelineEvent.contact": "Timeline events",
    "timeline.TimelineEvent.lead": "Timeline events",
    "records.RecordShare.object_id": "Shares",
}
_ACCOUNT_REFS = ("account_id", "parent_id")


@dataclass
class FieldRow:
    name: str
    label: str
    a: str
    b: str
    differs: bool
    default: str  # "a" or "b": whose value the form picks first


def default_survivor(object_type: str, a, b) -> str:
    """Record A (the older) survives, unless only B is a converted lead (a converted lead
    can only survive)."""
    if object_type == "lead" and b.status == "converted" and a.status != "converted":
        return B
    return A


def _label(object_type: str, name: str, custom_labels: dict[str, str]) -> str:
    if name.startswith("custom."):
        key = name.removeprefix("custom.")
        return custom_labels.get(key, key)
    try:
        field = model_for(object_type)._meta.get_field(name.removesuffix("_id"))
    except FieldDoesNotExist:
        return name.replace("_", " ").capitalize()
    label = str(field.verbose_name)
    return label[:1].upper() + label[1:]


def _lookups(object_type: str, records, user: User) -> dict[str, dict[int, str]]:
    """Names for the ids a pair refers to: owners, and the accounts the user may see."""
    owners = {r.owner_id for r in records if r.owner_id}
    out: dict[str, dict[int, str]] = {
        "owner_id": {
            u.pk: u.get_full_name() or u.username for u in User.objects.filter(pk__in=owners)
        }
    }
    account_ids = {
        getattr(r, name) for r in records for name in _ACCOUNT_REFS if getattr(r, name, None)
    }
    if account_ids:
        accounts = visible(model_for("account").all_objects.filter(pk__in=account_ids), user)
        names = dict(accounts.values_list("pk", "name"))
    else:
        names = {}
    for name in _ACCOUNT_REFS:
        out[name] = names
    return out


def _display(object_type: str, name: str, record, lookups) -> str:
    value = field_value(record, name)
    if is_blank(value):
        return ""
    if name in lookups:
        return lookups[name].get(value, f"#{value} (not visible to you)")
    if not name.startswith("custom."):
        try:
            field = model_for(object_type)._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if field is not None and field.choices:
            return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def field_rows(comparison: dict[str, Any], a, b, user: User) -> list[FieldRow]:
    """One row per field a merge chooses between, differing ones with a default pick: the
    survivor's value, or the other one when the survivor's is empty."""
    object_type = comparison["object_type"]
    custom_labels = {k: d.label for k, d in definitions_for(object_type).items()}
    lookups = _lookups(object_type, [a, b], user)
    survivor = default_survivor(object_type, a, b)
    # A converted lead no longer changes: it keeps all its values, blanks included.
    frozen = object_type == "lead" and (a, b)[survivor == B].status == "converted"
    rows = []
    for item in comparison["fields"]:
        name = item["name"]
        blank = {A: is_blank(item["a"]), B: is_blank(item["b"])}
        other = B if survivor == A else A
        default = other if blank[survivor] and not blank[other] and not frozen else survivor
        rows.append(
            FieldRow(
                name=name,
                label=_label(object_type, name, custom_labels),
                a=_display(object_type, name, a, lookups),
                b=_display(object_type, name, b, lookups),
                differs=item["differs"],
                default=default,
            )
        )
    return rows


def related_rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows pointing at either record, by relation (relations with none left out)."""
    a, b = comparison["related"]["a"], comparison["related"]["b"]
    merged: dict[str, dict[str, Any]] = {}
    for path in a:
        label = RELATION_LABELS.get(path, path.split(".")[1])
        row = merged.setdefault(label, {"label": label, "a": 0, "b": 0})
        row["a"] += a[path]
        row["b"] += b.get(path, 0)
    return [row for row in merged.values() if row["a"] or row["b"]]
